"""`python -m zkfl_dapp.experiments.privacy_eval`: see :mod:`.cli`."""

import sys

from zkfl_dapp.experiments.privacy_eval.cli import main

sys.exit(main())
