"""The commit-and-prove norm circuit's generated Solidity verifier (KzgNormVerifier) on anvil: a real proof
verifies, and fails when its first point (the hospital's committed x), the bound or the address instance
changes; a violating update verifies with flag 0, so the contract must require the flag."""

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
from zkfl_dapp.circuits import kzg_norm as kc
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
    model = [round(s / 2**13) + rng.randint(-step, step) for s in prev[: SPEC.model_size]]
    return hiding_pad(model, SPEC.pad_rows, rng, entry_bits=kd.PAD_ENTRY_BITS)


@pytest.fixture(scope="module")
def update(prev_aggregate):
    return _near(prev_aggregate, 11, 50)


@pytest.fixture(scope="module")
def bound(update, prev_aggregate):
    return kc.squared_distance(SPEC, update, prev_aggregate) + 1000


@pytest.fixture(scope="module")
def norm_proof(kzg_norm, update, prev_aggregate, bound, tmp_path_factory):
    return kc.prove_kzg_norm(kzg_norm, update, prev_aggregate, bound, ADDRESS, tmp_path_factory.mktemp("kzgnorm"))


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
    assert norm_proof.instances == kc.expected_instances(SPEC, bound, ADDRESS)
    assert _accepts(verifier, norm_proof.proof, norm_proof.instances)
    tx = verifier.verifyProof(norm_proof.proof, list(norm_proof.instances), sender=admin)
    print(f"\nverifyProof (d={SPEC.model_size}): {tx.gas_used} gas, proof {len(norm_proof.proof)} bytes")
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


@pytest.mark.parametrize("limb", range(kc.ADDRESS_LIMBS))
def test_verifyProof_rejectsWhen_addressInstanceChanged(verifier, norm_proof, limb):
    instances = list(norm_proof.instances)
    instances[2 + limb] ^= 1
    assert not _accepts(verifier, norm_proof.proof, instances)


def test_verifyProof_rejectsAnotherHospitalsAddress(verifier, norm_proof, hospitals, bound):
    assert not _accepts(verifier, norm_proof.proof, kc.expected_instances(SPEC, bound, hospitals[0].address))


def test_verifyProof_rejectsWhen_flagForged(verifier, norm_proof):
    instances = list(norm_proof.instances)
    instances[0] = 0
    assert not _accepts(verifier, norm_proof.proof, instances)


def test_violatingUpdate_verifiesWithFlagZero(verifier, kzg_norm, prev_aggregate, tmp_path):
    """A violation is a valid proof of flag 0, not a failed proof: the contract must require flag == 2^26."""
    update = _near(prev_aggregate, 12, 200)
    bound = kc.squared_distance(SPEC, update, prev_aggregate) - 1
    proof = kc.prove_kzg_norm(kzg_norm, update, prev_aggregate, bound, ADDRESS, tmp_path)
    assert proof.instances[0] == 0 and proof.instances[1] == bound
    assert _accepts(verifier, proof.proof, proof.instances)
    assert not _accepts(verifier, proof.proof, [2**26, *proof.instances[1:]])
