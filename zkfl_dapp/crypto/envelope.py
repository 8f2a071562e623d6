"""Hybrid post-quantum encryption of model updates to the aggregator enclave.

A hospital seals its update to the enclave's registered ML-KEM-768 (FIPS 203) public key:

1. ML-KEM-768 encapsulation gives a 32-byte shared secret and a 1088-byte KEM ciphertext.
2. HKDF-SHA256 (salt = the KEM ciphertext, info = ``b"zkfl-dapp/update/v1"``) derives a 32-byte key.
3. AES-256-GCM with a random 12-byte nonce encrypts the update; the associated data binds the
   ciphertext to ``(round_id, hospital, commitment)`` so it cannot be replayed in another context.

Envelope layout (all fixed-size fields, so parsing is unambiguous)::

    b"ZKFLENC1" (8) || kem_ct (1088) || nonce (12) || aes_gcm_ciphertext || tag (16)

The enclave key pair is stored as the 64-byte ML-KEM seed (``d || z``), from which the full
decapsulation key is re-derived; :func:`save_key_pair` writes it to a 0600 JSON file, the seed
encrypted with AES-256-GCM under a scrypt-derived key from a passphrase (format v2).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.mlkem import (
    MLKEM768PrivateKey,
    MLKEM768PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from zkfl_dapp.exceptions import CryptoError, DecryptionError

ENVELOPE_MAGIC: Final = b"ZKFLENC1"
"""First 8 bytes of every sealed envelope (format version 1)."""
HKDF_INFO: Final = b"zkfl-dapp/update/v1"
"""HKDF ``info`` string for the update encryption key."""
AD_DOMAIN: Final = b"zkfl-dapp/ad/v2"
"""Domain-separation prefix of :func:`associated_data`."""
KEY_FILE_FORMAT: Final = "zkfl-dapp/enclave-key/v2"
"""``format`` tag of key files written by :func:`save_key_pair` (seed encrypted under a passphrase)."""
LEGACY_KEY_FILE_FORMAT: Final = "zkfl-dapp/enclave-key/v1"
"""The old plaintext key-file format: recognised only to refuse it with a re-encryption hint."""
SCRYPT_N: Final = 2**17
"""scrypt cost (128 * r * n = 128 MiB of memory, about 0.35 s on one core of the dev machine)."""
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SCRYPT_N_MIN: Final = 2**14
SCRYPT_N_MAX: Final = 2**20
"""Bounds on the ``n`` a key file may ask for when loaded (1 GiB at r = 8 is the most)."""
SCRYPT_SALT_SIZE: Final = 16

PUBLIC_KEY_SIZE: Final = 1184
"""Size of an encoded ML-KEM-768 encapsulation (public) key."""
SEED_SIZE: Final = 64
"""Size of the ML-KEM private seed (``d || z``)."""
KEM_CIPHERTEXT_SIZE: Final = 1088
"""Size of an ML-KEM-768 ciphertext."""
NONCE_SIZE: Final = 12
"""AES-GCM nonce size."""
TAG_SIZE: Final = 16
"""AES-GCM tag size."""
MIN_ENVELOPE_SIZE: Final = len(ENVELOPE_MAGIC) + KEM_CIPHERTEXT_SIZE + NONCE_SIZE + TAG_SIZE
"""Smallest valid envelope (empty plaintext)."""

_UINT256_LIMIT: Final = 1 << 256
_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}")


def _load_public_key(public_key: bytes) -> MLKEM768PublicKey:
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


def _load_private_seed(seed: bytes) -> MLKEM768PrivateKey:
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
    _load_public_key(public_key)
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
        derived = _load_private_seed(self.private_key).public_key().public_bytes_raw()
        _load_public_key(self.public_key)
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
        private = _load_private_seed(seed)
        return cls(public_key=private.public_key().public_bytes_raw(), private_key=seed)

    def public_key_hash(self) -> bytes:
        """Returns SHA-256 of the encoded public key (32 bytes)."""
        return hashlib.sha256(self.public_key).digest()


#: Most commitment points the associated data takes (chunks of a chunked model).
MAX_AD_POINTS = 4096


def associated_data(round_id: int, hospital: str, commitment: bytes) -> bytes:
    """Builds the canonical AES-GCM associated data binding an update to its context.

    Encoding: ``b"zkfl-dapp/ad/v2" || uint256_be(round_id) || address (20 bytes) || commitment (64 bytes per
    point)``; every field before the commitment has a fixed size and the commitment is the tail, so the
    encoding is injective.

    Args:
        round_id: Federated round number, ``0 <= round_id < 2**256``.
        hospital: The hospital's Ethereum address, ``0x`` + 40 hex digits (any case; the
            EIP-55 checksum is not checked).
        commitment: The update's on-chain KZG commitment, 64 bytes ``x || y`` (big-endian) per point: one
            point, or one per chunk of a chunked model, in chunk order (at most :data:`MAX_AD_POINTS`).

    Returns:
        The associated-data bytes (99 + 64 per point: 163 bytes for one point).

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
    return AD_DOMAIN + round_id.to_bytes(32, "big") + bytes.fromhex(hospital[2:]) + commitment


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
    recipient = _load_public_key(public_key)
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
    private = _load_private_seed(seed)
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


def _kdf(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """Scrypt-derives the 32-byte AES-256-GCM key that wraps the seed."""
    if not isinstance(passphrase, str) or not passphrase:
        raise CryptoError("the enclave key passphrase must be a non-empty string")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _header_ad(header: dict[str, object]) -> bytes:
    """The associated data of the seed's AES-GCM: the canonical JSON of every field but the ciphertext."""
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _encrypt_key_file(key_pair: EnclaveKeyPair, passphrase: str) -> bytes:
    salt = os.urandom(SCRYPT_SALT_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    header: dict[str, object] = {
        "format": KEY_FILE_FORMAT,
        "kem": "ML-KEM-768",
        "public_key": key_pair.public_key.hex(),
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()},
        "cipher": {"name": "AES-256-GCM", "nonce": nonce.hex()},
    }
    key = _kdf(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(key).encrypt(nonce, key_pair.private_key, _header_ad(header))
    document = {**header, "ciphertext": ciphertext.hex()}
    return (json.dumps(document, indent=2) + "\n").encode()


def save_key_pair(key_pair: EnclaveKeyPair, path: str | os.PathLike[str], passphrase: str) -> None:
    """Writes a key pair to ``path``, its seed encrypted under ``passphrase``, mode 0600.

    Format ``zkfl-dapp/enclave-key/v2`` (JSON): ``format``, ``kem``, ``public_key`` (hex),
    ``kdf`` (scrypt ``n``, ``r``, ``p`` and a random 16-byte ``salt``), ``cipher`` (AES-256-GCM and
    a random 12-byte ``nonce``) and ``ciphertext`` (the 64-byte seed and the 16-byte tag, hex). The
    AES key is scrypt(passphrase, salt); the associated data is the canonical JSON of every field
    but ``ciphertext``, so a changed header (public key, KDF parameters, ...) fails the tag check.

    The file is written to a temporary file in the same directory and atomically renamed, so a
    crash never leaves a half-written key file.

    Args:
        key_pair: The key pair to store.
        path: Destination file; replaced if it exists.
        passphrase: The passphrase the seed is encrypted under (non-empty).

    Raises:
        CryptoError: If the passphrase is empty or the file cannot be written.
    """
    target = Path(path)
    data = _encrypt_key_file(key_pair, passphrase)
    tmp_name: str | None = None
    try:
        # mkstemp creates the file with mode 0600 from the start.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        raise CryptoError(f"cannot write enclave key file {target}: {exc}") from exc
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _hex_field(document: dict[str, object], name: str, source: Path, size: int | None = None) -> bytes:
    value = document.get(name)
    if not isinstance(value, str):
        raise CryptoError(f"enclave key file {source}: field {name!r} missing or not a string")
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise CryptoError(f"enclave key file {source}: field {name!r} is not hex") from exc
    if size is not None and len(raw) != size:
        raise CryptoError(f"enclave key file {source}: field {name!r} has {len(raw)} bytes, expected {size}")
    return raw


def _legacy_error(source: Path) -> CryptoError:
    return CryptoError(
        f"enclave key file {source} is in the old plaintext format {LEGACY_KEY_FILE_FORMAT!r} (the private "
        f"seed unencrypted); it is not loaded. Re-encrypt it in place with ZKFL_ENCLAVE_PASSPHRASE set: "
        f"`python -m zkfl_dapp.crypto.envelope reencrypt {source}` (then consider the old seed exposed: "
        f"rotating means a fresh `ape run deploy`)"
    )


def _read_document(source: Path) -> dict[str, object]:
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise CryptoError(f"cannot read enclave key file {source}: {exc}") from exc
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CryptoError(f"enclave key file {source} is truncated or not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise CryptoError(f"enclave key file {source} must hold a JSON object")
    return document


def _int_param(kdf: dict[str, object], name: str, low: int, high: int, source: Path) -> int:
    value = kdf.get(name)
    if type(value) is not int or not low <= value <= high:
        raise CryptoError(f"enclave key file {source}: scrypt {name} must be an int in [{low}, {high}], got {value!r}")
    return value


def load_key_pair(path: str | os.PathLike[str], passphrase: str) -> EnclaveKeyPair:
    """Reads and decrypts a key pair written by :func:`save_key_pair`.

    The public key is re-derived from the decrypted seed and must match the stored one. A file in
    the old plaintext format is refused with a message that says how to re-encrypt it.

    Args:
        path: The key file.
        passphrase: The passphrase it was saved under.

    Returns:
        The key pair.

    Raises:
        CryptoError: If the file is missing, unreadable, truncated, malformed, in the old plaintext
            format, or the passphrase is wrong / the file was altered (the AES-GCM tag does not verify).
    """
    source = Path(path)
    document = _read_document(source)
    fmt = document.get("format")
    if fmt == LEGACY_KEY_FILE_FORMAT:
        raise _legacy_error(source)
    if fmt != KEY_FILE_FORMAT:
        raise CryptoError(f"enclave key file {source} has format {fmt!r}, expected {KEY_FILE_FORMAT!r}")
    if document.get("kem") != "ML-KEM-768":
        raise CryptoError(f"enclave key file {source} has kem {document.get('kem')!r}, expected 'ML-KEM-768'")
    public_key = _hex_field(document, "public_key", source, PUBLIC_KEY_SIZE)
    kdf, cipher = document.get("kdf"), document.get("cipher")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise CryptoError(f"enclave key file {source}: field 'kdf' must be a scrypt parameter object")
    if not isinstance(cipher, dict) or cipher.get("name") != "AES-256-GCM":
        raise CryptoError(f"enclave key file {source}: field 'cipher' must name AES-256-GCM")
    # Bounded so a hostile file cannot make the loader allocate gigabytes or spin for minutes.
    n = _int_param(kdf, "n", SCRYPT_N_MIN, SCRYPT_N_MAX, source)
    if n & (n - 1):
        raise CryptoError(f"enclave key file {source}: scrypt n must be a power of two, got {n}")
    r = _int_param(kdf, "r", 1, 32, source)
    p = _int_param(kdf, "p", 1, 16, source)
    salt = _hex_field(kdf, "salt", source, SCRYPT_SALT_SIZE)
    nonce = _hex_field(cipher, "nonce", source, NONCE_SIZE)
    ciphertext = _hex_field(document, "ciphertext", source)
    if len(ciphertext) != SEED_SIZE + TAG_SIZE:
        raise CryptoError(
            f"enclave key file {source}: ciphertext has {len(ciphertext)} bytes, expected "
            f"{SEED_SIZE + TAG_SIZE} (truncated or corrupted key file)"
        )
    header = {k: v for k, v in document.items() if k != "ciphertext"}
    key = _kdf(passphrase, salt, n, r, p)
    try:
        seed = AESGCM(key).decrypt(nonce, ciphertext, _header_ad(header))
    except InvalidTag:
        raise CryptoError(f"enclave key file {source}: wrong passphrase or corrupted key file") from None
    try:
        return EnclaveKeyPair(public_key=public_key, private_key=seed)
    except CryptoError as exc:
        raise CryptoError(f"enclave key file {source} is malformed: {exc}") from exc


def reencrypt_legacy_key_file(path: str | os.PathLike[str], passphrase: str) -> EnclaveKeyPair:
    """Explicit migration: re-writes an old plaintext (v1) key file encrypted under ``passphrase``.

    Raises:
        CryptoError: If the file is not a valid v1 key file or cannot be rewritten.
    """
    source = Path(path)
    document = _read_document(source)
    if document.get("format") != LEGACY_KEY_FILE_FORMAT or document.get("kem") != "ML-KEM-768":
        raise CryptoError(f"enclave key file {source} is not a plaintext {LEGACY_KEY_FILE_FORMAT!r} ML-KEM-768 key")
    seed = _hex_field(document, "private_seed", source, SEED_SIZE)
    public_key = _hex_field(document, "public_key", source, PUBLIC_KEY_SIZE)
    try:
        key_pair = EnclaveKeyPair(public_key=public_key, private_key=seed)
    except CryptoError as exc:
        raise CryptoError(f"enclave key file {source} is malformed: {exc}") from exc
    save_key_pair(key_pair, source, passphrase)
    return key_pair


def _main(argv: list[str]) -> int:
    """``python -m zkfl_dapp.crypto.envelope reencrypt PATH``: the passphrase from
    ``ZKFL_ENCLAVE_PASSPHRASE`` (via Settings) or asked for on the terminal."""
    import getpass

    if len(argv) != 2 or argv[0] != "reencrypt":
        print("usage: python -m zkfl_dapp.crypto.envelope reencrypt KEY_FILE", file=sys.stderr)
        return 2
    from zkfl_dapp.config import Settings

    secret = Settings().enclave_passphrase
    passphrase = secret.get_secret_value() if secret is not None else getpass.getpass("new enclave key passphrase: ")
    try:
        reencrypt_legacy_key_file(argv[1], passphrase)
    except CryptoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"re-encrypted {argv[1]} ({KEY_FILE_FORMAT})")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
