"""Receipt polling on a local chain.

web3.py waits for a receipt by asking for it and, when it is not there yet, sleeping ``poll_latency``
(0.1 s by default) before asking again; ape calls it without that argument. anvil mines a transaction a few
milliseconds after accepting it, so on the local chain every transaction paid most of 0.1 s asleep: 0.5 s of
the 0.9 s five d = 31 submissions took (the bench, profiled). On a local chain the parties poll every
:data:`LOCAL_POLL_SECONDS` instead; on any other network web3's default stays.
"""

from __future__ import annotations

from typing import Any

#: Seconds between receipt polls on a local chain (anvil answers a poll in about a millisecond).
LOCAL_POLL_SECONDS = 0.005


def poll_receipts_quickly(web3: Any, poll_seconds: float = LOCAL_POLL_SECONDS) -> None:
    """Make ``web3.eth.wait_for_transaction_receipt`` poll every ``poll_seconds`` unless its caller says
    otherwise (an instance attribute: only this connection changes). Idempotent."""
    eth = web3.eth
    wait = eth.wait_for_transaction_receipt
    if getattr(wait, "zkfl_poll_seconds", None) is not None:
        return

    def wait_quickly(transaction_hash: Any, timeout: float = 120, poll_latency: float | None = None) -> Any:
        return wait(
            transaction_hash, timeout=timeout, poll_latency=poll_seconds if poll_latency is None else poll_latency
        )

    wait_quickly.zkfl_poll_seconds = poll_seconds  # type: ignore[attr-defined]
    eth.wait_for_transaction_receipt = wait_quickly
