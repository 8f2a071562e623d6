"""Gas of the ~114k-parameter model's submissions on the optimistic path (issue 22: <= 3M gas per hospital),
measured on-chain: a RoundManager for d = 114,177 in 28 chunks of 4,096 with a challenge window, five hospitals
each submitting 28 chunk points, 28 budgets and 28 proof hashes, then the finalization (FedAvg over 28 chunks).

Nothing here needs the 4,096-value circuit: an optimistic submission verifies no proof (that is the point),
so the points are arbitrary valid G1 points (multiples of the generator) and the norm verifier is never
called. The cost of a challenge of one chunk is the verifier's (measured separately; docs/benchmarks.md).
"""

from __future__ import annotations

import ape
from py_ecc.optimized_bn128 import G1, multiply, normalize

from tests.conftest import open_round
from zkfl_dapp.chain.deployment import CommitmentScheme
from zkfl_dapp.chain.enums import Role
from zkfl_dapp.chain.norm_claims import proof_hash

MODEL_SIZE = 114_177
CHUNK = 4096
CHUNKS = -(-MODEL_SIZE // CHUNK)  # 28
WINDOW = 3 * 3600
BOUND = 1_000_000
#: the issue's target per hospital per round
TARGET_GAS = 3_000_000


def _point(k: int) -> tuple[int, int]:
    x, y = normalize(multiply(G1, k))
    return int(x.n), int(y.n)


def test_optimistic_submission_of_the_114k_model_costs_under_3m_gas(admin, aggregator, hospitals, chain):
    scheme = CommitmentScheme(
        slots=5,
        model_size=MODEL_SIZE,
        pad_rows=10,
        chunks=CHUNKS,
        scale_bits=13,
        zero_commitment=_point(7),
        basis_digest="00" * 32,
        challenge_window=WINDOW,
    )
    registry = ape.project.ConsortiumRegistry.deploy(admin.address, sender=admin)
    rm = ape.project.RoundManager.deploy(
        registry.address,
        "0x" + "00" * 20,
        registry.address,  # never called: an optimistic submission verifies nothing
        scheme.as_tuple(),
        [list(_point(11 + c)) for c in range(CHUNKS)],
        "genesis",
        "circuit",
        sender=admin,
    )
    registry.admitMember(aggregator, int(Role.AGGREGATOR), "enclave", sender=admin)
    for i, h in enumerate(hospitals[:5]):
        registry.admitMember(h, int(Role.HOSPITAL), f"hospital-{i}", sender=admin)
    dep = type("Dep", (), {"round_manager": rm})()
    open_round(dep, admin, chain, quorum=5, bound=BOUND)
    gas = []
    for i, h in enumerate(hospitals[:5]):
        points = [list(_point(1000 + 100 * i + c)) for c in range(CHUNKS)]
        budgets = [BOUND // CHUNKS] * CHUNKS
        hashes = [proof_hash(f"proof {i} {c}".encode()) for c in range(CHUNKS)]
        claim = (budgets, [], hashes, "bafkreibundlecidbundlecidbundlecidbundlecidbundlecidbundle")
        tx = rm.submitUpdate(1, points, f"bafkreiupdate{i}", 100 + i, claim, sender=h)
        gas.append(int(tx.gas_used))
    chain.pending_timestamp = int(rm.challengeEnd(1)) + 1
    final = rm.finalizeRound(1, "bafkreinewmodel", 0, sender=aggregator)
    print(f"\noptimistic submitUpdate, d = {MODEL_SIZE} ({CHUNKS} chunks): {gas} gas; finalizeRound: {final.gas_used}")
    assert max(gas) <= TARGET_GAS
