"""A Flower app on the breast-cancer data whose every aggregate is committed, bounded and finalized on-chain."""
