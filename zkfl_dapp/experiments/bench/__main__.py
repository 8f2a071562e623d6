"""`python -m zkfl_dapp.experiments.bench`: see :mod:`.cli`."""

import sys

from zkfl_dapp.experiments.bench.cli import main

if __name__ == "__main__":  # the hospital worker processes (spawn) import this module
    sys.exit(main())
