"""`python -m zkfl_dapp.experiments.attack_eval`: see :mod:`.cli`."""

import sys

from zkfl_dapp.experiments.attack_eval.cli import main

sys.exit(main())
