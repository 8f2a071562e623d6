"""Shared fixtures: roles, the consortium's circuit suite (the norm circuit and its KZG basis), fresh
deployments of a real KZG RoundManager, padded updates with their commitments, and cached norm proofs.

Run through ``make test`` (which builds the circuit artifacts and installs the generated verifier before ape
compiles the project) or ``ape test`` once ``make circuits`` has run: the ``suite`` fixture installs the norm
verifier too, but ape compiles the project when it first loads it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import ape
import pytest

from zkfl_dapp.apps.process import use_project_toolchain
from zkfl_dapp.chain.deployment import CommitmentScheme, Deployment, deploy_contracts
from zkfl_dapp.chain.enums import Role
from zkfl_dapp.circuits.kzg import G1Point, commit, hiding_pad
from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkProof, prove_chunk, prove_inputs
from zkfl_dapp.circuits.kzg_distance import PAD_ENTRY_BITS
from zkfl_dapp.circuits.suite import CircuitSuite, ensure_circuit_suite
from zkfl_dapp.circuits.verifier_codegen import install_verifier

# `ape test` outside make: the checkout's own anvil and solc shim, found before ape starts its provider
use_project_toolchain()

ROOT = Path(__file__).resolve().parent.parent
SLOTS = 5
MODEL_SIZE = 31
SCALE_BITS = 13
GENESIS_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
CIRCUIT_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end tests over the whole stack (slow)")
    config.addinivalue_line(
        "markers", "kubo: opt-in tests against a real Kubo-compatible daemon (ZKFL_JSIPFS_TESTS=1 or ZKFL_KUBO_API_URL)"
    )


@pytest.fixture(scope="session")
def suite() -> CircuitSuite:
    """The consortium's circuits for 5 slots x 31 parameters (norm and median), their verifiers installed for ape."""
    s = ensure_circuit_suite(SLOTS, MODEL_SIZE, SCALE_BITS, ROOT / "build" / "circuits")
    assert install_verifier(s.norm, ROOT / "contracts").read_bytes() == s.norm.verifier_sol.read_bytes()
    if s.median is not None:
        assert install_verifier(s.median, ROOT / "contracts").read_bytes() == s.median.verifier_sol.read_bytes()
    return s


@pytest.fixture(scope="session")
def admin():
    return ape.accounts.test_accounts[0]


@pytest.fixture(scope="session")
def aggregator():
    return ape.accounts.test_accounts[1]


@pytest.fixture(scope="session")
def hospitals():
    return [ape.accounts.test_accounts[i] for i in range(2, 8)]  # six: one more than the slots


@pytest.fixture(scope="session")
def auditor():
    return ape.accounts.test_accounts[8]


@pytest.fixture(scope="session")
def outsider():
    return ape.accounts.test_accounts[9]


def genesis_model(seed: int = 0) -> tuple[int, ...]:
    """A genesis aggregate S0 = 2^13 q0 (scale 2^26) with zero pad rows, as ModelFile.genesis builds it."""
    rng = random.Random(seed)
    q0 = [rng.randint(-(2**12), 2**12) for _ in range(MODEL_SIZE)]
    return (*((1 << SCALE_BITS) * q for q in q0), *([0] * 10))


def padded_update(seed: int, prev: Sequence[int] = (), step: int = 50) -> tuple[int, ...]:
    """A padded update at scale 2^13: near round(prev / 2^13) on the model rows (random in +-2^13 without
    ``prev``), then a 10-row hiding pad."""
    rng = random.Random(seed)
    if prev:
        model = [round(s / 2**SCALE_BITS) + rng.randint(-step, step) for s in prev[:MODEL_SIZE]]
    else:
        model = [rng.randint(-(2**13), 2**13) for _ in range(MODEL_SIZE)]
    return hiding_pad(model, 10, rng, entry_bits=PAD_ENTRY_BITS)


@pytest.fixture(scope="session")
def genesis() -> tuple[int, ...]:
    return genesis_model()


@pytest.fixture(scope="session")
def commit_of(suite) -> Callable[[Sequence[int]], G1Point]:
    """C(v) in the suite's basis, cached per vector (one ezkl call each)."""
    cache: dict[tuple[int, ...], G1Point] = {}

    def _commit(values: Sequence[int]) -> G1Point:
        key = tuple(int(v) for v in values)
        if key not in cache:
            (cache[key],) = commit(key, suite.basis)
        return cache[key]

    return _commit


@pytest.fixture(scope="session")
def scheme(suite) -> CommitmentScheme:
    return CommitmentScheme(
        slots=SLOTS,
        model_size=MODEL_SIZE,
        pad_rows=suite.pad_rows,
        chunks=1,
        scale_bits=SCALE_BITS,
        zero_commitment=suite.zero.as_uint256(),
        basis_digest=suite.basis.digest(),
    )


def deploy(
    admin, aggregator, auditor, members, scheme: CommitmentScheme, genesis_point: G1Point | Sequence[G1Point]
) -> Deployment:
    """A fresh consortium (FedAvg and norm bounds; no median verifier) with ``members`` admitted as hospitals;
    ``genesis_point``: the genesis commitment (one point, or one per chunk for a chunked scheme)."""
    points = [genesis_point] if isinstance(genesis_point, G1Point) else list(genesis_point)
    dep = deploy_contracts(
        ape.project,
        admin,
        scheme=scheme,
        genesis_commitment=tuple(p.as_uint256() for p in points),
        genesis_cid=GENESIS_CID,
        circuit_cid=CIRCUIT_CID,
        with_median=False,
    )
    dep.registry.admitMember(aggregator, int(Role.AGGREGATOR), "enclave", sender=admin)
    dep.registry.admitMember(auditor, int(Role.AUDITOR), "regulator", sender=admin)
    for i, h in enumerate(members):
        dep.registry.admitMember(h, int(Role.HOSPITAL), f"hospital-{i}", sender=admin)
    return dep


@pytest.fixture
def deployment(suite, scheme, genesis, commit_of, admin, aggregator, hospitals, auditor) -> Deployment:
    """A fresh consortium: 5 member hospitals (the sixth is admitted only where a test needs it)."""
    return deploy(admin, aggregator, auditor, hospitals[:5], scheme, commit_of(genesis))


NormProver = Callable[[Sequence[int], Sequence[int], int, str], KzgChunkProof]


@pytest.fixture(scope="session")
def norm_proof(suite, tmp_path_factory) -> NormProver:
    """``norm_proof(update, prev_aggregate, budget, address)``: a real norm proof of the one-chunk model (chunk 0
    of 1, within ``budget``), cached per input."""
    cache: dict[tuple, KzgChunkProof] = {}

    def _prove(update: Sequence[int], prev: Sequence[int], bound: int, address: str) -> KzgChunkProof:
        key = (tuple(update), tuple(prev), bound, address.lower())
        if key not in cache:
            workdir = tmp_path_factory.mktemp("norm")
            cache[key] = prove_chunk(suite.norm, 0, 1, bound, update, prev, address, workdir)
        return cache[key]

    return _prove


@pytest.fixture(scope="session")
def raw_norm_proof(suite, tmp_path_factory) -> Callable[[Sequence[Sequence[int]]], KzgChunkProof]:
    """A norm proof of raw field-element rows ``[x, S, p = (b, c, n, limbs..)]`` (no checks: attacks), cached
    per input."""
    cache: dict[tuple, KzgChunkProof] = {}

    def _prove(rows: Sequence[Sequence[int]]) -> KzgChunkProof:
        key = tuple(tuple(r) for r in rows)
        if key not in cache:
            cache[key] = prove_inputs(suite.norm, rows, tmp_path_factory.mktemp("rawnorm"))
        return cache[key]

    return _prove


def points(*commitments: G1Point) -> list[list[int]]:
    """A commitment as RoundManager takes it (``uint256[2][]``): ``points(c)`` for a one-point scheme."""
    return [list(c.as_uint256()) for c in commitments]


def open_round(dep: Deployment, admin, chain, *, quorum: int = 3, duration: int = 3600, bound: int = 0, rule: int = 0):
    """Open the next round (FedAvg without a bound unless told); returns (round id, deadline, receipt)."""
    deadline = chain.pending_timestamp + duration
    if bound or rule:
        tx = dep.round_manager.openRoundWithPolicy(deadline, quorum, rule, bound, sender=admin)
    else:
        tx = dep.round_manager.openRoundWithPolicy(deadline, quorum, 0, 0, sender=admin)
    return int(dep.round_manager.currentRoundId()), deadline, tx
