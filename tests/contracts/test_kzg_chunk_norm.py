"""The chunk norm circuit's verifier on anvil: ezkl's shared reusable verifier plus the generated VKA
wrapper KzgChunkNormVerifier, both under EIP-170; a real chunk proof verifies (gas printed); a replaced
point, another chunk index or hospital, and another budget or a flag of 0 are rejected.

Runs the SMALL chunk circuit (64 values); ``ZKFL_CHUNK_SPEC=large`` runs the measured 4,096-value one
(build it first: it takes minutes; one chunk proof ~15-60 s).

Self-contained (``--noconftest`` works): only ape's own fixtures and test accounts. Opt-in
(``ZKFL_CHUNK_CONTRACT_TESTS=1``): it measures the verifier alone (sizes, gas); the chunked protocol on
RoundManager, with real chunk proofs, is ``tests/contracts/test_chunked_rounds.py`` (always run), and the
large spec's circuit is built by ``make demo-large`` / ``make bench-large``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import ape
import pytest

from zkfl_dapp.circuits import chunks as model_chunks
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits.kzg import commit
from zkfl_dapp.circuits.verifier_codegen import install_verifier

pytestmark = pytest.mark.skipif(
    not os.environ.get("ZKFL_CHUNK_CONTRACT_TESTS"), reason="opt-in: ZKFL_CHUNK_CONTRACT_TESTS=1 (see the docstring)"
)
ROOT = Path(__file__).resolve().parent.parent.parent
EIP170_LIMIT = 24_576
SPEC = kc.LARGE_CHUNK_SPEC if os.environ.get("ZKFL_CHUNK_SPEC") == "large" else kc.KzgChunkNormSpec(64, inner_cols=2)
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def art():
    return kc.ensure_kzg_chunk_norm_artifacts(SPEC, ROOT / "build" / "circuits")


@pytest.fixture(scope="module")
def admin():
    return ape.accounts.test_accounts[0]


@pytest.fixture(scope="module")
def chunks():
    """One padded update chunk near one padded previous-aggregate chunk (chunk 3 of 27)."""
    rng = random.Random(17)
    base = [rng.randint(-(2**12), 2**12) for _ in range(SPEC.chunk)]
    prev = [2**13 * b + rng.randint(-(2**12), 2**12) for b in base]
    prev += [rng.getrandbits(34) for _ in range(SPEC.pad_rows)]  # aggregated pad rows
    (update,) = model_chunks.pad_chunks([[b + rng.randint(-30, 30) for b in base]], SPEC, rng)
    return update, prev


@pytest.fixture(scope="module")
def chunk_proof(art, chunks, tmp_path_factory):
    budget = kc.chunk_sum_of_squares(SPEC, *chunks) + 5
    return kc.prove_chunk(art, 3, 27, budget, *chunks, ADDRESS, tmp_path_factory.mktemp("chunkproof"))


@pytest.fixture(scope="module")
def reusable(art, admin, chunk_proof):
    install_verifier(art, ROOT / "contracts")
    return ape.project.Halo2VerifierReusable.deploy(sender=admin)


@pytest.fixture(scope="module")
def verifier(art, admin, reusable):
    installed = install_verifier(art, ROOT / "contracts")
    assert installed.read_bytes() == art.verifier_sol.read_bytes()
    return ape.project.KzgChunkNormVerifier.deploy(reusable.address, sender=admin)


def _accepts(verifier, proof: bytes, instances) -> bool:
    try:
        return bool(verifier.verifyProof.call(proof, list(instances)))
    except ape.exceptions.ContractLogicError:
        return False


def test_verifiers_fitEip170(verifier, reusable):
    for contract in (reusable, verifier):
        size = len(ape.chain.provider.get_code(contract.address))
        print(f"\n{contract.contract_type.name} ({SPEC.name}) runtime bytecode: {size} bytes")
        assert size <= EIP170_LIMIT


def test_verifyProof_acceptsARealChunkProof(verifier, chunk_proof, chunks, admin):
    budget = kc.chunk_sum_of_squares(SPEC, *chunks) + 5
    assert chunk_proof.instances == kc.expected_chunk_instances(SPEC, budget, 3, 27, ADDRESS)
    assert _accepts(verifier, chunk_proof.proof, chunk_proof.instances)
    tx = verifier.verifyProof(chunk_proof.proof, list(chunk_proof.instances), sender=admin)
    print(f"\nverifyProof ({SPEC.name}): {tx.gas_used} gas, proof {len(chunk_proof.proof)} bytes")
    assert not tx.failed


@pytest.mark.parametrize("index", [0, 1])
def test_verifyProof_rejectsWhen_pointReplaced(verifier, chunk_proof, chunks, art, index):
    other = commit([2**13 * v for v in reversed(chunks[0])], art.basis())[0].to_bytes()
    proof = chunk_proof.proof[: 64 * index] + other + chunk_proof.proof[64 * (index + 1) :]
    assert not _accepts(verifier, proof, chunk_proof.instances)


def test_verifyProof_rejectsAnotherIndexCountOrHospital(verifier, chunk_proof):
    b = chunk_proof.budget
    for forged in ((2**26, b, 4, 27), (2**26, b, 3, 26)):
        assert not _accepts(verifier, chunk_proof.proof, [*forged, *chunk_proof.limbs])
    assert not _accepts(verifier, chunk_proof.proof, kc.expected_chunk_instances(SPEC, b, 3, 27, OTHER))


def test_verifyProof_rejectsAnotherBudget_orAFlagOfZero(verifier, chunk_proof):
    assert not _accepts(verifier, chunk_proof.proof, [2**26, chunk_proof.budget - 1, *chunk_proof.instances[2:]])
    assert not _accepts(verifier, chunk_proof.proof, [0, *chunk_proof.instances[1:]])
