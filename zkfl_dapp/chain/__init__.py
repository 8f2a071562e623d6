"""The chain: the contracts' enums (:mod:`.enums`), deployment (:mod:`.deployment`), typed views of contract
state (:mod:`.views`) and the embedded local anvil (:mod:`.anvil`). Contract calls go through ape's contract
instances, which the callers pass in; nothing here imports ape."""
