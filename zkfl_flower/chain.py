"""The consortium's contracts through web3.py, shaped like the ape contract instances the parties expect.

zkfl_dapp's hospital and enclave (:mod:`zkfl_dapp.protocol.hospital`, :mod:`zkfl_dapp.protocol.enclave`) and
its typed views (:mod:`zkfl_dapp.chain.views`) take "any object with the contract's ABI": they call
``contract.getRound(7)`` (results with attribute access), ``contract.finalizeRound(..., sender=account)``
(a receipt with ``txn_hash`` and ``gas_used``) and ``contract.RoundFinalized.range(start, stop,
search_topics=...)``. ape cannot be installed beside flwr (its ``packaging`` pin), so here
:class:`Contract` answers that small subset over web3.py, and the parties run unchanged.

The ABIs are ape's compiled ones (``.build/__local__.json``, written by ``ape compile``): one source for the
contracts' interface, never retyped.
"""

from __future__ import annotations

import json
import time
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted

from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.exceptions import ChainError, ConfigError

#: ape's compiled contracts: their ABIs are the interface this module speaks.
DEFAULT_ABI_MANIFEST = REPO_ROOT / ".build" / "__local__.json"

#: ape's (and anvil's) derivation path of the test mnemonic's accounts.
HD_PATH = "m/44'/60'/0'/0"

#: How long a transaction may take to be mined before :class:`ChainError`.
RECEIPT_TIMEOUT_S = 120.0

AbiEntry = Mapping[str, Any]


def load_abis(manifest: Path = DEFAULT_ABI_MANIFEST) -> dict[str, list[AbiEntry]]:
    """Contract name -> ABI, from ape's compiled manifest.

    Raises:
        ConfigError: no manifest (the contracts were never compiled) or a malformed one.
    """
    try:
        types = json.loads(manifest.read_text())["contractTypes"]
        return {name: list(t["abi"]) for name, t in types.items()}
    except FileNotFoundError as exc:
        raise ConfigError(f"no compiled contracts at {manifest}: run `ape compile` (or `make install`) first") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{manifest} is not ape's compiled manifest: {exc}") from exc


def dev_account(mnemonic: str, index: int) -> LocalAccount:
    """Account ``index`` of a development mnemonic, at ape's and anvil's derivation path.

    For a local development chain only (the test mnemonic is public).
    """
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(mnemonic, account_path=f"{HD_PATH}/{index}")


@dataclass(frozen=True)
class Receipt:
    """A mined, successful transaction (the fields the parties read from ape's receipts)."""

    txn_hash: str
    gas_used: int
    block_number: int


def _struct(value: Any, param: AbiEntry) -> Any:
    """A decoded ABI value with attribute access for tuples (as ape returns structs), recursively."""
    kind = str(param["type"])
    if not kind.startswith("tuple"):
        return value
    if kind.endswith("]"):
        inner = {**param, "type": kind[: kind.rindex("[")]}
        return [_struct(v, inner) for v in value]
    components = param["components"]
    cls = namedtuple("Struct", [c["name"] or f"f{i}" for i, c in enumerate(components)], rename=True)  # type: ignore[misc]
    return cls(*(_struct(v, c) for v, c in zip(value, components, strict=True)))


def _outputs(value: Any, outputs: Sequence[AbiEntry]) -> Any:
    """A call's result as ape gives it: the single value, or a tuple with attribute access."""
    if len(outputs) == 1:
        return _struct(value, outputs[0])
    cls = namedtuple("Result", [o["name"] or f"f{i}" for i, o in enumerate(outputs)], rename=True)  # type: ignore[misc]
    return cls(*(_struct(v, o) for v, o in zip(value, outputs, strict=True)))


class Chain:
    """A connected node: the web3 client, and how to wait for a round's deadline on it."""

    def __init__(self, rpc_url: str) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
        if not self.w3.is_connected():
            raise ChainError(f"no Ethereum node answers at {rpc_url}")

    @cached_property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    @cached_property
    def is_local_dev(self) -> bool:
        """Whether the node is a local anvil (time can be warped, the development passphrase is allowed)."""
        return str(self.w3.client_version).lower().startswith("anvil")

    def timestamp(self) -> int:
        """The latest block's timestamp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    @property
    def pending_timestamp(self) -> int:
        """The timestamp the next block gets (ape's ``chain_manager.pending_timestamp``): what a deadline check in
        the next transaction compares against."""
        return int(self.w3.eth.get_block("pending")["timestamp"])

    def wait_past(self, deadline: int, progress: Callable[[str], None]) -> None:
        """Until a block's timestamp passes ``deadline``: warped to on a local anvil, waited for elsewhere."""
        if self.is_local_dev:
            self.w3.provider.make_request("evm_setNextBlockTimestamp", [max(deadline + 1, self.timestamp() + 1)])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            return
        while (now := self.timestamp()) <= deadline:
            progress(f"waiting for the round's deadline ({deadline - now} s)")
            time.sleep(min(30, max(1, deadline - now)))

    def contract(self, address: str, abi: list[AbiEntry]) -> Contract:
        return Contract(self, Web3.to_checksum_address(address), abi)


class _Event:
    """``contract.EventName``: ape's ``range(start, stop, search_topics=...)`` over ``eth_getLogs``."""

    def __init__(self, contract: Contract, name: str) -> None:
        self._contract = contract
        self._name = name

    def range(self, start: int, stop: int, search_topics: Mapping[str, Any] | None = None) -> list[SimpleNamespace]:
        """The event's logs in blocks ``[start, stop)`` whose arguments equal ``search_topics``, in order."""
        if stop <= start:
            return []
        event = getattr(self._contract.raw.events, self._name)()
        logs = event.get_logs(from_block=start, to_block=stop - 1)
        wanted = dict(search_topics or {})
        out = []
        for log in logs:
            args = dict(log["args"])
            if all(args.get(k) == v for k, v in wanted.items()):
                out.append(
                    SimpleNamespace(
                        **args,
                        block_number=int(log["blockNumber"]),
                        transaction_hash="0x" + bytes(log["transactionHash"]).hex(),
                        event_name=self._name,
                    )
                )
        return out


class Contract:
    """One deployed contract: view functions return decoded values, others send a signed transaction.

    ``contract.f(*args)`` calls a view (``pure``/``view``) function; ``contract.f(*args, sender=account)``
    signs ``f`` with ``account`` (an eth-account ``LocalAccount``), sends it, waits for it to be mined and
    returns a :class:`Receipt`. A revert raises :class:`ChainError` naming the contract's custom error.
    """

    def __init__(self, chain: Chain, address: str, abi: list[AbiEntry]) -> None:
        self.chain = chain
        self.address = address
        self.abi = abi
        self.raw = chain.w3.eth.contract(address=address, abi=abi)  # type: ignore[call-overload]
        self._functions = {e["name"]: e for e in abi if e.get("type") == "function"}
        self._events = {e["name"] for e in abi if e.get("type") == "event"}
        self._errors = {
            keccak(text=f"{e['name']}({','.join(_type_of(i) for i in e['inputs'])})")[:4]: str(e["name"])
            for e in abi
            if e.get("type") == "error"
        }

    @property
    def chain_manager(self) -> Chain:
        """The chain, as ape's ``contract.chain_manager`` (the parties read ``pending_timestamp`` from it)."""
        return self.chain

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._events:
            return _Event(self, name)
        entry = self._functions.get(name)
        if entry is None:
            raise AttributeError(f"contract {self.address} has no function or event {name!r} in its ABI")

        def call(*args: Any, sender: LocalAccount | None = None) -> Any:
            if entry.get("stateMutability") in ("view", "pure"):
                try:
                    return _outputs(self.raw.functions[name](*args).call(), entry["outputs"])
                except (ContractCustomError, ContractLogicError) as exc:
                    raise ChainError(f"{name}: {self._reason(exc)}") from exc
            if sender is None:
                raise ChainError(f"{name} changes state: pass sender=<account> to sign it")
            return self._transact(name, args, sender)

        return call

    def _reason(self, exc: Exception) -> str:
        """The custom error's name where the revert data names one of the ABI's errors."""
        data = getattr(exc, "data", None)
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            name = self._errors.get(bytes.fromhex(data[2:10]))
            if name is not None:
                return f"reverted with {name} (data {data[:74]}{'...' if len(data) > 74 else ''})"
        return f"reverted: {exc}"

    def _transact(self, name: str, args: tuple[Any, ...], sender: LocalAccount) -> Receipt:
        fn = self.raw.functions[name](*args)
        w3 = self.chain.w3
        try:
            fn.call({"from": sender.address})  # a revert is reported with its custom error before anything is sent
            tx = fn.build_transaction(
                {
                    "from": sender.address,
                    "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
                    "chainId": self.chain.chain_id,
                }
            )
        except (ContractCustomError, ContractLogicError) as exc:
            raise ChainError(f"{name} by {sender.address}: {self._reason(exc)}") from exc
        signed = sender.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        try:
            receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
        except TimeExhausted as exc:
            raise ChainError(f"{name}: transaction {tx_hash.hex()} not mined in {RECEIPT_TIMEOUT_S:.0f} s") from exc
        if int(receipt["status"]) != 1:
            raise ChainError(f"{name}: transaction 0x{tx_hash.hex()} reverted when mined")
        return Receipt(
            "0x" + bytes(receipt["transactionHash"]).hex(), int(receipt["gasUsed"]), int(receipt["blockNumber"])
        )


def _type_of(param: AbiEntry) -> str:
    """The canonical type of an ABI parameter (tuples spelled out), as error selectors hash it."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_type_of(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind
