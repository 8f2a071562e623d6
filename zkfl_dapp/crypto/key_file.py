"""The enclave key at rest: a 0600 JSON file, the seed encrypted under a passphrase (format v2).

The seed is wrapped with AES-256-GCM (the envelopes' nonce and tag sizes) under a scrypt-derived key; every
other field of the file is the cipher's associated data, so a swapped public key or KDF parameter is caught.
The old plaintext format (v1) is refused with a hint, and migrated only on request::

    python -m zkfl_dapp.crypto.key_file reencrypt KEY_FILE
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from zkfl_dapp.crypto.envelope import NONCE_SIZE, TAG_SIZE
from zkfl_dapp.crypto.key_pair import PUBLIC_KEY_SIZE, SEED_SIZE, EnclaveKeyPair
from zkfl_dapp.exceptions import CryptoError

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
        f"`python -m zkfl_dapp.crypto.key_file reencrypt {source}` (then consider the old seed exposed: "
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
    """``python -m zkfl_dapp.crypto.key_file reencrypt PATH``: the passphrase from
    ``ZKFL_ENCLAVE_PASSPHRASE`` (via Settings) or asked for on the terminal."""
    import getpass

    if len(argv) != 2 or argv[0] != "reencrypt":
        print("usage: python -m zkfl_dapp.crypto.key_file reencrypt KEY_FILE", file=sys.stderr)
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
