"""Machine learning: the medical data sets and their federated splits, the models, local training; a
hospital's own records files (schema, records) and the consortium's published standardisation statistics."""
