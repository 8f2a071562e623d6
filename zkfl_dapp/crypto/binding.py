"""The associated data that binds a sealed update to its context: round, hospital, the enclave key it is sealed to,
and commitment.

Kept apart from the envelope itself because both the hospital (sealing) and the enclave and the auditor
(opening, re-deriving) build it, and because its encoding is a format of its own: a change to it is a new
domain tag (``AD_DOMAIN``), not a change to the cipher.
"""

from __future__ import annotations

import re
from typing import Final

from zkfl_dapp.exceptions import CryptoError

AD_DOMAIN: Final = b"zkfl-dapp/ad/v3"
"""Domain-separation prefix of :func:`associated_data`."""


_UINT256_LIMIT: Final = 1 << 256
_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}")


#: Most commitment points the associated data takes (chunks of a chunked model).
MAX_AD_POINTS = 4096


def associated_data(round_id: int, hospital: str, commitment: bytes, *, enclave_key_hash: bytes) -> bytes:
    """Builds the canonical AES-GCM associated data binding an update to its context.

    Encoding: ``b"zkfl-dapp/ad/v3" || uint256_be(round_id) || address (20 bytes) || enclave key SHA-256 (32 bytes)
    || commitment (64 bytes per point)``; every field before the commitment has a fixed size and the commitment
    is the tail, so the encoding is injective. The key hash records which registered enclave key the update was
    sealed to (the registry's ``enclaveKey().keyHash``; an open round locks it).

    Args:
        round_id: Federated round number, ``0 <= round_id < 2**256``.
        hospital: The hospital's Ethereum address, ``0x`` + 40 hex digits (any case; the
            EIP-55 checksum is not checked).
        commitment: The update's on-chain KZG commitment, 64 bytes ``x || y`` (big-endian) per point: one
            point, or one per chunk of a chunked model, in chunk order (at most :data:`MAX_AD_POINTS`).

        enclave_key_hash: SHA-256 of the enclave's ML-KEM-768 public key the update is sealed to (32 bytes).

    Returns:
        The associated-data bytes (131 + 64 per point: 195 bytes for one point).

    Raises:
        CryptoError: If a field is out of range or the address is malformed.
    """
    if not isinstance(round_id, int) or isinstance(round_id, bool):
        raise CryptoError(f"round_id must be an int, got {type(round_id).__name__}")
    if not 0 <= round_id < _UINT256_LIMIT:
        raise CryptoError(f"round_id must fit in a uint256, got {round_id}")
    if (
        not isinstance(commitment, bytes)
        or not commitment
        or len(commitment) % 64
        or len(commitment) > 64 * MAX_AD_POINTS
    ):
        raise CryptoError(
            f"commitment must be 1 to {MAX_AD_POINTS} 64-byte point encodings x || y, "
            f"got {len(commitment) if isinstance(commitment, bytes) else type(commitment).__name__} bytes"
        )
    if not isinstance(hospital, str) or _ADDRESS_RE.fullmatch(hospital) is None:
        raise CryptoError(f"hospital must be a 0x-prefixed 20-byte hex address, got {hospital!r}")
    if not isinstance(enclave_key_hash, bytes) or len(enclave_key_hash) != 32:
        raise CryptoError("enclave_key_hash must be the 32-byte SHA-256 of the enclave's public key")
    return AD_DOMAIN + round_id.to_bytes(32, "big") + bytes.fromhex(hospital[2:]) + enclave_key_hash + commitment
