"""Measure the secure-aggregation core (zkfl_dapp.secagg) for 5 hospitals at t = 3, one dropping out after setup.

For each ``--length`` (values per masked vector: model rows plus pad rows): the bytes one hospital posts (its setup
bundle; its masked input as 32-byte field elements), and seconds for one hospital's setup (bundle with its KZG
commitments), its masked input, one responder's reveals, and the unmasking of the round (with the commitment checks
of the rebuilt self masks). Commitments use the d = 31 norm circuit's basis (logrows 10: up to 1,018 values per
point); a longer vector is measured without commitments (``commitments: false``), the field arithmetic alone.

    python -m zkfl_dapp.experiments.secagg_measure --length 41 --length 523 --length 114187

Prints one JSON object per length. Nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path

from zkfl_dapp.circuits.kzg import G1Point, commit
from zkfl_dapp.circuits.kzg_chunk_norm import ensure_kzg_chunk_norm_artifacts
from zkfl_dapp.circuits.suite import norm_spec_for
from zkfl_dapp.crypto.envelope import EnclaveKeyPair
from zkfl_dapp.secagg.bundle import build_setup
from zkfl_dapp.secagg.masking import mask_input, pair_seeds, total_mask
from zkfl_dapp.secagg.unmask import pack_reveals, responses, unmask

ROOT = Path(__file__).resolve().parent.parent.parent
HOSPITALS = 5
THRESHOLD = 3


def measure(length: int) -> dict[str, object]:
    basis = ensure_kzg_chunk_norm_artifacts(norm_spec_for(31), ROOT / "build" / "circuits").basis()
    with_commitments = length <= basis.usable_rows
    dummy = G1Point(1, 2)  # the generator: stands in for commitments that cannot be computed at this length

    def cm(values: Sequence[int]) -> G1Point:
        return commit(values, basis)[0] if with_commitments else dummy

    addrs = sorted((f"0x{random.Random(i).getrandbits(160):040x}" for i in range(HOSPITALS)), key=lambda a: int(a, 16))
    kps = {a: EnclaveKeyPair.generate() for a in addrs}
    keys = {a: kp.public_key for a, kp in kps.items()}
    t0 = time.perf_counter()
    setups = {a: build_setup(1, "model", a, THRESHOLD, length, keys, cm) for a in addrs}
    setup_s = (time.perf_counter() - t0) / HOSPITALS
    roster = {a: s[0] for a, s in setups.items()}
    rng = random.Random(1)
    submitters = addrs[: HOSPITALS - 1]
    t0 = time.perf_counter()
    masked = {}
    for a in submitters:
        seeds = pair_seeds(1, a, kps[a].private_key, setups[a][1], roster, keys)
        update = [rng.randint(-(2**13), 2**13) for _ in range(length)]
        masked[a] = mask_input(update, 100, total_mask(a, setups[a][1].self_seed, seeds, "model", length))
    mask_s = (time.perf_counter() - t0) / len(submitters)
    t0 = time.perf_counter()
    reveals = [r for a in addrs[:THRESHOLD] for r in responses(a, kps[a].private_key, roster, set(submitters))]
    reveal_s = (time.perf_counter() - t0) / THRESHOLD
    t0 = time.perf_counter()
    unmask(roster, masked, reveals, keys, cm if with_commitments else None)
    unmask_s = time.perf_counter() - t0
    return {
        "length": length,
        "hospitals": HOSPITALS,
        "threshold": THRESHOLD,
        "commitments": with_commitments,
        "bundle_bytes": max(len(s[0].to_bytes()) for s in setups.values()),
        "masked_input_bytes": 32 * length,
        "reveal_calldata_bytes": max(len(pack_reveals([r for r in reveals if r.responder == a])) for a in addrs[:3]),
        "setup_s": round(setup_s, 3),
        "mask_s": round(mask_s, 3),
        "reveal_s": round(reveal_s, 3),
        "unmask_s": round(unmask_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, action="append", required=True)
    for length in parser.parse_args().length:
        print(json.dumps(measure(length)), flush=True)


if __name__ == "__main__":
    main()
