"""`python -m zkfl_dapp circuits`: build (or reuse) the circuit artifacts and install the verifiers."""

from __future__ import annotations

import sys

from zkfl_dapp.apps.session import build_circuits, say
from zkfl_dapp.config import Settings


def main(argv: list[str]) -> int:
    if argv[1:] != ["circuits"]:
        print("usage: python -m zkfl_dapp circuits", file=sys.stderr)
        return 2
    circuits = build_circuits(Settings())
    for a in (circuits.norm, circuits.median):
        if a is not None:
            say(f"verifier installed: contracts/generated/{a.verifier_sol.name} ({a.spec.name}, {a.srs_kind} SRS)")
    basis = circuits.basis
    say(f"KZG basis: logrows {basis.logrows}, {basis.unusable_rows} unusable rows, digest {basis.digest()[:16]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
