"""When a party may call a transaction done: "submitted", "finalized" and "opened" are printed and journaled
only once the transaction is durable on the chain the party talks to.

* On the local development chain, durable means on disk: `zkfl chain` (and `zkfl demo`) save anvil's state after
  every new block (:meth:`~zkfl_dapp.chain.anvil.LocalAnvil.serve_durably`), and the party waits until the state
  file holds its transaction's block (anvil's own dump, every 5 s, also counts). A chain killed before that loses
  the transaction, and the party, not having journaled it, finds it missing and sends it again.
* Elsewhere, durable means ``confirmations`` blocks (``ZKFL_CONFIRMATIONS``, default 1: the block itself).
* A local chain without a state file (an anvil you started yourself) persists nothing: there the receipt is all
  there is, and that is said once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl_dapp.chain.anvil import wait_until_persisted
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ChainError


@dataclass(frozen=True)
class Durability:
    """Waits until a transaction's block is durable (see the module docstring)."""

    chain: Any
    #: the local chain's state file; None off the local chain
    state_file: Path | None
    confirmations: int = 1
    timeout_s: float = 30.0

    @classmethod
    def of(cls, settings: Settings, chain: Any, *, local: bool) -> Durability:
        return cls(chain, settings.chain_state if local else None, settings.confirmations)

    def block_of(self, tx_hash: str) -> int:
        """The block a mined transaction is in."""
        return int(self.chain.provider.get_receipt(tx_hash).block_number)

    def wait(self, block: int) -> None:
        """Return once ``block`` is durable.

        Raises:
            ChainError: not within ``timeout_s`` (the caller must not report the transaction as done yet).
        """
        if self.state_file is not None:
            if not self.state_file.exists():
                return  # a local anvil that persists nothing: the receipt is all there is
            if not wait_until_persisted(self.state_file, block, timeout_s=self.timeout_s):
                raise ChainError(
                    f"block {block} is not in {self.state_file} after {self.timeout_s:.0f} s: not durable yet"
                )
            return
        target = block + self.confirmations - 1
        deadline = time.monotonic() + self.timeout_s * self.confirmations
        while int(self.chain.blocks.height) < target:
            if time.monotonic() > deadline:
                raise ChainError(f"block {block} has not reached {self.confirmations} confirmations in time")
            time.sleep(1.0)
