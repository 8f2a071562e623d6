"""The web UI over a median round, in headless Chromium: what the page checks itself instead of trusting a server.

One fixture runs ``ape run demo --rounds 1 --rule median`` (a median round, finalized with a median proof that
``KzgMedianVerifier`` checks through the shared ``Halo2VerifierReusable``) and ``ape run predict`` (a
PredictionRegistry recorded on-chain in the ConsortiumRegistry, no pointer file), then serves the UI with the
gateway. The tests click "Verify proof in browser" on the honest proof and on a tampered one, check that the page
shows the RPC URL and every contract address with where each came from (the server's config.json, the URL's pins
or the chain), that pins override the server and a pinned registry must be the RoundManager's, that the Predictions
page finds the registry on-chain, and that the consortium's statistics file is shown and hashed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.ui.harness import ROOT, ape_run, ensure_ui_built, free_port, served, shot
from zkfl_dapp.apps.gateway import Gateway, ui_config
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.ui

_VIEW = {"type": "function", "stateMutability": "view", "inputs": []}
ABI = [
    {**_VIEW, "name": name, "outputs": [{"type": "address"}]}
    for name in ("predictionRegistry", "reusableVerifier", "medianVerifier", "registry")
]


class Env:
    """A median round and a recorded prediction on a fresh anvil, and the UI gateway."""

    def __init__(self, workdir: Path, anvil: LocalAnvil, gateway: Gateway) -> None:
        from web3 import Web3

        self.workdir = workdir
        self.anvil = anvil
        self.gateway = gateway
        self.store = EmbeddedStore(workdir / "ipfs")
        self.w3 = Web3(Web3.HTTPProvider(anvil.url))
        self.contracts = json.loads((workdir / "deployment.json").read_text())["contracts"]

    def call(self, address: str, name: str) -> str:
        return str(self.w3.eth.contract(address=address, abi=ABI).functions[name]().call())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    ensure_ui_built()
    workdir = tmp_path_factory.mktemp("ui-median") / "consortium"
    ape_run("demo", "--rounds", "1", "--rule", "median", workdir=workdir)
    ape_run("predict", "--patient", str(ROOT / "examples" / "patient.json"), workdir=workdir)
    assert not (workdir / "prediction-registry.json").exists()  # the chain records it, no local pointer file
    with served(workdir) as (anvil, gateway):
        yield Env(workdir, anvil, gateway)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def _verify(page, base: str) -> object:
    page.goto(f"{base}/#/round/1")
    page.wait_for_selector("[data-testid=verify-button]")
    page.click("[data-testid=verify-button]")
    result = page.locator("[data-testid=verify-result] [data-state]:not([data-state=running])")
    result.wait_for(timeout=120_000)
    return result


def test_honest_median_proof_verifies_in_the_browser(env: Env, page) -> None:
    """The page runs KzgMedianVerifier and the Halo2VerifierReusable it calls over the chain's state."""
    result = _verify(page, env.gateway.url)
    assert result.get_attribute("data-state") == "verified", result.inner_text()
    assert page.locator("[data-testid=verify-genuine]").get_attribute("data-outcome") == "accepted"
    assert page.locator("[data-testid=verify-tamper]").get_attribute("data-outcome") == "rejected"
    median = env.contracts["KzgMedianVerifier"]
    reusable = env.call(median, "reusableVerifier")
    ran = [el.get_attribute("data-address").lower() for el in page.locator("[data-testid=verifier-contract]").all()]
    assert ran[:2] == [median.lower(), reusable.lower()], ran
    shot(page, "median-verified")


def test_tampered_median_proof_is_rejected_in_the_browser(env: Env, page) -> None:
    """A gateway serving a proof file with one proof byte changed: the page does not verify it."""
    base = env.gateway.url
    proof_cid = None

    def lie(route) -> None:
        body = json.loads(env.store.get(proof_cid))
        hex_proof = body["hex_proof"].removeprefix("0x")
        mid = len(hex_proof) // 2
        body["hex_proof"] = "0x" + hex_proof[:mid] + ("0" if hex_proof[mid] != "0" else "1") + hex_proof[mid + 1 :]
        route.fulfill(status=200, body=json.dumps(body), headers={"Content-Type": "application/octet-stream"})

    page.goto(f"{base}/#/round/1")
    page.wait_for_selector("[data-testid=verify-button]")
    proof_cid = page.locator("[data-testid=artifact-proof]").get_attribute("data-cid")
    page.route(f"**/ipfs/{proof_cid}*", lie)
    page.reload()
    page.wait_for_selector("[data-testid=verify-button]")
    page.click("[data-testid=verify-button]")
    result = page.locator("[data-testid=verify-result] [data-state]:not([data-state=running])")
    result.wait_for(timeout=120_000)
    assert result.get_attribute("data-state") != "verified"
    assert "verified in browser" not in result.inner_text()
    shot(page, "median-tampered")


def test_header_shows_the_servers_values_and_the_chains(env: Env, page) -> None:
    page.goto(f"{env.gateway.url}/#/consortium")
    page.wait_for_selector("[data-testid=conn-rounds]")
    rpc = page.locator("[data-testid=conn-rpc]")
    assert rpc.get_attribute("data-value") == env.anvil.url and rpc.get_attribute("data-source") == "server"
    assert rpc.locator("[data-testid=source-server]").count() == 1
    assert page.locator("[data-testid=conn-server-warning]").count() == 1
    rounds = page.locator("[data-testid=conn-rounds]")
    assert rounds.get_attribute("data-value") == env.contracts["RoundManager"]
    registry = page.locator("[data-testid=conn-registry]")
    assert registry.get_attribute("data-value") == env.contracts["ConsortiumRegistry"]
    assert registry.get_attribute("data-source") == "chain"
    predictions = page.locator("[data-testid=conn-predictions]")
    recorded = env.call(env.contracts["ConsortiumRegistry"], "predictionRegistry")
    assert int(recorded, 16) != 0
    assert predictions.get_attribute("data-value") == recorded and predictions.get_attribute("data-source") == "chain"
    assert "ConsortiumRegistry.predictionRegistry()" in predictions.inner_text()
    shot(page, "connection-server")


def test_pins_in_the_url_override_the_server(env: Env, page) -> None:
    """A gateway whose config.json names a dead RPC and another registry: the user's pins win."""
    dead = f"http://127.0.0.1:{free_port()}"
    swapped = {"RoundManager": env.contracts["ConsortiumRegistry"], "ConsortiumRegistry": env.contracts["RoundManager"]}
    lying = ui_config(dead, 1, swapped)
    contracts = env.contracts
    pins = {"rpc": env.anvil.url, "rounds": contracts["RoundManager"], "registry": contracts["ConsortiumRegistry"]}
    with Gateway(env.store, lying, port=0) as gateway:
        page.goto(f"{gateway.url}/?{urlencode(pins)}#/predictions")
        page.wait_for_selector("[data-testid=prediction]")
        for testid, value in (("rpc", env.anvil.url), ("rounds", pins["rounds"]), ("registry", pins["registry"])):
            el = page.locator(f"[data-testid=conn-{testid}]")
            assert el.get_attribute("data-value") == value and el.get_attribute("data-source") == "url", testid
            assert el.locator("[data-testid=source-url]").count() == 1
        assert page.locator("[data-testid=conn-server-warning]").count() == 0
        assert page.locator("[data-testid=prediction]").count() == 1  # the registry the chain records
        shot(page, "connection-pinned")
        # The page's own link carries the pins it uses.
        href = page.locator("[data-testid=pin-link]").get_attribute("href")
        assert urlencode(pins) in href
        # A pinned registry that is not the RoundManager's is an error, not a silent switch.
        wrong = {**pins, "registry": env.contracts["KzgMedianVerifier"]}
        page.goto(f"{gateway.url}/?{urlencode(wrong)}#/consortium")
        error = page.locator("[data-testid=error]")
        error.wait_for()
        assert "is not the registry of RoundManager" in error.inner_text()
        # Without pins this server's values lead nowhere: the page says so.
        page.goto(f"{gateway.url}/#/consortium")
        page.locator("[data-testid=error]").wait_for()


def test_statistics_file_is_shown_and_hashed(env: Env, page) -> None:
    page.goto(f"{env.gateway.url}/#/consortium")
    sha = page.locator("[data-testid=statistics-sha256]")
    page.wait_for_selector("[data-testid=statistics-sha256]:not(.pending)")
    assert "integrity ok" in sha.get_attribute("class"), sha.inner_text()
    assert page.locator("[data-testid=artifact-statistics] .integrity.ok").count() == 1
    assert page.locator("[data-testid=statistics-feature]").count() == 30
    assert "combined-sufficient-statistics" in page.locator("[data-testid=statistics-method]").inner_text()
    shot(page, "statistics")
    cid = page.locator("[data-testid=artifact-statistics]").get_attribute("data-cid")
    page.goto(f"{env.gateway.url}/#/round/1")  # where the round's data is described: the same file, hashed
    page.locator("[data-testid=round-data] [data-testid=artifact-statistics] .integrity.ok").wait_for()
    assert page.locator("[data-testid=round-data] [data-testid=artifact-statistics]").get_attribute("data-cid") == cid


def test_tampered_statistics_file_is_flagged(env: Env, page) -> None:
    page.route("**/ipfs/*", lambda route: _tamper_statistics(route, env))
    page.goto(f"{env.gateway.url}/#/consortium")
    page.wait_for_selector("[data-testid=statistics-sha256]:not(.pending)")
    assert "integrity bad" in page.locator("[data-testid=statistics-sha256]").get_attribute("class")
    assert page.locator("[data-testid=artifact-statistics] .integrity.bad").count() == 1


def _tamper_statistics(route, env: Env) -> None:
    cid = route.request.url.split("/ipfs/")[1].split("?")[0]
    body = env.store.get(cid)
    if b"zkfl-stats/v1" in body:  # a statistics file that still parses, with one mean shifted
        stats = json.loads(body)
        stats["features"][0]["mean"] += 1.0
        body = json.dumps(stats).encode()
    route.fulfill(status=200, body=body, headers={"Content-Type": "application/octet-stream"})


REGISTER_KEY_ABI = [
    {**_VIEW, "name": "aggregator", "outputs": [{"type": "address"}]},
    {
        "type": "function",
        "name": "registerEnclaveKey",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": n, "type": t}
            for n, t in (("h", "bytes32"), ("cid", "string"), ("kind", "uint8"), ("m", "bytes32"), ("e", "string"))
        ],
        "outputs": [],
    },
]


def test_multi_block_file_is_hashed_in_the_browser_and_a_substituted_block_is_red(env: Env, page, browser) -> None:
    """Runs last (it re-registers the enclave key): a 700 KB key file is a dag-pb root over three raw leaves; the page
    fetches each block with ?format=raw, hashes it and checks the links (green, 4 blocks); a gateway that substitutes
    one leaf turns it red."""
    import hashlib

    from multiformats import CID

    from zkfl_dapp.attestation.evidence import EvidenceFile, EvidenceKind
    from zkfl_dapp.storage.unixfs import _decode_file_node

    data = hashlib.shake_256(b"a large enclave key file").digest(700_000)
    cid = str(env.store.put(data))
    leaves = [CID.decode(link).encode("base32") for link in _decode_file_node(env.store.block(cid)).links]
    registry = env.w3.eth.contract(address=env.contracts["ConsortiumRegistry"], abi=REGISTER_KEY_ABI)
    aggregator = registry.functions.aggregator().call()
    env.w3.provider.make_request("anvil_impersonateAccount", [aggregator])
    evidence_cid = str(env.store.put(EvidenceFile(EvidenceKind.DEVELOPMENT, {}).to_bytes()))
    key_hash = hashlib.sha256(data).digest()
    development = int(EvidenceKind.DEVELOPMENT)
    register = registry.functions.registerEnclaveKey(key_hash, cid, development, bytes(32), evidence_cid)
    tx = register.transact({"from": aggregator})
    assert env.w3.eth.wait_for_transaction_receipt(tx).status == 1

    page.goto(f"{env.gateway.url}/#/consortium")
    badge = page.locator(f"[data-testid=artifact-enclave-key][data-cid='{cid}'] .integrity:not(.pending)")
    badge.wait_for()
    assert "ok" in badge.get_attribute("class") and "4 blocks hashed here" in badge.inner_text()
    shot(page, "multi-block-ok")

    context = browser.new_context()
    lying = context.new_page()
    forged = bytearray(env.store.block(leaves[1]))
    forged[7] ^= 0x01
    lying.route(f"**/ipfs/{leaves[1]}*", lambda route: route.fulfill(status=200, body=bytes(forged)))
    lying.goto(f"{env.gateway.url}/#/consortium")
    bad = lying.locator(f"[data-testid=artifact-enclave-key][data-cid='{cid}'] .integrity:not(.pending)")
    bad.wait_for(timeout=60_000)
    assert "bad" in bad.get_attribute("class") and "INTEGRITY ERROR" in bad.inner_text()
    assert "does not hash to its CID" in bad.get_attribute("title")
    shot(lying, "multi-block-substituted")
    context.close()
