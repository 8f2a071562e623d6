"""Experiments beside the library: poisoning attacks (:mod:`.attacks`), their evaluation
(:mod:`.attack_eval`, :mod:`.attack_proven`) and the benchmark (:mod:`.bench`). Nothing in the library
imports this package (tests/unit/test_layers.py checks it)."""
