"""A party's polling loop rides out a dead chain, and a transaction is called done only once it is durable."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from zkfl_dapp.apps.parties.context import poll
from zkfl_dapp.apps.parties.durability import Durability
from zkfl_dapp.exceptions import ChainError


def test_a_step_failing_while_the_chain_is_down_is_retried_with_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("zkfl_dapp.apps.parties.context.time.sleep", sleeps.append)
    state = {"up": False, "calls": 0}
    said: list[str] = []

    def step() -> None:
        state["calls"] += 1
        if state["calls"] == 4:
            state["up"] = True
        if not state["up"]:
            raise ConnectionError("refused")

    poll(step, interval=0.5, stop=lambda: state["calls"] >= 6, reachable=lambda: state["up"], progress=said.append)
    assert sleeps[:3] == [1.0, 2.0, 4.0]  # exponential back-off while down
    assert said[0].startswith("the chain does not answer (ConnectionError)")
    assert any("answers again" in line for line in said)


def test_a_step_failing_while_the_chain_answers_is_a_real_error() -> None:
    def step() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        poll(step, interval=0.1, reachable=lambda: True)
    with pytest.raises(ValueError):  # without a reachability probe every error ends the loop, as before
        poll(step, interval=0.1)


def test_back_off_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("zkfl_dapp.apps.parties.context.time.sleep", sleeps.append)
    calls = {"n": 0}

    def step() -> None:
        calls["n"] += 1
        raise ConnectionError

    poll(step, interval=1, stop=lambda: calls["n"] >= 9, reachable=lambda: False, max_backoff=30.0)
    assert max(sleeps) == 30.0 and sleeps[-1] == 30.0


def _state(path: Path, block: int) -> None:
    path.write_text(json.dumps({"block": {"number": hex(block)}}))


def test_local_durability_waits_for_the_state_file_to_hold_the_block(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    _state(state, 4)
    d = Durability(chain=None, state_file=state, timeout_s=5.0)
    timer = threading.Timer(0.3, _state, args=(state, 5))
    timer.start()
    started = time.monotonic()
    d.wait(5)
    assert time.monotonic() - started >= 0.25  # it waited for the save, not for the receipt
    timer.join()


def test_local_durability_refuses_a_block_that_is_never_saved(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    _state(state, 4)
    with pytest.raises(ChainError, match="not durable yet"):
        Durability(chain=None, state_file=state, timeout_s=0.3).wait(5)


def test_a_local_chain_without_a_state_file_has_only_its_receipt(tmp_path: Path) -> None:
    Durability(chain=None, state_file=tmp_path / "absent.json", timeout_s=0.1).wait(99)


def test_remote_durability_counts_confirmations(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = SimpleNamespace(height=10)
    waited: list[int] = []

    def one_block_later(_: float) -> None:
        waited.append(blocks.height)
        blocks.height += 1

    monkeypatch.setattr("zkfl_dapp.apps.parties.durability.time.sleep", one_block_later)
    Durability(chain=SimpleNamespace(blocks=blocks), state_file=None, confirmations=3, timeout_s=5.0).wait(10)
    assert blocks.height == 12 and waited == [10, 11]  # the block itself and two on top
