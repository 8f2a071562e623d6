"""How the poisoning defences hold up against malicious hospitals (``make attack-eval``).

:mod:`.simulate` runs the scenarios, :mod:`.summary` summarizes them, :mod:`.report` and :mod:`.plots`
write the report, :mod:`.cli` is the command line (``python -m zkfl_dapp.experiments.attack_eval``).
"""
