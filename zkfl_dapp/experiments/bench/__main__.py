"""`python -m zkfl_dapp.experiments.bench`: see :mod:`.cli`."""

import sys

from zkfl_dapp.experiments.bench.cli import main

sys.exit(main())
