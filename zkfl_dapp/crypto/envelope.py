"""Hybrid post-quantum encryption of model updates to the aggregator enclave.

A hospital seals its update to the enclave's registered ML-KEM-768 (FIPS 203) public key:

1. ML-KEM-768 encapsulation gives a 32-byte shared secret and a 1088-byte KEM ciphertext.
2. HKDF-SHA256 (salt = the KEM ciphertext, info = ``b"zkfl-dapp/update/v1"``) derives a 32-byte key.
3. AES-256-GCM with a random 12-byte nonce encrypts the update; the associated data binds the
   ciphertext to ``(round_id, hospital, enclave key, commitment)`` (:func:`associated_data`) so it cannot be replayed in
   another context.

Envelope layout (all fixed-size fields, so parsing is unambiguous)::

    b"ZKFLENC1" (8) || kem_ct (1088) || nonce (12) || aes_gcm_ciphertext || tag (16)

The key pair is :mod:`.key_pair`, the associated data :mod:`.binding` (both re-exported here, as the
envelope's inputs); the key at rest, encrypted under a passphrase, is :mod:`.key_file`.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zkfl_dapp.crypto.binding import associated_data
from zkfl_dapp.crypto.key_pair import (
    PUBLIC_KEY_SIZE,
    SEED_SIZE,
    EnclaveKeyPair,
    load_private_seed,
    load_public_key,
    public_key_hash_of,
)
from zkfl_dapp.exceptions import CryptoError, DecryptionError

__all__ = [
    "ENVELOPE_MAGIC",
    "KEM_CIPHERTEXT_SIZE",
    "MIN_ENVELOPE_SIZE",
    "NONCE_SIZE",
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "TAG_SIZE",
    "EnclaveKeyPair",
    "associated_data",
    "open_sealed",
    "public_key_hash_of",
    "seal",
]

ENVELOPE_MAGIC: Final = b"ZKFLENC1"
"""First 8 bytes of every sealed envelope (format version 1)."""
HKDF_INFO: Final = b"zkfl-dapp/update/v1"
"""HKDF ``info`` string for the update encryption key."""

KEM_CIPHERTEXT_SIZE: Final = 1088
"""Size of an ML-KEM-768 ciphertext."""
NONCE_SIZE: Final = 12
"""AES-GCM nonce size."""
TAG_SIZE: Final = 16
"""AES-GCM tag size."""
MIN_ENVELOPE_SIZE: Final = len(ENVELOPE_MAGIC) + KEM_CIPHERTEXT_SIZE + NONCE_SIZE + TAG_SIZE
"""Smallest valid envelope (empty plaintext)."""


def _derive_key(shared_secret: bytes, kem_ciphertext: bytes) -> bytes:
    """HKDF-SHA256(shared_secret, salt=kem_ciphertext, info=HKDF_INFO) -> 32-byte AES key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=kem_ciphertext, info=HKDF_INFO).derive(shared_secret)


def seal(public_key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """Encrypts ``plaintext`` to an ML-KEM-768 public key.

    Args:
        public_key: The enclave's 1184-byte encoded public key.
        plaintext: The bytes to encrypt (e.g. a serialized model update).
        ad: Associated data, normally from :func:`associated_data`; authenticated, not encrypted.

    Returns:
        The envelope ``b"ZKFLENC1" || kem_ct || nonce || ciphertext || tag``.

    Raises:
        CryptoError: If the public key is invalid or the inputs are not bytes.
    """
    recipient = load_public_key(public_key)
    if not isinstance(plaintext, bytes) or not isinstance(ad, bytes):
        raise CryptoError("plaintext and associated data must be bytes")
    shared_secret, kem_ciphertext = recipient.encapsulate()
    nonce = os.urandom(NONCE_SIZE)
    ciphertext = AESGCM(_derive_key(shared_secret, kem_ciphertext)).encrypt(nonce, plaintext, ad)
    return ENVELOPE_MAGIC + kem_ciphertext + nonce + ciphertext


def open_sealed(key: EnclaveKeyPair | bytes, envelope: bytes, ad: bytes) -> bytes:
    """Decrypts an envelope produced by :func:`seal`.

    Args:
        key: The enclave key pair, or its 64-byte private seed.
        envelope: The sealed envelope.
        ad: The associated data the sender used; any difference fails authentication.

    Returns:
        The plaintext.

    Raises:
        DecryptionError: If the envelope is malformed or truncated, or authentication fails
            (wrong key, wrong associated data, or any modified byte).
        CryptoError: If ``key`` is not a valid key pair or seed.
    """
    seed = key.private_key if isinstance(key, EnclaveKeyPair) else key
    private = load_private_seed(seed)
    if not isinstance(envelope, bytes) or not isinstance(ad, bytes):
        raise DecryptionError("envelope and associated data must be bytes")
    if len(envelope) < MIN_ENVELOPE_SIZE:
        raise DecryptionError(f"envelope is truncated: {len(envelope)} bytes, at least {MIN_ENVELOPE_SIZE} expected")
    if not envelope.startswith(ENVELOPE_MAGIC):
        raise DecryptionError(
            f"not a zkfl update envelope: magic {envelope[:len(ENVELOPE_MAGIC)]!r}, " f"expected {ENVELOPE_MAGIC!r}"
        )
    offset = len(ENVELOPE_MAGIC)
    kem_ciphertext = envelope[offset : offset + KEM_CIPHERTEXT_SIZE]
    offset += KEM_CIPHERTEXT_SIZE
    nonce = envelope[offset : offset + NONCE_SIZE]
    ciphertext = envelope[offset + NONCE_SIZE :]
    try:
        # ML-KEM uses implicit rejection: a wrong key or a modified KEM ciphertext yields an
        # unrelated shared secret, which then fails the AES-GCM tag check below.
        shared_secret = private.decapsulate(kem_ciphertext)
    except ValueError as exc:
        raise DecryptionError(f"invalid ML-KEM-768 ciphertext in envelope: {exc}") from exc
    try:
        return AESGCM(_derive_key(shared_secret, kem_ciphertext)).decrypt(nonce, ciphertext, ad)
    except InvalidTag:
        raise DecryptionError(
            "envelope failed authentication: wrong enclave key, wrong associated data "
            "(round, hospital or commitment), or the envelope was tampered with"
        ) from None
