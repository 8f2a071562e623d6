"""t-of-n Shamir shares of 32-byte seeds (pycryptodome's ``Shamir``, GF(2^128), 16-byte secrets).

A 32-byte seed is split into two 16-byte pieces, each shared with the same ``t`` and ``n``; a holder's share is
its two pieces' shares concatenated (32 bytes) at its Shamir index (1-based, the holder's position in the
dealer's setup bundle). Any ``t`` shares give the seed; ``t - 1`` give no information about it (Shamir's
scheme is perfectly hiding).

Shares are not verifiable by themselves, so the dealer publishes a digest of every holder's share of every secret
(:func:`share_digest`, bound to round, dealer, holder and secret): a revealed share that does not match its digest
is the responder's fault, and shares that all match but do not reconstruct the committed seed are the dealer's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir

from zkfl_dapp.exceptions import SecAggError, SecAggThresholdError
from zkfl_dapp.secagg.field import SEED_SIZE

__all__ = ["PIECE_SIZE", "Share", "combine_shares", "share_digest", "split_secret"]

#: pycryptodome's Shamir shares 16-byte secrets.
PIECE_SIZE = 16
#: Most holders (pycryptodome's indices and the contract's roster indices are small integers).
MAX_HOLDERS = 255
_DIGEST_DOMAIN = b"zkfl-dapp/secagg/share/v1"


@dataclass(frozen=True)
class Share:
    """One holder's share of one 32-byte seed: its Shamir ``index`` (1-based) and 32 bytes."""

    index: int
    value: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.index, int) or not 1 <= self.index <= MAX_HOLDERS:
            raise SecAggError(f"a share index is in [1, {MAX_HOLDERS}], got {self.index!r}")
        if not isinstance(self.value, bytes) or len(self.value) != SEED_SIZE:
            raise SecAggError(f"a share is {SEED_SIZE} bytes")


def split_secret(secret: bytes, threshold: int, holders: int) -> tuple[Share, ...]:
    """``holders`` shares of ``secret`` (32 bytes), any ``threshold`` of which reconstruct it.

    Raises:
        SecAggError: a secret of the wrong size, or not ``2 <= threshold <= holders <= 255``.
    """
    if not isinstance(secret, bytes) or len(secret) != SEED_SIZE:
        raise SecAggError(f"a shared secret is {SEED_SIZE} bytes")
    if not 2 <= threshold <= holders <= MAX_HOLDERS:
        raise SecAggError(f"need 2 <= t <= n <= {MAX_HOLDERS}, got t={threshold}, n={holders}")
    pieces = [
        Shamir.split(threshold, holders, secret[k : k + PIECE_SIZE], ssss=False)
        for k in range(0, SEED_SIZE, PIECE_SIZE)
    ]
    return tuple(Share(idx, b"".join(p[j][1] for p in pieces)) for j, idx in enumerate(i for i, _ in pieces[0]))


def combine_shares(shares: Sequence[Share], threshold: int) -> bytes:
    """The secret of ``threshold`` shares with distinct indices (the lowest indices of those given).

    Raises:
        SecAggThresholdError: fewer than ``threshold`` distinct indices.
        SecAggError: two different shares at one index.
    """
    by_index: dict[int, bytes] = {}
    for s in shares:
        if by_index.setdefault(s.index, s.value) != s.value:
            raise SecAggError(f"two different shares at index {s.index}")
    if len(by_index) < threshold:
        raise SecAggThresholdError(f"{len(by_index)} shares of a {threshold}-of-n secret: at least {threshold} needed")
    chosen = sorted(by_index.items())[:threshold]
    return b"".join(
        Shamir.combine([(i, v[k : k + PIECE_SIZE]) for i, v in chosen], ssss=False)
        for k in range(0, SEED_SIZE, PIECE_SIZE)
    )


def share_digest(round_id: int, dealer: str, holder: str, secret_id: str, share: Share) -> str:
    """Hex SHA-256 binding one share to its round, dealer, holder and secret (published in the setup bundle)."""
    parts = (str(round_id), dealer.lower(), holder.lower(), secret_id, str(share.index))
    return hashlib.sha256(_DIGEST_DOMAIN + "|".join(parts).encode() + b"|" + share.value).hexdigest()
