"""Receipt polling on a local chain (zkfl_dapp.chain.receipts): every poll of web3's wait goes out at the local
latency unless the caller names one; only that connection changes."""

from __future__ import annotations

from typing import Any

from zkfl_dapp.chain.receipts import LOCAL_POLL_SECONDS, poll_receipts_quickly


class _Eth:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, float, float]] = []

    def wait_for_transaction_receipt(self, tx: Any, timeout: float = 120, poll_latency: float = 0.1) -> Any:
        self.calls.append((tx, timeout, poll_latency))
        return {"transactionHash": tx}


class _Web3:
    def __init__(self) -> None:
        self.eth = _Eth()


def test_local_connection_polls_at_the_local_latency() -> None:
    w3, other = _Web3(), _Web3()
    poll_receipts_quickly(w3)
    poll_receipts_quickly(w3)  # idempotent: not wrapped twice
    assert w3.eth.wait_for_transaction_receipt("0xab", timeout=30) == {"transactionHash": "0xab"}
    assert w3.eth.calls == [("0xab", 30, LOCAL_POLL_SECONDS)]
    w3.eth.wait_for_transaction_receipt("0xcd", poll_latency=0.5)
    assert w3.eth.calls[-1] == ("0xcd", 120, 0.5)
    other.eth.wait_for_transaction_receipt("0xef")
    assert other.eth.calls == [("0xef", 120, 0.1)]
