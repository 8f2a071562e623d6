"""`make bench`: what a proven round costs, per model size (see :mod:`.cli`)."""
