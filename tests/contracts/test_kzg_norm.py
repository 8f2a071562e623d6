"""The norm circuit of a one-chunk model (d = 31) with its plain generated Solidity verifier (KzgNormVerifier)
on anvil: a real proof verifies, and fails when its first point (the hospital's committed x), the budget, the
chunk index or count, or the address instance changes; a violating update verifies with flag 0, so the
contract must require the flag."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)

from __future__ import annotations

import random

import ape
import pytest

from tests.kzg_fixtures import (  # noqa: F401
    ADDRESS,
    ROOT,
    SPEC,
    basis,
    kzg_norm,
    prev_aggregate,
    updates,
    zero,
)
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits import kzg_distance as kd
from zkfl_dapp.circuits.kzg import combine, commit, hiding_pad
from zkfl_dapp.circuits.verifier_codegen import install_verifier

EIP170_LIMIT = 24_576


@pytest.fixture(scope="module")
def verifier(kzg_norm, admin, basis, zero, updates, hospitals, norm_proof):
    # the other fixtures: created here, before ape's per-test chain isolation starts
    installed = install_verifier(kzg_norm, ROOT / "contracts")
    assert installed.read_bytes() == kzg_norm.verifier_sol.read_bytes()
    return ape.project.KzgNormVerifier.deploy(sender=admin)


def _near(prev, seed, step):
    rng = random.Random(seed)
    model = [round(s / 2**13) + rng.randint(-step, step) for s in prev[: SPEC.chunk]]
    return hiding_pad(model, SPEC.pad_rows, rng, entry_bits=kd.PAD_ENTRY_BITS)


@pytest.fixture(scope="module")
def update(prev_aggregate):
    return _near(prev_aggregate, 11, 50)


@pytest.fixture(scope="module")
def bound(update, prev_aggregate):
    return kc.chunk_sum_of_squares(SPEC, update, prev_aggregate) + 1000


@pytest.fixture(scope="module")
def norm_proof(kzg_norm, update, prev_aggregate, bound, tmp_path_factory):
    return kc.prove_chunk(kzg_norm, 0, 1, bound, update, prev_aggregate, ADDRESS, tmp_path_factory.mktemp("kzgnorm"))


def _accepts(verifier, proof: bytes, instances) -> bool:
    """The generated verifier returns false or reverts on an invalid proof: both are rejection."""
    try:
        return bool(verifier.verifyProof.call(proof, list(instances)))
    except ape.exceptions.ContractLogicError:
        return False


def test_verifier_fitsEip170(verifier):
    size = len(ape.chain.provider.get_code(verifier.address))
    print(f"\nKzgNormVerifier runtime bytecode: {size} bytes")
    assert size <= EIP170_LIMIT


def test_verifyProof_acceptsARealProof(verifier, norm_proof, bound, admin):
    assert norm_proof.instances == kc.expected_chunk_instances(SPEC, bound, 0, 1, ADDRESS)
    assert _accepts(verifier, norm_proof.proof, norm_proof.instances)
    tx = verifier.verifyProof(norm_proof.proof, list(norm_proof.instances), sender=admin)
    print(f"\nverifyProof (d={SPEC.chunk}): {tx.gas_used} gas, proof {len(norm_proof.proof)} bytes")
    assert not tx.failed


def test_proofsFirstPoints_areWhatTheContractDerivesFromCommitments(norm_proof, update, prev_aggregate, basis, zero):
    """What a RoundManager checks before verifyProof: proof[0:64] = combine([C(u)], [2^13], K), proof[64:128] = C(S)."""
    assert norm_proof.proof[:64] == combine([commit(update, basis)[0]], [2**13], zero).to_bytes()
    assert norm_proof.proof[64:128] == commit(prev_aggregate, basis)[0].to_bytes()


def test_verifyProof_rejectsWhen_firstPointSwapped(verifier, norm_proof, basis, updates):
    other = commit([2**13 * v for v in updates[0]], basis)[0].to_bytes()
    assert not _accepts(verifier, other + norm_proof.proof[64:], norm_proof.instances)


def test_verifyProof_rejectsWhen_previousAggregatePointSwapped(verifier, norm_proof, basis, updates):
    other = commit(list(updates[1]), basis)[0].to_bytes()
    assert not _accepts(verifier, norm_proof.proof[:64] + other + norm_proof.proof[128:], norm_proof.instances)


def test_verifyProof_rejectsWhen_boundInstanceChanged(verifier, norm_proof, bound):
    instances = list(norm_proof.instances)
    instances[1] = bound * 2
    assert not _accepts(verifier, norm_proof.proof, instances)


@pytest.mark.parametrize(("index", "value"), [(2, 1), (3, 2)])
def test_verifyProof_rejectsWhen_chunkIndexOrCountChanged(verifier, norm_proof, index, value):
    instances = list(norm_proof.instances)
    instances[index] = value
    assert not _accepts(verifier, norm_proof.proof, instances)


@pytest.mark.parametrize("limb", range(kc.ADDRESS_LIMBS))
def test_verifyProof_rejectsWhen_addressInstanceChanged(verifier, norm_proof, limb):
    instances = list(norm_proof.instances)
    instances[4 + limb] ^= 1
    assert not _accepts(verifier, norm_proof.proof, instances)


def test_verifyProof_rejectsAnotherHospitalsAddress(verifier, norm_proof, hospitals, bound):
    assert not _accepts(
        verifier, norm_proof.proof, kc.expected_chunk_instances(SPEC, bound, 0, 1, hospitals[0].address)
    )


def test_verifyProof_rejectsWhen_flagForged(verifier, norm_proof):
    instances = list(norm_proof.instances)
    instances[0] = 0
    assert not _accepts(verifier, norm_proof.proof, instances)


def test_violatingUpdate_verifiesWithFlagZero(verifier, kzg_norm, prev_aggregate, tmp_path):
    """A violation is a valid proof of flag 0, not a failed proof: the contract must require flag == 2^26."""
    update = _near(prev_aggregate, 12, 200)
    bound = kc.chunk_sum_of_squares(SPEC, update, prev_aggregate) - 1
    rows = [kd.scaled_update(SPEC, update), list(prev_aggregate), [bound, 0, 1, *kd.address_limbs(ADDRESS)]]
    proof = kc.prove_inputs(kzg_norm, rows, tmp_path)  # prove_chunk refuses a chunk over its budget
    assert proof.instances[0] == 0 and proof.instances[1] == bound
    assert _accepts(verifier, proof.proof, proof.instances)
    assert not _accepts(verifier, proof.proof, [2**26, *proof.instances[1:]])
