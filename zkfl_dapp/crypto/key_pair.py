"""The enclave's ML-KEM-768 (FIPS 203) key pair: its sizes, validation, and the hash registered on-chain.

The private key is held as the 64-byte seed (``d || z``) from which the full decapsulation key is re-derived,
so the seed is all that is stored (:mod:`.key_file`) and all that must be kept secret.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey

from zkfl_dapp.exceptions import CryptoError

PUBLIC_KEY_SIZE: Final = 1184
"""Size of an encoded ML-KEM-768 encapsulation (public) key."""
SEED_SIZE: Final = 64
"""Size of the ML-KEM private seed (``d || z``)."""


def load_public_key(public_key: bytes) -> MLKEM768PublicKey:
    """Parses an encoded ML-KEM-768 public key, raising :class:`CryptoError` if invalid."""
    if not isinstance(public_key, bytes):
        raise CryptoError(f"ML-KEM-768 public key must be bytes, got {type(public_key).__name__}")
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise CryptoError(f"ML-KEM-768 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(public_key)}")
    try:
        return MLKEM768PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        # Right length but a coefficient is out of range (FIPS 203 modulus check).
        raise CryptoError(f"invalid ML-KEM-768 public key (failed the modulus check): {exc}") from exc


def load_private_seed(seed: bytes) -> MLKEM768PrivateKey:
    """Re-derives an ML-KEM-768 private key from its 64-byte seed."""
    if not isinstance(seed, bytes):
        raise CryptoError(f"ML-KEM-768 private seed must be bytes, got {type(seed).__name__}")
    if len(seed) != SEED_SIZE:
        raise CryptoError(f"ML-KEM-768 private seed must be {SEED_SIZE} bytes, got {len(seed)}")
    try:
        return MLKEM768PrivateKey.from_seed_bytes(seed)
    except ValueError as exc:
        raise CryptoError(f"invalid ML-KEM-768 private seed: {exc}") from exc


def public_key_hash_of(public_key: bytes) -> bytes:
    """Returns SHA-256 of an encoded ML-KEM-768 public key (what gets registered on-chain).

    Args:
        public_key: The 1184-byte encoded public key.

    Returns:
        The 32-byte digest.

    Raises:
        CryptoError: If ``public_key`` is not a valid ML-KEM-768 public key.
    """
    load_public_key(public_key)
    return hashlib.sha256(public_key).digest()


@dataclass(frozen=True)
class EnclaveKeyPair:
    """The aggregator enclave's ML-KEM-768 key pair.

    Attributes:
        public_key: The 1184-byte encoded encapsulation key.
        private_key: The 64-byte seed (``d || z``) the decapsulation key is derived from.
            Excluded from ``repr``.
    """

    public_key: bytes
    private_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        derived = load_private_seed(self.private_key).public_key().public_bytes_raw()
        load_public_key(self.public_key)
        if derived != self.public_key:
            raise CryptoError("ML-KEM-768 public key does not match the private seed")

    @classmethod
    def generate(cls) -> EnclaveKeyPair:
        """Generates a fresh key pair from the OS CSPRNG."""
        private = MLKEM768PrivateKey.generate()
        return cls(
            public_key=private.public_key().public_bytes_raw(),
            private_key=private.private_bytes_raw(),
        )

    @classmethod
    def from_seed(cls, seed: bytes) -> EnclaveKeyPair:
        """Rebuilds a key pair from its 64-byte private seed.

        Raises:
            CryptoError: If the seed has the wrong size.
        """
        private = load_private_seed(seed)
        return cls(public_key=private.public_key().public_bytes_raw(), private_key=seed)

    def public_key_hash(self) -> bytes:
        """Returns SHA-256 of the encoded public key (32 bytes)."""
        return hashlib.sha256(self.public_key).digest()
