"""`python -m zkfl_dapp circuits`: build (or reuse) the circuit artifacts and install the verifier."""

from __future__ import annotations

import sys

from zkfl_dapp.config import Settings
from zkfl_dapp.runner import build_circuits, say


def main(argv: list[str]) -> int:
    if argv[1:] != ["circuits"]:
        print("usage: python -m zkfl_dapp circuits", file=sys.stderr)
        return 2
    art = build_circuits(Settings())
    say(f"verifier installed: contracts/generated/AggregationVerifier.sol ({art.spec.name}, {art.srs_kind} SRS)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
