"""The commit-and-prove median circuit's verifier on anvil: ezkl's shared reusable verifier
(Halo2VerifierReusable) plus the generated VKA wrapper KzgMedianVerifier (IHalo2Verifier), both under
EIP-170; a real proof verifies; replaced points (a slot's or the median's), flipped bytes, a forged
instance and another circuit's VKA are rejected."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)

from __future__ import annotations

import ape
import pytest

from tests.kzg_fixtures import ROOT, SPEC, basis, kzg_norm, prev_aggregate, updates  # noqa: F401
from zkfl_dapp.circuits import kzg_median as km
from zkfl_dapp.circuits.kzg import commit
from zkfl_dapp.circuits.verifier_codegen import install_verifier, read_vka_words, vka_digest
from zkfl_dapp.core.median import median_quantized

EIP170_LIMIT = 24_576
MEDIAN_SPEC = km.default_median_spec(SPEC.chunk, SPEC.pad_rows)


@pytest.fixture(scope="module")
def kzg_median(kzg_norm):
    return km.ensure_kzg_median_artifacts(MEDIAN_SPEC, ROOT / "build" / "circuits", shared_srs=kzg_norm.srs)


@pytest.fixture(scope="module")
def slots(updates, prev_aggregate):
    return [[2**13 * v for v in updates[i]] for i in range(3)] + [list(prev_aggregate)] * 2


@pytest.fixture(scope="module")
def median_proof(kzg_median, slots, tmp_path_factory):
    return km.prove_kzg_median(kzg_median, slots, tmp_path_factory.mktemp("kzgmedian"))


@pytest.fixture(scope="module")
def reusable(kzg_median, admin):
    install_verifier(kzg_median, ROOT / "contracts")
    return ape.project.Halo2VerifierReusable.deploy(sender=admin)


@pytest.fixture(scope="module")
def verifier(kzg_median, admin, reusable):
    installed = install_verifier(kzg_median, ROOT / "contracts")
    assert installed.read_bytes() == kzg_median.verifier_sol.read_bytes()
    return ape.project.KzgMedianVerifier.deploy(reusable.address, sender=admin)


def _accepts(verifier, proof: bytes, instances) -> bool:
    try:
        return bool(verifier.verifyProof.call(proof, list(instances)))
    except ape.exceptions.ContractLogicError:
        return False


def test_verifier_fitsEip170(verifier, reusable, kzg_median):
    for contract in (reusable, verifier):
        size = len(ape.chain.provider.get_code(contract.address))
        print(f"\n{contract.contract_type.name} runtime bytecode: {size} bytes")
        assert size <= EIP170_LIMIT
    words = read_vka_words(kzg_median.vka)
    assert [bytes(w) for w in verifier.vka()] == words
    assert bytes(verifier.VKA_DIGEST()) == vka_digest(words)


def test_verifyProof_acceptsARealProof(verifier, median_proof, slots, basis, admin):
    assert median_proof.instances == (0,)
    assert median_proof.proof[64 * 5 : 64 * 6] == commit(list(median_quantized(slots)), basis)[0].to_bytes()
    assert _accepts(verifier, median_proof.proof, median_proof.instances)
    tx = verifier.verifyProof(median_proof.proof, list(median_proof.instances), sender=admin)
    print(f"\nverifyProof (median, d={SPEC.chunk}): {tx.gas_used} gas, proof {len(median_proof.proof)} bytes")
    assert not tx.failed


@pytest.mark.parametrize("index", [0, 3, 5])
def test_verifyProof_rejectsWhen_pointReplaced(verifier, median_proof, basis, updates, index):
    other = commit(list(updates[4]), basis)[0].to_bytes()
    proof = median_proof.proof[: 64 * index] + other + median_proof.proof[64 * (index + 1) :]
    assert not _accepts(verifier, proof, median_proof.instances)


def test_verifyProof_rejectsWhen_bytesFlipped(verifier, median_proof):
    proof = bytearray(median_proof.proof)
    proof[len(proof) // 2] ^= 1
    assert not _accepts(verifier, bytes(proof), median_proof.instances)


def test_verifyProof_rejectsWhen_instanceForged(verifier, median_proof):
    assert not _accepts(verifier, median_proof.proof, [1])


def test_reusableVerifier_directCall_returnsTheVkaDigest(reusable, verifier, median_proof, admin):
    """What the wrapper does: call the shared verifier with the VKA; it reports the digest to compare."""
    vka = list(verifier.vka())
    tx = reusable.verifyProof(median_proof.proof, list(median_proof.instances), vka, sender=admin)
    print(f"\nHalo2VerifierReusable.verifyProof direct: {tx.gas_used} gas, VKA {32 * len(vka)} bytes calldata")
    assert not tx.failed


def test_reusableVerifier_rejectsWhen_vkaUnregistered(reusable, verifier, median_proof):
    vka = list(verifier.vka())
    vka[-1] = bytes(31) + b"\x01"
    with pytest.raises(ape.exceptions.ContractLogicError):
        reusable.verifyProof.call(median_proof.proof, list(median_proof.instances), vka)


def test_reusableVerifier_rejectsWhen_otherCircuitsVka(reusable, verifier, median_proof, kzg_norm, admin, tmp_path):
    """A proof of the median circuit does not verify under another registered circuit's VKA (the norm's)."""
    from zkfl_dapp.circuits.verifier_codegen import _generate_reusable_verifier

    class NormAsReusable(type(kzg_norm)):  # type: ignore[misc]
        reusable = True

    norm = NormAsReusable(kzg_norm.spec, tmp_path, kzg_norm.logrows, kzg_norm.srs_kind)
    for path in (kzg_norm.vk, kzg_norm.settings, kzg_norm.srs):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    _generate_reusable_verifier(norm)
    other = read_vka_words(norm.vka)
    reusable.registerVka(other, sender=admin)
    with pytest.raises(ape.exceptions.ContractLogicError):
        reusable.verifyProof.call(median_proof.proof, list(median_proof.instances), other)
