"""GBSG2 as a consortium's own data set: the example files, the baselines and the end-to-end party run."""
