"""ML-KEM-768 decapsulation evidence for one envelope (docs/exclusions.md).

ML-KEM (FIPS 203) encapsulation is deterministic in its 32-byte message ``m``: ``(K, r) = G(m || H(ek))`` and
the KEM ciphertext is ``c = K-PKE.Encrypt(ek, m, r)``. Decapsulation K-PKE-decrypts ``c`` to ``m'`` and
re-encrypts. So ``m'`` is a proof, checkable with the public key alone, of the shared secret ``K`` of that one
ciphertext: anyone recomputes ``(K, c') = ML-KEM.Encaps_internal(ek, m')`` and accepts iff ``c' == c``. With
``K`` they derive the envelope's AES-256-GCM key (HKDF as in :mod:`zkfl_dapp.crypto.envelope`) and see whether
the envelope authenticates and what it holds. ``m'`` says nothing about the decapsulation key (``m'`` is what
the sender chose) nor about any other envelope.

``cryptography`` has ML-KEM-768 but neither exposes ``m`` nor encapsulates with a given one, so the evidence
side uses ``kyber-py`` (pinned, pure Python, ~10 ms per check), whose keys derived from the same 64-byte seed
``d || z`` are byte-identical to ``cryptography``'s (tests/unit/test_exclusion_evidence.py checks it).

One case has no public proof: a KEM ciphertext outside the image of encapsulation (only a hospital that
deviates from the protocol produces one: an honest encapsulation decrypts correctly except with probability
about 2^-164). The enclave then publishes ``m'`` anyway and re-encapsulation visibly fails; a hospital that
sealed with :func:`seal_recoverable` kept its ``m`` and can disprove the claim by publishing it.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from kyber_py.ml_kem import ML_KEM_768

from zkfl_dapp.crypto.envelope import (
    ENVELOPE_MAGIC,
    KEM_CIPHERTEXT_SIZE,
    MIN_ENVELOPE_SIZE,
    NONCE_SIZE,
    PUBLIC_KEY_SIZE,
    SEED_SIZE,
    _derive_key,
)
from zkfl_dapp.crypto.key_pair import load_public_key
from zkfl_dapp.exceptions import CryptoError, DecryptionError, EvidenceError

KEM_MESSAGE_SIZE = 32
#: Bytes of the K-PKE decryption key at the start of an expanded ML-KEM-768 decapsulation key (384 * k, k = 3).
_DK_PKE_SIZE = 384 * 3


def split_envelope(envelope: bytes) -> tuple[bytes, bytes, bytes]:
    """``(kem_ciphertext, nonce, aes_gcm_ciphertext_and_tag)`` of an envelope (layout of crypto.envelope).

    Raises:
        DecryptionError: too short or not an envelope.
    """
    if not isinstance(envelope, bytes) or len(envelope) < MIN_ENVELOPE_SIZE:
        raise DecryptionError(f"envelope is truncated: at least {MIN_ENVELOPE_SIZE} bytes expected")
    if not envelope.startswith(ENVELOPE_MAGIC):
        raise DecryptionError(f"not a zkfl update envelope: magic {envelope[: len(ENVELOPE_MAGIC)]!r}")
    offset = len(ENVELOPE_MAGIC)
    kem = envelope[offset : offset + KEM_CIPHERTEXT_SIZE]
    offset += KEM_CIPHERTEXT_SIZE
    return kem, envelope[offset : offset + NONCE_SIZE], envelope[offset + NONCE_SIZE :]


def kem_message(seed: bytes, kem_ciphertext: bytes) -> bytes:
    """``m' = K-PKE.Decrypt(dk_pke, c)``: the decapsulation evidence of one KEM ciphertext, from the enclave's
    64-byte seed. It proves the shared secret only when :func:`shared_secret` accepts it.

    Raises:
        CryptoError: a seed or ciphertext of the wrong size.
    """
    if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
        raise CryptoError(f"ML-KEM-768 private seed must be {SEED_SIZE} bytes")
    if not isinstance(kem_ciphertext, bytes) or len(kem_ciphertext) != KEM_CIPHERTEXT_SIZE:
        raise CryptoError(f"ML-KEM-768 ciphertext must be {KEM_CIPHERTEXT_SIZE} bytes")
    _, dk = ML_KEM_768.key_derive(seed)
    return bytes(ML_KEM_768._k_pke_decrypt(dk[:_DK_PKE_SIZE], kem_ciphertext))


def shared_secret(public_key: bytes, kem_ciphertext: bytes, message: bytes) -> bytes:
    """The shared secret of ``kem_ciphertext`` proven by ``message`` (``m'``), from public data alone.

    Raises:
        EvidenceError: ``message`` has the wrong size or does not re-encapsulate to ``kem_ciphertext`` under
            ``public_key`` (a forged ``m'``, another key, or a ciphertext that is no encapsulation).
        CryptoError: an invalid public key.
    """
    load_public_key(public_key)  # size and FIPS 203 modulus check
    if not isinstance(message, bytes) or len(message) != KEM_MESSAGE_SIZE:
        raise EvidenceError(f"a KEM message is {KEM_MESSAGE_SIZE} bytes")
    if not isinstance(kem_ciphertext, bytes) or len(kem_ciphertext) != KEM_CIPHERTEXT_SIZE:
        raise EvidenceError(f"a KEM ciphertext is {KEM_CIPHERTEXT_SIZE} bytes")
    key, ciphertext = ML_KEM_768._encaps_internal(public_key, message)
    if ciphertext != kem_ciphertext:
        raise EvidenceError(
            "the KEM message does not re-encapsulate to the envelope's KEM ciphertext under the enclave's public "
            "key: it proves nothing (forged, another key, or a KEM ciphertext that is no encapsulation)"
        )
    return bytes(key)


def open_with_message(public_key: bytes, envelope: bytes, ad: bytes, message: bytes) -> bytes | None:
    """Decrypt ``envelope`` with the shared secret ``message`` proves: the plaintext, or ``None`` when the
    envelope provably fails AES-256-GCM authentication under ``ad``.

    Raises:
        EvidenceError: ``message`` proves no shared secret for this envelope (see :func:`shared_secret`).
        DecryptionError: not an envelope.
    """
    kem, nonce, body = split_envelope(envelope)
    key = shared_secret(public_key, kem, message)
    try:
        return AESGCM(_derive_key(key, kem)).decrypt(nonce, body, ad)
    except InvalidTag:
        return None


def seal_recoverable(public_key: bytes, plaintext: bytes, ad: bytes) -> tuple[bytes, bytes]:
    """:func:`zkfl_dapp.crypto.envelope.seal`, byte-compatible (the enclave opens it with ``open_sealed``), that
    also returns the KEM message ``m`` it encapsulated: the sender keeps it to prove, if the enclave ever
    claims the envelope is undecryptable, what its shared secret is (publishing ``m`` discloses this update).

    Raises:
        CryptoError: an invalid public key or non-bytes input.
    """
    load_public_key(public_key)
    if len(public_key) != PUBLIC_KEY_SIZE or not isinstance(plaintext, bytes) or not isinstance(ad, bytes):
        raise CryptoError("plaintext and associated data must be bytes")
    message = os.urandom(KEM_MESSAGE_SIZE)
    key, kem = ML_KEM_768._encaps_internal(public_key, message)
    nonce = os.urandom(NONCE_SIZE)
    body = AESGCM(_derive_key(bytes(key), bytes(kem))).encrypt(nonce, plaintext, ad)
    return ENVELOPE_MAGIC + bytes(kem) + nonce + body, message


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 (how evidence files name envelopes and keys)."""
    return hashlib.sha256(data).hexdigest()
