"""The web UI in a real browser: headless Chromium (Debian's package) driven by Playwright.

One fixture runs ``ape run demo --rounds 2`` in a subprocess (a real consortium with two proven
rounds), restarts its anvil from the persisted state and serves the built UI with the gateway. The
tests compare what the pages show with values read from the chain directly (web3, plain RPC), flag a
tampered and a missing artifact, and show the chain-unreachable state.
"""

from __future__ import annotations

import json
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

from zkfl_dapp.chain import LocalAnvil
from zkfl_dapp.config import Settings
from zkfl_dapp.gateway import DEFAULT_UI_DIR, Gateway, config_from_deployment, ui_config
from zkfl_dapp.storage import Cid, EmbeddedStore

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
ROUNDS = 2
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
    ]
]
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
    {
        "type": "function",
        "name": "circuitCid",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"type": "string"}],
    },
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
    cmd = [ape, "run", "demo", "--rounds", str(ROUNDS), "--workdir", str(workdir), "--anvil-port", str(_free_port())]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=900)
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
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


def test_browser_verification_reports_a_real_result(env: Env, page) -> None:
    _open(page, env, "round/1", "[data-testid=verify-button]")
    page.click("[data-testid=verify-button]")
    result = page.locator("[data-testid=verify-result] [data-state]:not([data-state=running])")
    result.wait_for(timeout=180_000)
    state = result.get_attribute("data-state")
    text = result.inner_text()
    print(f"in-browser verification: {state}: {text}")
    _shot(page, "round-1-verify")
    assert state in ("verified", "incompatible"), text
    if state == "incompatible":
        assert "cannot read proofs from ezkl 23.0.5" in text
        assert "Engine error" in text


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
