"""The web UI in a real browser: headless Chromium (Debian's package) driven by Playwright.

One fixture runs ``ape run demo --rounds 2`` and one ``ape run round`` under the Median rule in
subprocesses (a real consortium with three proven rounds), restarts its anvil from the persisted state
and serves the built UI with the gateway. The tests compare what the pages show with values read from
the chain directly (web3, plain RPC), verify each round's proof in the browser (the deployed verifier's
code in an in-page EVM) next to a tampered control, flag a tampered and a missing artifact, and show
the chain-unreachable state.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkfl_dapp.apps.gateway import DEFAULT_UI_DIR, Gateway, config_from_deployment, ui_config
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.config import Settings
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS, felt_from_hex, felt_hex
from zkfl_dapp.storage.cid import Cid
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "ui-screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROUNDS = 3  # the demo's FedAvg rounds, then one Median round
MEDIAN_ROUND = 3
HOSPITALS = 5

REGISTRY_ABI = [
    {
        "type": "function",
        "name": "aggregator",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"type": "address"}],
    },
    {
        "type": "function",
        "name": "enclaveKey",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"type": "bytes32"}, {"type": "string"}, {"type": "bytes32"}],
    },
]
_ROUND_INFO = [
    {"name": n, "type": t}
    for n, t in [
        ("phase", "uint8"),
        ("deadline", "uint64"),
        ("quorum", "uint32"),
        ("submissionCount", "uint32"),
        ("prevModelCommitment", "uint256"),
        ("prevModelCid", "string"),
        ("newModelCommitment", "uint256"),
        ("newModelCid", "string"),
        ("proofHash", "bytes32"),
        ("proofCid", "string"),
        ("rule", "uint8"),
        ("normBoundSq", "uint256"),
        ("members", "uint32"),
        ("unavailableReports", "uint32"),
    ]
]
RULES = ("FedAvg", "Median")  # IRoundManager.AggregationRule
RULE_VERIFIER = ("fedAvgVerifier", "medianVerifier")  # RoundManager's getter of each rule's verifier
_SUBMISSION = [
    {"name": n, "type": t}
    for n, t in [("hospital", "address"), ("commitment", "uint256"), ("sampleCount", "uint64"), ("cid", "string")]
]
ROUND_MANAGER_ABI = [
    {
        "type": "function",
        "name": "getRound",
        "stateMutability": "view",
        "inputs": [{"name": "roundId", "type": "uint256"}],
        "outputs": [{"type": "tuple", "components": _ROUND_INFO}],
    },
    {
        "type": "function",
        "name": "getSubmission",
        "stateMutability": "view",
        "inputs": [{"name": "roundId", "type": "uint256"}, {"name": "slot", "type": "uint256"}],
        "outputs": [{"type": "tuple", "components": _SUBMISSION}],
    },
    *(
        {"type": "function", "name": name, "stateMutability": "view", "inputs": [], "outputs": [{"type": t}]}
        for name, t in [
            ("circuitCid", "string"),
            ("fedAvgVerifier", "address"),
            ("medianVerifier", "address"),
            ("scaleBits", "uint256"),
        ]
    ),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _felt(value: int) -> str:
    return "0x" + format(value, "064x")


class Env:
    """A populated consortium, its chain on a fresh anvil, and the UI gateway."""

    def __init__(self, workdir: Path, anvil: LocalAnvil, gateway: Gateway) -> None:
        from web3 import Web3

        self.workdir = workdir
        self.anvil = anvil
        self.gateway = gateway
        self.store = EmbeddedStore(workdir / "ipfs")
        self.w3 = Web3(Web3.HTTPProvider(anvil.url))
        contracts = json.loads((workdir / "deployment.json").read_text())["contracts"]
        self.registry = self.w3.eth.contract(address=contracts["ConsortiumRegistry"], abi=REGISTRY_ABI)
        self.rm = self.w3.eth.contract(address=contracts["RoundManager"], abi=ROUND_MANAGER_ABI)

    def round(self, round_id: int) -> tuple:
        return self.rm.functions.getRound(round_id).call()

    def report(self, round_id: int) -> dict:
        return json.loads((self.workdir / "reports" / f"round-{round_id}.json").read_text())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    if not (DEFAULT_UI_DIR / "index.html").is_file():
        subprocess.run(["node", str(ROOT / "frontend" / "build.mjs")], check=True, cwd=ROOT)
    workdir = tmp_path_factory.mktemp("ui") / "consortium"
    ape = str(Path(sys.executable).with_name("ape"))
    demo_rounds = str(ROUNDS - 1)
    cmd = [ape, "run", "demo", "--rounds", demo_rounds, "--workdir", str(workdir), "--anvil-port", str(_free_port())]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=900)
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    # One more round under the Median rule, so the pages (and the in-browser verifier) see both rules.
    cmd = [ape, "run", "round", "--workdir", str(workdir), "--anvil-port", str(_free_port())]
    median_env = {**os.environ, "ZKFL_RULE": "median"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=median_env, timeout=900)
    assert proc.returncode == 0, f"median round failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    # One real proven prediction on the latest model, so the Predictions page has a receipt to show.
    patient = str(ROOT / "examples" / "patient.json")
    cmd = [ape, "run", "predict", "--patient", patient, "--workdir", str(workdir), "--anvil-port", str(_free_port())]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=900)
    assert proc.returncode == 0, f"predict failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    anvil = LocalAnvil(workdir / "chain" / "anvil-state.json", port=_free_port(), mnemonic=Settings().mnemonic)
    anvil.start()
    try:
        config = config_from_deployment(workdir / "deployment.json", anvil.url)
        with Gateway(EmbeddedStore(workdir / "ipfs"), config, port=0) as gateway:
            yield Env(workdir, anvil, gateway)
    finally:
        anvil.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # fresh cache per test
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def _open(page, env: Env, route: str, ready: str, base: str | None = None) -> None:
    page.goto(f"{base or env.gateway.url}/#/{route}")
    page.wait_for_selector(ready)


def _settle_integrity(page) -> None:
    page.wait_for_function("!document.querySelector('.integrity.pending')")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_consortium_page_shows_members_aggregator_and_enclave_key(env: Env, page) -> None:
    _open(page, env, "consortium", "[data-testid=enclave-key-hash]")
    _settle_integrity(page)
    hospitals = page.locator("[data-testid=member][data-role=Hospital]")
    assert hospitals.count() == HOSPITALS
    names = sorted(r.locator("td").first.inner_text() for r in hospitals.all())
    assert names == [f"hospital-{i}" for i in range(HOSPITALS)]
    aggregator = env.registry.functions.aggregator().call()
    assert aggregator in page.locator("[data-testid=aggregator]").inner_text()
    assert page.locator("[data-testid=member][data-role=Aggregator]").count() == 1
    key_hash, key_cid, measurement = env.registry.functions.enclaveKey().call()
    shown_hash = page.locator("[data-testid=enclave-key-hash]").inner_text().strip()
    assert shown_hash == "0x" + key_hash.hex().removeprefix("0x")
    assert measurement == bytes(32)
    assert "none" in page.locator("[data-testid=attestation]").inner_text()
    assert page.locator(f"[data-testid=artifact-enclave-key][data-cid='{key_cid}'] .integrity.ok").count() == 1
    assert page.locator(".integrity.bad").count() == 0
    _shot(page, "consortium")


def test_rounds_timeline_shows_finalized_rounds(env: Env, page) -> None:
    _open(page, env, "rounds", "[data-testid=round-row]")
    rows = page.locator("[data-testid=round-row]")
    assert rows.count() == ROUNDS
    for r in range(1, ROUNDS + 1):
        row = page.locator(f"[data-testid=round-row][data-round='{r}']")
        assert row.get_attribute("data-phase") == "Finalized"
        assert env.round(r)[7] in row.inner_text()  # the new model's CID
    _shot(page, "rounds")


@pytest.mark.parametrize("round_id", range(1, ROUNDS + 1))
def test_round_detail_matches_chain(env: Env, page, round_id: int) -> None:
    _open(page, env, f"round/{round_id}", "[data-testid=finalize-gas]")
    _settle_integrity(page)
    for slot in range(HOSPITALS):
        hospital, commitment, samples, cid = env.rm.functions.getSubmission(round_id, slot).call()
        row = page.locator(f"[data-testid=submission][data-slot='{slot}']")
        assert row.locator("[data-testid=commitment]").inner_text().strip() == _felt(commitment)
        assert row.locator("[data-testid=sample-count]").inner_text().strip() == str(samples)
        assert row.locator(f"[data-testid=artifact-ciphertext][data-cid='{cid}'] .integrity.ok").count() == 1
        assert hospital in row.inner_text()
    info = env.round(round_id)
    assert info[0] == 2  # Finalized
    assert info[10] == (1 if round_id == MEDIAN_ROUND else 0)
    assert page.locator("[data-testid=round-rule]").get_attribute("data-rule") == RULES[info[10]]
    bound = page.locator("[data-testid=norm-bound]")
    assert bound.get_attribute("data-norm-bound-sq") == str(info[11])
    scale = 2 ** env.rm.functions.scaleBits().call()
    assert (f"{math.sqrt(info[11] / scale):.4f}" if info[11] else "none") in bound.inner_text()
    assert page.locator("[data-testid=model-commitment]").inner_text().strip() == _felt(info[6])
    assert page.locator(f"[data-testid=model-cid] [data-cid='{info[7]}'] .integrity.ok").count() == 1
    assert page.locator(f"[data-testid=proof-cid] [data-cid='{info[9]}'] .integrity.ok").count() == 1
    assert "matches" in page.locator("[data-testid=proof-hash-check]").inner_text()
    tx = page.locator("[data-testid=finalize-tx] code").inner_text().strip()
    receipt = env.w3.eth.get_transaction_receipt(tx)
    assert receipt.status == 1 and receipt.to == env.rm.address
    assert page.locator("[data-testid=finalize-gas]").inner_text().strip() == f"{receipt.gasUsed:,}"
    assert tx == env.report(round_id)["finalize_tx"]
    assert "verified on-chain" in page.locator("[data-testid=onchain-verification]").inner_text()
    report = env.report(round_id)
    assert f"{report['accuracy'] * 100:.2f}%" in page.locator("[data-testid=accuracy]").inner_text()
    assert page.locator(".integrity.bad").count() == 0
    _shot(page, f"round-{round_id}")


def _verify_in_browser(page, env: Env, round_id: int):
    _open(page, env, f"round/{round_id}", "[data-testid=verify-button]")
    page.click("[data-testid=verify-button]")
    result = page.locator("[data-testid=verify-result] [data-state]:not([data-state=running])")
    result.wait_for(timeout=180_000)
    return result


@pytest.mark.parametrize("round_id", range(1, ROUNDS + 1))
def test_browser_verification_reports_a_real_result(env: Env, page, round_id: int) -> None:
    result = _verify_in_browser(page, env, round_id)
    state, text = result.get_attribute("data-state"), result.inner_text()
    print(f"round {round_id} in-browser verification: {state}: {text}")
    _shot(page, f"round-{round_id}-verify")
    assert state == "verified", text
    assert result.locator("[data-testid=verify-genuine]").get_attribute("data-outcome") == "accepted"
    assert "verified in browser" in text and "in-browser EVM executing the deployed ezkl verifier" in text
    # The same code rejects the proof with one byte flipped: a verifier that says yes to anything would show.
    tamper = result.locator("[data-testid=verify-tamper]")
    assert tamper.get_attribute("data-outcome") == "rejected"
    assert "tamper control: rejected" in tamper.inner_text()
    # The code that ran is the code deployed at the address of the round's rule's verifier.
    rule = env.round(round_id)[10]
    assert RULES[rule] in result.locator("[data-testid=verifier-address]").locator("xpath=..").inner_text()
    address = getattr(env.rm.functions, RULE_VERIFIER[rule])().call()
    assert result.locator("[data-testid=verifier-address]").inner_text() == address
    code_hash = "0x" + bytes(env.w3.keccak(env.w3.eth.get_code(address))).hex()
    assert result.locator("[data-testid=verifier-code-hash]").inner_text() == code_hash
    gas = int(result.locator("[data-testid=verify-gas]").inner_text().replace(",", ""))
    assert 100_000 < gas < 30_000_000
    assert result.locator("[data-testid=verify-bindings] .integrity.bad").count() == 0


def test_browser_verification_flags_an_altered_stored_proof(env: Env, page) -> None:
    proof_cid = env.round(ROUNDS)[9]
    block = env.workdir / "ipfs" / "blocks" / Cid(proof_cid).canonical
    original = block.read_bytes()
    try:
        proof = json.loads(original)
        hex_proof = bytearray.fromhex(proof["hex_proof"].removeprefix("0x"))
        hex_proof[len(hex_proof) // 2] ^= 0x01
        proof["hex_proof"] = "0x" + hex_proof.hex()
        block.write_bytes(json.dumps(proof).encode())
        result = _verify_in_browser(page, env, ROUNDS)
        text = result.inner_text()
        _shot(page, "round-verify-altered-proof")
        assert result.get_attribute("data-state") == "integrity", text
        assert "flagged" in text and "does not match CID" in text
        assert result.locator("[data-testid=verify-genuine]").count() == 0  # nothing claims a pass
    finally:
        block.write_bytes(original)


def _altered_proof(env: Env, round_id: int, what: str) -> bytes:
    proof = json.loads((env.workdir / "ipfs" / "blocks" / Cid(env.round(round_id)[9]).canonical).read_bytes())
    if what == "instance":  # the last instance (not one the page binds to the chain itself), plus one
        proof["instances"][0][-1] = felt_hex((felt_from_hex(proof["instances"][0][-1]) + 1) % FIELD_MODULUS)
    else:
        hex_proof = bytearray.fromhex(proof["hex_proof"].removeprefix("0x"))
        hex_proof[100] ^= 0x01
        proof["hex_proof"] = "0x" + hex_proof.hex()
    return json.dumps(proof).encode()


@pytest.mark.parametrize(("what", "state"), [("instance", "rejected"), ("proof", "mismatch")])
def test_browser_verification_does_not_trust_the_gateway(env: Env, page, what: str, state: str) -> None:
    """A gateway that skips its CID check and serves an altered proof file cannot get a pass: an altered
    instance is rejected by the verifier code itself, altered proof bytes do not hash to the on-chain proofHash."""
    altered = _altered_proof(env, ROUNDS, what)
    page.route(f"**/ipfs/{env.round(ROUNDS)[9]}*", lambda route: route.fulfill(status=200, body=altered))
    result = _verify_in_browser(page, env, ROUNDS)
    text = result.inner_text()
    print(f"altered {what}: {result.get_attribute('data-state')}: {text}")
    _shot(page, f"round-verify-altered-{what}")
    assert result.get_attribute("data-state") == state, text
    if what == "instance":
        assert result.locator("[data-testid=verify-genuine]").get_attribute("data-outcome") == "rejected"
        assert "rejected" in text and "tamper control: rejected" in text
    else:
        assert "not the proof the chain accepted" in text and "proofHash" in text


def test_lineage_links_models(env: Env, page) -> None:
    _open(page, env, "lineage", "[data-testid=lineage-node]")
    _settle_integrity(page)
    nodes = page.locator("[data-testid=lineage-node]")
    assert nodes.count() == ROUNDS + 1
    cids = [n.get_attribute("data-cid") for n in nodes.all()]
    assert cids[0] == env.round(1)[5]  # genesis = round 1's previous model
    assert cids[1:] == [env.round(r)[7] for r in range(1, ROUNDS + 1)]
    assert "current" in nodes.nth(ROUNDS).inner_text()
    _shot(page, "lineage")


def test_accuracy_plot_shows_published_values(env: Env, page) -> None:
    _open(page, env, "accuracy", "[data-testid=accuracy-plot]")
    assert page.locator("[data-testid=accuracy-plot] circle").count() == ROUNDS
    for r in range(1, ROUNDS + 1):
        shown = page.locator(f"[data-testid=accuracy-row][data-round='{r}'] [data-testid=accuracy]").inner_text()
        assert shown == f"{env.report(r)['accuracy'] * 100:.2f}%"
    _shot(page, "accuracy")


def test_tampered_and_missing_artifacts_are_flagged(env: Env, page) -> None:
    model_cid = env.round(ROUNDS)[7]
    block = env.workdir / "ipfs" / "blocks" / Cid(model_cid).canonical
    cipher_cid = env.rm.functions.getSubmission(ROUNDS, 0).call()[3]
    cipher_block = env.workdir / "ipfs" / "blocks" / Cid(cipher_cid).canonical
    original, cipher_original = block.read_bytes(), cipher_block.read_bytes()
    try:
        tampered = bytearray(original)
        tampered[len(tampered) // 2] ^= 0x01
        block.write_bytes(bytes(tampered))
        cipher_block.unlink()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{env.gateway.url}/ipfs/{model_cid}")
        assert err.value.code == 502
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{env.gateway.url}/ipfs/{cipher_cid}")
        assert err.value.code == 404
        _open(page, env, f"round/{ROUNDS}", "[data-testid=finalize-gas]")
        _settle_integrity(page)
        model = page.locator(f"[data-testid=model-cid] [data-cid='{model_cid}']")
        assert model.get_attribute("data-state") == "integrity"
        assert "INTEGRITY ERROR" in model.inner_text()
        cipher = page.locator(f"[data-testid=submission][data-slot='0'] [data-cid='{cipher_cid}']")
        assert cipher.get_attribute("data-state") == "missing"
        assert "CID missing" in cipher.inner_text()
        assert page.locator("[data-testid=proof-cid] .integrity.ok").count() == 1  # the rest stays intact
        _shot(page, "round-tampered")
    finally:
        block.write_bytes(original)
        cipher_block.write_bytes(cipher_original)


PREDICTION_EVENT_ABI = [
    {
        "type": "event",
        "name": "PredictionRecorded",
        "anonymous": False,
        "inputs": [
            {"name": "roundId", "type": "uint256", "indexed": True},
            {"name": "requester", "type": "address", "indexed": True},
            {"name": "risk", "type": "uint256", "indexed": False},
            {"name": "proofHash", "type": "bytes32", "indexed": False},
        ],
    }
]


def test_predictions_page_lists_the_recorded_receipt(env: Env, page) -> None:
    address = json.loads((env.workdir / "prediction-registry.json").read_text())["contracts"]["PredictionRegistry"]
    registry = env.w3.eth.contract(address=address, abi=PREDICTION_EVENT_ABI)
    (event,) = registry.events.PredictionRecorded.get_logs(from_block=0)
    _open(page, env, "predictions", "[data-testid=prediction]")
    (row,) = page.locator("[data-testid=prediction]").all()
    assert row.get_attribute("data-round") == str(event.args.roundId) == str(ROUNDS)
    assert row.get_attribute("data-risk") == str(event.args.risk)
    assert row.locator("[data-testid=probability]").inner_text() == f"{event.args.risk / 8192:.4f}"
    assert row.locator("[data-testid=proof-hash]").inner_text() == "0x" + bytes(event.args.proofHash).hex()
    _shot(page, "predictions")


def test_chain_unreachable_is_reported(env: Env, page) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    config = ui_config(dead, 31337, env.gateway.config["contracts"])
    with Gateway(env.store, config, port=0) as gateway:
        _open(page, env, "consortium", "[data-testid=error]", base=gateway.url)
        error = page.locator("[data-testid=error]")
        assert error.get_attribute("data-kind") == "chain-unreachable"
        assert "Chain unreachable" in error.inner_text() and dead in error.inner_text()
        _shot(page, "chain-unreachable")
