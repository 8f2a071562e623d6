"""The pure core: fixed point, commitments, aggregation rules, norms, the bound policy and file formats.

Deterministic functions and strict file formats that every party (and the Flower adapter) shares; it
imports no chain client (ape), no torch and no prover at import time.
"""
