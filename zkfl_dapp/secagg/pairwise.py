"""Pairwise mask secrets from ML-KEM-768 (FIPS 203) encapsulations, recoverable from the lower party's shares.

Each hospital registers one long-term ML-KEM-768 encapsulation key per membership (its decapsulation seed never
leaves it, and is never reconstructed). In each round, for every pair ``(lo, hi)`` (addresses compared as
integers), the lower party ``lo`` draws a fresh 32-byte KEM message ``m`` and encapsulates *deterministically*
to ``hi``'s key: ``(K, c) = ML-KEM.Encaps_internal(ek_hi, m)`` (kyber-py, byte-compatible with
``cryptography``'s ML-KEM: see ``zkfl_dapp.crypto.evidence``). ``c`` goes into ``lo``'s setup bundle; ``hi``
decapsulates it. The pair's mask seed is a hash of ``K`` bound to round and pair (:func:`pair_seed`).

``lo`` Shamir-shares ``m`` itself. If either side drops out, ``t`` survivors rebuild ``m``, and anyone re-derives
``K`` and checks it against the public ``c`` (:func:`encapsulate`: a wrong ``m`` never re-encapsulates to ``c``).
Why not share a per-round key-generation seed of ``hi`` instead: reconstructing a dropped hospital's
decapsulation key would also open every pair secret it ever decapsulated with that key, i.e. unmask its earlier
inputs; sharing per-pair messages opens exactly the pairs of this round that involve the dropped hospital.

``m'`` = K-PKE-decrypt of ``c`` (``zkfl_dapp.crypto.evidence.kem_message``) is public evidence of ``K`` for that one
ciphertext: ``hi`` publishes it to show that ``lo`` committed to a mask other than the one ``K`` gives.
"""

from __future__ import annotations

import hashlib

from kyber_py.ml_kem import ML_KEM_768

from zkfl_dapp.crypto.envelope import KEM_CIPHERTEXT_SIZE
from zkfl_dapp.crypto.key_pair import load_private_seed, load_public_key
from zkfl_dapp.exceptions import SecAggError
from zkfl_dapp.secagg.field import SEED_SIZE

__all__ = ["address_int", "decapsulate", "encapsulate", "ordered", "pair_seed"]

_PAIR_DOMAIN = b"zkfl-dapp/secagg/pair/v1"
KEM_MESSAGE_SIZE = 32


def address_int(address: str) -> int:
    """An address as the contract compares it (``uint160``)."""
    if not isinstance(address, str) or not address.startswith("0x") or len(address) != 42:
        raise SecAggError(f"not an address: {address!r}")
    return int(address, 16)


def ordered(a: str, b: str) -> tuple[str, str]:
    """``(lower, higher)`` of two distinct addresses."""
    if address_int(a) == address_int(b):
        raise SecAggError(f"a pair needs two hospitals, got {a} twice")
    return (a, b) if address_int(a) < address_int(b) else (b, a)


def encapsulate(public_key: bytes, message: bytes) -> tuple[bytes, bytes]:
    """``(K, c)`` of ML-KEM-768 encapsulation to ``public_key`` with the 32-byte ``message`` (deterministic).

    Raises:
        CryptoError: an invalid public key.
        SecAggError: a message of the wrong size.
    """
    load_public_key(public_key)
    if not isinstance(message, bytes) or len(message) != KEM_MESSAGE_SIZE:
        raise SecAggError(f"a KEM message is {KEM_MESSAGE_SIZE} bytes")
    key, ciphertext = ML_KEM_768._encaps_internal(public_key, message)
    return bytes(key), bytes(ciphertext)


def decapsulate(private_seed: bytes, ciphertext: bytes) -> bytes:
    """``K`` of a KEM ciphertext under the 64-byte private seed (``cryptography``'s ML-KEM-768).

    Raises:
        CryptoError: an invalid seed.
        SecAggError: a ciphertext of the wrong size.
    """
    if not isinstance(ciphertext, bytes) or len(ciphertext) != KEM_CIPHERTEXT_SIZE:
        raise SecAggError(f"an ML-KEM-768 ciphertext is {KEM_CIPHERTEXT_SIZE} bytes")
    return load_private_seed(private_seed).decapsulate(ciphertext)


def pair_seed(shared_key: bytes, round_id: int, lower: str, higher: str) -> bytes:
    """The 32-byte mask seed of pair ``(lower, higher)`` in ``round_id`` from the KEM shared secret."""
    if address_int(lower) >= address_int(higher):
        raise SecAggError(f"{lower} is not the lower address of the pair ({higher})")
    if not isinstance(shared_key, bytes) or len(shared_key) != SEED_SIZE:
        raise SecAggError(f"an ML-KEM shared secret is {SEED_SIZE} bytes")
    context = f"{round_id}|{lower.lower()}|{higher.lower()}".encode()
    return hashlib.sha3_256(_PAIR_DOMAIN + len(context).to_bytes(2, "big") + context + shared_key).digest()
