"""zkfl_dapp.chain.views' commitments: ordered tuples of points, hashed and printed as the chain and the
reports do, and the model record checked against the stored hash (on a stand-in RoundManager)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from eth_utils import keccak

from zkfl_dapp.chain.views import (
    as_commitment,
    commitment_bytes,
    commitment_hash,
    commitment_hex,
    model_record,
    parse_commitment_hex,
    point_hash,
)
from zkfl_dapp.exceptions import ChainError

P = (1, 2)
Q = (3, 2**255 + 7)


def _word(v: int) -> bytes:
    return v.to_bytes(32, "big")


def test_commitment_bytes_are_the_points_in_order() -> None:
    assert commitment_bytes((P,)) == _word(1) + _word(2)
    assert commitment_bytes((P, Q)) == _word(1) + _word(2) + _word(3) + _word(2**255 + 7)
    assert commitment_bytes((Q, P)) != commitment_bytes((P, Q))


def test_one_points_hash_is_the_historical_point_hash() -> None:
    assert commitment_hash((P,)) == point_hash(P) == keccak(_word(1) + _word(2))


def test_a_chunked_hash_covers_every_point_in_order() -> None:
    assert commitment_hash((P, Q)) == keccak(commitment_bytes((P, Q)))
    assert commitment_hash((P, Q)) not in {commitment_hash((Q, P)), commitment_hash((P,)), commitment_hash((Q,))}


@pytest.mark.parametrize("commitment", [(P,), (P, Q), (Q, P, Q)])
def test_commitment_hex_round_trips(commitment: tuple[tuple[int, int], ...]) -> None:
    text = commitment_hex(commitment)
    assert text.startswith("0x") and len(text) == 2 + 128 * len(commitment)
    assert parse_commitment_hex(text) == commitment
    assert parse_commitment_hex(text.removeprefix("0x")) == commitment


@pytest.mark.parametrize("text", ["0x", "", "0x" + "00" * 63, "0x" + "00" * 65, "0x" + "00" * 127])
def test_parse_commitment_hex_refuses_anything_but_whole_points(text: str) -> None:
    with pytest.raises(ChainError, match="non-empty sequence of 64-byte points"):
        parse_commitment_hex(text)


def test_as_commitment_reads_ape_lists_of_pairs() -> None:
    assert as_commitment([[1, 2], [3, 4]]) == ((1, 2), (3, 4))
    assert as_commitment([]) == ()


class _Manager:
    """A stand-in RoundManager: the genesis model and round 1's RoundFinalized event."""

    def __init__(self, genesis: list[list[int]], stored: dict[int, bytes], event_points: list[list[int]]) -> None:
        self._genesis, self._stored = genesis, stored
        event = SimpleNamespace(newModelCommitment=event_points, newModelCid="bafy-one")
        self.RoundFinalized = SimpleNamespace(range=lambda *_a, **_k: iter([event]))

    def genesisModelCommitment(self) -> list[list[int]]:
        return self._genesis

    def genesisModelCid(self) -> str:
        return "bafy-genesis"

    def modelOf(self, round_id: int) -> bytes:
        return self._stored[round_id]

    def getRound(self, round_id: int) -> Any:
        return SimpleNamespace(finalizedBlock=9)


def test_model_record_returns_the_points_matching_the_stored_hash() -> None:
    rm = _Manager([list(P), list(Q)], {0: commitment_hash((P, Q)), 1: commitment_hash((Q,))}, [list(Q)])
    assert model_record(rm, 0) == ((P, Q), "bafy-genesis")
    assert model_record(rm, 1) == ((Q,), "bafy-one")


@pytest.mark.parametrize(
    ("genesis", "stored"),
    [
        ([list(P), list(Q)], commitment_hash((Q, P))),  # the points in another order
        ([list(P), list(Q)], commitment_hash((P,))),  # a point the hash does not cover
        ([], commitment_hash(())),  # no point at all, even if the hash is of nothing
    ],
)
def test_model_record_refuses_points_not_matching_the_stored_hash(genesis: list[list[int]], stored: bytes) -> None:
    with pytest.raises(ChainError, match="does not match the stored hash"):
        model_record(_Manager(genesis, {0: stored}, []), 0)
