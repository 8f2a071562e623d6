"""Machine learning: the medical data sets and their federated splits, the models, local training."""
