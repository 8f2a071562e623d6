"""The web UI in a real browser: headless Chromium (Debian's package) driven by Playwright.

One fixture runs ``ape run demo --rounds 2 --dropout 2:3`` (hospital-3 sits round 2 out, which then finalizes
on quorum after the deadline) and ``ape run predict`` in subprocesses (a real consortium with
two FedAvg rounds over KZG commitments and one proven prediction), restarts its anvil from the persisted state
and serves the built UI with the gateway. The tests compare what the pages show with values read from the
chain directly (web3, plain RPC), check in the browser that each round's model file opens its on-chain
commitment and that the commitment follows from the hospitals' commitments, flag a tampered model file, a
gateway that lies about the contract's weights, a tampered and a missing artifact, and show the
chain-unreachable state, and that absent hospitals, quorum finalizations, enclave exclusions and the pages' terms are
shown and explained. (This deployment's rounds are FedAvg, without a proof: the in-browser median proof
verification is clicked in test_ui_verify.py, on an honest and on a tampered median proof.)
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import keccak

from tests.ui.harness import ROOT, ape_run, ensure_ui_built, free_port, served, shot
from zkfl_dapp.apps.gateway import Gateway, ui_config
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.storage.cid import Cid
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.ui

ROUNDS = 2  # the demo's FedAvg rounds
HOSPITALS = 5
ABSENT_ROUND, ABSENT_HOSPITAL = ROUNDS, 3  # the demo's --dropout: hospital-3 does not submit in the last round
QUORUM = 3  # Settings().quorum
LOGIT_SCALE_BITS = 26  # PredictionRegistry.LOGIT_SCALE_BITS

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
        "name": "predictionRegistry",
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
    {
        "type": "function",
        "name": "enclaveEvidence",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"type": "uint8"}, {"type": "string"}, {"type": "uint64"}],
    },
    {
        "type": "event",
        "name": "MemberAdmitted",
        "anonymous": False,
        "inputs": [
            {"name": "account", "type": "address", "indexed": True},
            {"name": "role", "type": "uint8", "indexed": True},
            {"name": "name", "type": "string", "indexed": False},
        ],
    },
]
_ROUND_INFO = [
    {"name": n, "type": t}
    for n, t in [
        ("phase", "uint8"),
        ("rule", "uint8"),
        ("deadline", "uint64"),
        ("quorum", "uint32"),
        ("submissionCount", "uint32"),
        ("members", "uint16"),
        ("unavailableReports", "uint16"),
        ("prevModelRound", "uint32"),
        ("finalizedBlock", "uint48"),
        ("normBoundSq", "uint256"),
        ("prevModelHash", "bytes32"),
        ("newModelHash", "bytes32"),
        ("proofHash", "bytes32"),
    ]
]
RULES = ("FedAvg", "Median")  # IRoundManager.AggregationRule
_SUBMISSION = [
    {"name": n, "type": t}
    for n, t in [("hospital", "address"), ("sampleCount", "uint64"), ("commitment", "uint256[2][]"), ("cid", "string")]
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
        "name": "modelOf",
        "stateMutability": "view",
        "inputs": [{"name": "roundId", "type": "uint256"}],
        "outputs": [{"type": "bytes32"}],
    },
    *(
        {"type": "function", "name": name, "stateMutability": "view", "inputs": [], "outputs": [{"type": t}]}
        for name, t in [("circuitCid", "string"), ("genesisModelCid", "string"), ("scaleBits", "uint256")]
    ),
    {
        "type": "event",
        "name": "RoundFinalized",
        "anonymous": False,
        "inputs": [
            {"name": "roundId", "type": "uint256", "indexed": True},
            {"name": "newModelCommitment", "type": "uint256[2][]", "indexed": False},
            {"name": "newModelCid", "type": "string", "indexed": False},
            {"name": "proofHash", "type": "bytes32", "indexed": False},
            {"name": "proofCid", "type": "string", "indexed": False},
            {"name": "includedCount", "type": "uint256", "indexed": False},
            {"name": "totalSamples", "type": "uint256", "indexed": False},
        ],
    },
]
#: RoundManager.expectedWeights(uint256,uint256)
EXPECTED_WEIGHTS_SELECTOR = "0x1ba32cb2"


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

    def finalized(self, round_id: int):
        """Round ``round_id``'s RoundFinalized event args (the model's point and CID)."""
        (event,) = self.rm.events.RoundFinalized.get_logs(from_block=0, argument_filters={"roundId": round_id})
        return event.args

    def member(self, name: str) -> str:
        """The address the registry admitted under ``name``."""
        (event,) = [e for e in self.registry.events.MemberAdmitted.get_logs(from_block=0) if e.args.name == name]
        return str(event.args.account)

    def report(self, round_id: int) -> dict:
        return json.loads((self.workdir / "reports" / f"round-{round_id}.json").read_text())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    ensure_ui_built()
    workdir = tmp_path_factory.mktemp("ui") / "consortium"
    ape_run("demo", "--rounds", str(ROUNDS), "--dropout", f"{ABSENT_ROUND}:{ABSENT_HOSPITAL}", workdir=workdir)
    # One real proven prediction on the latest model, so the Predictions page has a receipt to show.
    ape_run("predict", "--patient", str(ROOT / "examples" / "patient.json"), workdir=workdir)
    with served(workdir) as (anvil, gateway):
        yield Env(workdir, anvil, gateway)


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
    # a development enclave: red, never green, with its kind, measurement, allowlist status and evidence file
    attestation = page.locator("[data-testid=attestation]")
    assert attestation.get_attribute("data-kind") == "Development"
    assert attestation.locator(".badge.bad").inner_text().startswith("development enclave: not attested")
    assert page.locator("[data-testid=attestation] .badge.ok, [data-testid=allowlist] .badge.ok").count() == 0
    assert page.locator("[data-testid=evidence-kind]").inner_text().strip() == "Development"
    assert page.locator("[data-testid=measurement]").inner_text().strip() == "0x" + "00" * 32
    _kind, evidence_cid, _registered_at = env.registry.functions.enclaveEvidence().call()
    evidence = page.locator(f"[data-testid=artifact-enclave-evidence][data-cid='{evidence_cid}'] .integrity.ok")
    assert evidence.count() == 1
    assert page.locator(f"[data-testid=artifact-enclave-key][data-cid='{key_cid}'] .integrity.ok").count() == 1
    # The published basis is the one the contract pins.
    assert page.locator("[data-testid=basis-digest].integrity.ok").count() == 1
    assert page.locator("[data-testid=zero-commitment].integrity.ok").count() == 1
    assert page.locator("[data-testid=artifact-lagrange] .integrity.ok").count() == 1
    assert page.locator(".integrity.bad").count() == 0
    shot(page, "consortium")


def test_rounds_timeline_shows_finalized_rounds(env: Env, page) -> None:
    _open(page, env, "rounds", "[data-testid=round-row]")
    rows = page.locator("[data-testid=round-row]")
    assert rows.count() == ROUNDS
    for r in range(1, ROUNDS + 1):
        row = page.locator(f"[data-testid=round-row][data-round='{r}']")
        assert row.get_attribute("data-phase") == "Finalized"
        assert env.finalized(r).newModelCid in row.inner_text()
    shot(page, "rounds")


@pytest.mark.parametrize("round_id", range(1, ROUNDS + 1))
def test_round_detail_matches_chain(env: Env, page, round_id: int) -> None:
    _open(page, env, f"round/{round_id}", "[data-testid=finalize-gas]")
    _settle_integrity(page)
    info = env.round(round_id)
    assert info[4] == (HOSPITALS - 1 if round_id == ABSENT_ROUND else HOSPITALS)  # submissionCount
    assert page.locator("[data-testid=submission]").count() == info[4]
    for slot in range(info[4]):
        hospital, samples, ((x, y),), cid = env.rm.functions.getSubmission(round_id, slot).call()  # one point
        row = page.locator(f"[data-testid=submission][data-slot='{slot}']")
        commitment = row.locator("[data-testid=commitment]")
        assert (commitment.get_attribute("data-x"), commitment.get_attribute("data-y")) == (_felt(x), _felt(y))
        assert commitment.get_attribute("data-points") == "1" and row.locator("[data-testid=chunk-points]").count() == 0
        assert _felt(x) in commitment.inner_text() and _felt(y) in commitment.inner_text()
        assert row.locator("[data-testid=sample-count]").inner_text().strip() == str(samples)
        assert row.locator(f"[data-testid=artifact-ciphertext][data-cid='{cid}'] .integrity.ok").count() == 1
        assert hospital in row.inner_text()
    assert info[0] == 2  # Finalized
    assert page.locator("[data-testid=round-rule]").get_attribute("data-rule") == RULES[info[1]] == "FedAvg"
    bound = page.locator("[data-testid=norm-bound]")
    assert bound.get_attribute("data-norm-bound-sq") == str(info[9])
    scale = 2 ** (2 * env.rm.functions.scaleBits().call())  # the bound is at the aggregate's scale
    assert (f"{math.sqrt(info[9] / scale):.4f}" if info[9] else "none") in bound.inner_text()
    assert page.locator("[data-testid=prev-model]").get_attribute("data-round") == str(info[7]) == str(round_id - 1)
    event = env.finalized(round_id)
    shown = page.locator("[data-testid=model-commitment]")
    ((x, y),) = event.newModelCommitment
    assert (shown.get_attribute("data-x"), shown.get_attribute("data-y")) == (_felt(x), _felt(y))
    assert shown.get_attribute("data-points") == "1"
    # which proofs were checked where: on-chain, by the auditor, in this browser
    sites = {r.locator("td").first.inner_text(): r.inner_text() for r in page.locator("[data-testid=proof-site]").all()}
    if info[9]:
        assert "submitUpdate" in sites["norm proofs"] and "re-verified by the auditor" in sites["norm proofs"]
    assert "derived on-chain" in sites["new model commitment (FedAvg, no proof)"]
    assert "re-derived here" in sites["new model commitment (FedAvg, no proof)"]
    assert "opened here" in sites["model file against its commitment"]
    assert "opened by the auditor" in sites["model file against its commitment"]
    assert page.locator("[data-testid=model-hash]").inner_text().strip() == "0x" + info[11].hex().removeprefix("0x")
    assert page.locator(f"[data-testid=model-cid] [data-cid='{event.newModelCid}'] .integrity.ok").count() == 1
    tx = page.locator("[data-testid=finalize-tx] code").inner_text().strip()
    receipt = env.w3.eth.get_transaction_receipt(tx)
    assert receipt.status == 1 and receipt.to == env.rm.address
    assert page.locator("[data-testid=finalize-gas]").inner_text().strip() == f"{receipt.gasUsed:,}"
    assert tx == env.report(round_id)["finalize_tx"]
    assert "derived on-chain" in page.locator("[data-testid=onchain-verification]").inner_text()
    report = env.report(round_id)
    accuracy = page.locator("[data-testid=accuracy]")
    assert f"{report['accuracy'] * 100:.2f}%" in accuracy.inner_text()
    assert "reported, not proven" in accuracy.locator("[data-testid=reported]").inner_text()
    assert page.locator(".integrity.bad").count() == 0
    shot(page, f"round-{round_id}")


def _quorum_wording(env: Env, round_id: int) -> str:
    info = env.round(round_id)
    return f"finalized on quorum after the deadline: {info[4]} of {info[5]} members submitted, quorum {info[3]}"


@pytest.mark.parametrize("round_id", range(1, ROUNDS + 1))
def test_round_page_names_absent_hospitals_and_quorum_finalization(env: Env, page, round_id: int) -> None:
    _open(page, env, f"round/{round_id}", "[data-testid=finalize-gas]")
    info = env.round(round_id)
    attendance = page.locator("[data-testid=attendance]")
    assert attendance.get_attribute("data-members") == str(info[5]) == str(HOSPITALS)
    absent = page.locator("[data-testid=attendance] [data-testid=absent-hospital]")
    if round_id != ABSENT_ROUND:
        assert f"{HOSPITALS} hospitals; {HOSPITALS} submitted" in attendance.inner_text()
        assert absent.count() == 0
        assert page.locator("[data-testid=quorum-finalization]").count() == 0
        return
    name = f"hospital-{ABSENT_HOSPITAL}"
    address = env.member(name)
    submitters = {env.rm.functions.getSubmission(round_id, s).call()[0] for s in range(info[4])}
    assert address not in submitters and info[4] == HOSPITALS - 1 and info[3] == QUORUM
    assert f"{HOSPITALS} hospitals; {HOSPITALS - 1} submitted" in attendance.inner_text()
    assert absent.count() == 1 and absent.get_attribute("data-address") == address
    assert f"did not submit: absent {name} {address}" in attendance.inner_text()
    wording = (
        f"finalized on quorum after the deadline: {HOSPITALS - 1} of {HOSPITALS} members submitted, quorum {QUORUM}"
    )
    assert wording == _quorum_wording(env, round_id)
    assert page.locator("[data-testid=quorum-finalization]").inner_text().strip() == wording
    assert page.locator("[data-testid=quorum-summary]").inner_text().strip() == wording
    shot(page, f"round-{round_id}-absent")


def test_rounds_timeline_names_absent_hospitals_and_quorum_finalization(env: Env, page) -> None:
    _open(page, env, "rounds", "[data-testid=round-row]")
    name = f"hospital-{ABSENT_HOSPITAL}"
    for r in range(1, ROUNDS + 1):
        row = page.locator(f"[data-testid=round-row][data-round='{r}']")
        cell = row.locator("[data-testid=round-attendance]")
        absent = row.locator("[data-testid=absent-hospital]")
        if r == ABSENT_ROUND:
            assert f"{HOSPITALS - 1} of {HOSPITALS} members" in cell.inner_text()
            assert absent.count() == 1 and absent.get_attribute("data-address") == env.member(name)
            assert name in cell.inner_text()
            assert row.locator("[data-testid=quorum-finalization]").inner_text().strip() == _quorum_wording(env, r)
        else:
            assert f"{HOSPITALS} of {HOSPITALS} members" in cell.inner_text()
            assert absent.count() == 0 and row.locator("[data-testid=quorum-finalization]").count() == 0


UPDATE_EXCLUDED_TOPIC = "0x" + keccak(text="UpdateExcluded(uint256,address,uint256)").hex()


def test_excluded_slot_is_labelled_as_the_enclaves_statement(env: Env, page) -> None:
    """The demo's enclave excludes nobody, so an RPC endpoint adds one UpdateExcluded log (slot 0 of the last round)
    to the RoundManager's logs: the round page and the timeline label it as excluded by the enclave, not proven."""
    hospital = env.rm.functions.getSubmission(ROUNDS, 0).call()[0]
    fin = env.rm.events.RoundFinalized.get_logs(from_block=0, argument_filters={"roundId": ROUNDS})[0]
    log = {
        "address": env.rm.address.lower(),
        "topics": [UPDATE_EXCLUDED_TOPIC, _felt(ROUNDS), _felt(int(hospital, 16))],
        "data": _felt(0),
        "blockNumber": hex(fin.blockNumber),
        "blockHash": "0x" + bytes(fin.blockHash).hex().removeprefix("0x"),
        "transactionHash": "0x" + bytes(fin.transactionHash).hex().removeprefix("0x"),
        "transactionIndex": hex(fin.transactionIndex),
        "logIndex": hex(fin.logIndex + 100),
        "removed": False,
    }

    def add_exclusion(route) -> None:
        request = json.loads(route.request.post_data or "{}")
        params = request.get("params") if isinstance(request, dict) else None
        if not (
            request.get("method") == "eth_getLogs"
            and str(params[0].get("address", "")).lower() == env.rm.address.lower()
        ):
            route.continue_()
            return
        response = route.fetch()
        answer = response.json()
        answer["result"] = [*answer["result"], log]
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        route.fulfill(status=response.status, headers=headers, body=json.dumps(answer))

    page.route(f"{env.anvil.url}**", add_exclusion)
    _open(page, env, f"round/{ROUNDS}", "[data-testid=finalize-gas]")
    row = page.locator("[data-testid=submission][data-slot='0']")
    assert row.locator("[data-testid=excluded]").inner_text().strip() == "excluded by the enclave"
    assert "(its statement, not proven)" in row.inner_text()
    assert page.locator("[data-testid=submission] [data-testid=excluded]").count() == 1
    explained = page.locator("[data-testid=explain-excluded]").first.text_content()
    assert "statement, not proven" in explained
    _open(page, env, "rounds", "[data-testid=round-row]")
    cell = page.locator(f"[data-testid=round-row][data-round='{ROUNDS}'] [data-testid=round-attendance]")
    assert "1 excluded by the enclave" in cell.inner_text() and "(its statement, not proven)" in cell.inner_text()
    shot(page, "rounds-excluded")


def _explained(page, term: str) -> str:
    """The text of the page's explanation of ``term`` (a collapsed <details>; its content counts, shown or not)."""
    box = page.locator(f"[data-testid=explain-{term}]")
    assert box.count() >= 1, f"no explanation of {term}"
    return " ".join(box.first.text_content().split())


def test_round_page_explains_its_terms(env: Env, page) -> None:
    _open(page, env, f"round/{ROUNDS}", "[data-testid=finalize-gas]")
    scale = 2 * env.rm.functions.scaleBits().call()
    bound = _explained(page, "norm-bound")
    assert "squared L2 distance" in bound and "previous aggregate" in bound
    assert f"at scale 2^{scale}" in bound and f"B = √(normBoundSq / 2^{scale})" in bound
    commitment = _explained(page, "commitment")
    assert "KZG commitment" in commitment and "K = C(0)" in commitment and "G1" in commitment
    assert "K = C(0)" in _explained(page, "model-commitment")
    assert "computed the new model's commitment itself" in _explained(page, "derived")
    assert "keccak256(x || y) of the model's commitment point" in _explained(page, "model-hash")
    assert "Nothing on-chain or in this page proves the figure" in _explained(page, "reported")
    assert "RoundInfo.members" in _explained(page, "absent")
    # Collapsed until asked for: the details open on a click.
    page.locator("[data-testid=explain-norm-bound] summary").click()
    assert "squared L2 distance" in page.locator("[data-testid=explain-norm-bound]").inner_text()
    shot(page, "round-explained")


def test_predictions_and_accuracy_pages_explain_their_terms(env: Env, page) -> None:
    _open(page, env, "predictions", "[data-testid=prediction]")
    logit = _explained(page, "logit")
    assert f"scale 2^{LOGIT_SCALE_BITS}" in logit
    risk = _explained(page, "risk")
    assert f"sigmoid(logit / 2^{LOGIT_SCALE_BITS})" in risk and "= P(y = 1)" in risk
    assert "y = 1 means BENIGN" in risk and "malignancy risk is 1 − P" in risk
    _open(page, env, "accuracy", "[data-testid=accuracy-plot]")
    assert "Nothing on-chain or in this page proves the figure" in _explained(page, "reported")


def _model_check(page, env: Env, round_id: int):
    """Opens round ``round_id``'s page and waits for its in-browser model check; returns its verdict element."""
    _open(page, env, f"round/{round_id}", "[data-testid=model-check]")
    result = page.locator("[data-testid=model-check] [data-state]:not([data-state=running])")
    result.wait_for(timeout=60_000)
    return result


def _check(result, name: str):
    return result.locator(f"[data-testid=check][data-check='{name}']")


@pytest.mark.parametrize("round_id", range(1, ROUNDS + 1))
def test_model_file_opens_the_onchain_commitment_in_the_browser(env: Env, page, round_id: int) -> None:
    result = _model_check(page, env, round_id)
    text = result.inner_text()
    print(f"round {round_id} model check: {result.get_attribute('data-state')}: {text}")
    shot(page, f"round-{round_id}-model-check")
    assert result.get_attribute("data-state") == "ok", text
    for name in ("event-hash", "basis", "model-cid", "model-opens", "fedavg-derived"):
        assert _check(result, name).get_attribute("data-ok") == "true", f"{name}: {text}"
    assert "model file opens the on-chain commitment" in _check(result, "model-opens").inner_text()
    assert "commitment re-derived from the hospitals' commitments" in _check(result, "fedavg-derived").inner_text()


def _tampered_model(env: Env, round_id: int) -> bytes:
    """The round's model file with its first value changed by one: valid JSON that does not open the commitment."""
    model = json.loads(env.store.get(env.finalized(round_id).newModelCid))
    model["values"][0] += 1
    return json.dumps(model).encode()


def test_tampered_model_file_fails_the_commitment_check(env: Env, page) -> None:
    """A gateway that skips its CID check and serves an altered model file cannot get a pass: the page hashes the
    file to its CID itself, and C(S) of the altered values is not the on-chain commitment (two separate verdicts)."""
    cid = env.finalized(ROUNDS).newModelCid
    altered = _tampered_model(env, ROUNDS)
    page.route(f"**/ipfs/{cid}*", lambda route: route.fulfill(status=200, body=altered))
    result = _model_check(page, env, ROUNDS)
    text = result.inner_text()
    shot(page, "round-model-tampered")
    assert result.get_attribute("data-state") == "failed", text
    assert _check(result, "model-cid").get_attribute("data-ok") == "false", text
    opens = _check(result, "model-opens")
    assert opens.get_attribute("data-ok") == "false", text
    assert "does NOT open the on-chain commitment" in opens.inner_text()
    # What does not depend on the file still holds.
    assert _check(result, "fedavg-derived").get_attribute("data-ok") == "true", text
    assert _check(result, "event-hash").get_attribute("data-ok") == "true", text


def test_altered_weights_fail_the_rederivation(env: Env, page) -> None:
    """An RPC endpoint that lies about expectedWeights (one unit of weight moved between two slots) cannot get a
    pass: the commitment re-derived from the hospitals' commitments is then not the finalized point."""

    def lie(route) -> None:
        request = json.loads(route.request.post_data or "{}")
        params = request.get("params") if isinstance(request, dict) else None
        is_weights = request.get("method") == "eth_call" and str(params[0].get("data", "")).startswith(
            EXPECTED_WEIGHTS_SELECTOR
        )
        if not is_weights:
            route.continue_()
            return
        response = route.fetch()
        answer = response.json()
        (weights,) = env.w3.codec.decode(["uint256[]"], bytes.fromhex(answer["result"].removeprefix("0x")))
        weights = list(weights)
        weights[0] += 1
        weights[1] -= 1
        answer["result"] = "0x" + env.w3.codec.encode(["uint256[]"], [weights]).hex()
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        route.fulfill(status=response.status, headers=headers, body=json.dumps(answer))

    page.route(f"{env.anvil.url}**", lie)
    result = _model_check(page, env, ROUNDS)
    text = result.inner_text()
    shot(page, "round-weights-altered")
    assert result.get_attribute("data-state") == "failed", text
    derived = _check(result, "fedavg-derived")
    assert derived.get_attribute("data-ok") == "false", text
    assert "does NOT follow from the hospitals' commitments" in derived.inner_text()
    assert _check(result, "model-opens").get_attribute("data-ok") == "true", text


def test_lineage_links_models(env: Env, page) -> None:
    _open(page, env, "lineage", "[data-testid=lineage-node]")
    _settle_integrity(page)
    nodes = page.locator("[data-testid=lineage-node]")
    assert nodes.count() == ROUNDS + 1
    cids = [n.get_attribute("data-cid") for n in nodes.all()]
    assert cids[0] == env.rm.functions.genesisModelCid().call()
    assert cids[1:] == [env.finalized(r).newModelCid for r in range(1, ROUNDS + 1)]
    # Each node's point hashes to the chain's modelOf(round).
    assert [n.get_attribute("data-bound") for n in nodes.all()] == ["true"] * (ROUNDS + 1)
    assert "current" in nodes.nth(ROUNDS).inner_text()
    assert page.locator(".integrity.bad").count() == 0
    shot(page, "lineage")


def test_accuracy_plot_shows_published_values(env: Env, page) -> None:
    _open(page, env, "accuracy", "[data-testid=accuracy-plot]")
    assert page.locator("[data-testid=accuracy-plot] circle").count() == ROUNDS
    for r in range(1, ROUNDS + 1):
        shown = page.locator(f"[data-testid=accuracy-row][data-round='{r}'] [data-testid=accuracy]").inner_text()
        assert shown == f"{env.report(r)['accuracy'] * 100:.2f}%"
    assert "reported, not proven" in page.locator("[data-testid=reported-note]").inner_text()
    shot(page, "accuracy")


def test_tampered_and_missing_artifacts_are_flagged(env: Env, page) -> None:
    model_cid = env.finalized(ROUNDS).newModelCid
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
        intact = env.round(ROUNDS)[4] - 1  # the other submissions stay intact
        assert page.locator("[data-testid=submission] .integrity.ok:not([data-testid=norm-claim])").count() == intact
        # and every submission's norm proof shows where it was checked: on-chain at submission (d = 31, eager)
        claims = page.locator("[data-testid=submission] [data-testid=norm-claim]")
        assert [claims.nth(i).get_attribute("data-where") for i in range(claims.count())] == ["on-chain"] * (intact + 1)
        result = page.locator("[data-testid=model-check] [data-state]:not([data-state=running])")
        result.wait_for(timeout=60_000)
        assert result.get_attribute("data-state") == "failed"
        assert _check(result, "model-opens").get_attribute("data-ok") == "false"
        shot(page, "round-tampered")
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
            {"name": "logit", "type": "int256", "indexed": False},
            {"name": "proofHash", "type": "bytes32", "indexed": False},
        ],
    }
]


def test_predictions_page_lists_the_recorded_receipt(env: Env, page) -> None:
    address = env.registry.functions.predictionRegistry().call()  # recorded on-chain, no local pointer file
    assert "PredictionRegistry" not in env.gateway.config["contracts"]  # the page reads it from the chain
    registry = env.w3.eth.contract(address=address, abi=PREDICTION_EVENT_ABI)
    (event,) = registry.events.PredictionRecorded.get_logs(from_block=0)
    _open(page, env, "predictions", "[data-testid=prediction]")
    (row,) = page.locator("[data-testid=prediction]").all()
    assert row.get_attribute("data-round") == str(event.args.roundId) == str(ROUNDS)
    assert row.get_attribute("data-logit") == str(event.args.logit)
    assert row.locator("[data-testid=logit]").inner_text().startswith(str(event.args.logit))
    risk = 1 / (1 + math.exp(-event.args.logit / 2**LOGIT_SCALE_BITS))
    assert row.locator("[data-testid=probability]").inner_text() == f"{risk:.4f}"
    assert row.locator("[data-testid=proof-hash]").inner_text() == "0x" + bytes(event.args.proofHash).hex()
    shot(page, "predictions")


def test_chain_unreachable_is_reported(env: Env, page) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = ui_config(dead, 31337, env.gateway.config["contracts"])
    with Gateway(env.store, config, port=0) as gateway:
        _open(page, env, "consortium", "[data-testid=error]", base=gateway.url)
        error = page.locator("[data-testid=error]")
        assert error.get_attribute("data-kind") == "chain-unreachable"
        assert "Chain unreachable" in error.inner_text() and dead in error.inner_text()
        shot(page, "chain-unreachable")
