"""Tests for zkfl_dapp.crypto: ML-KEM-768 + HKDF + AES-256-GCM update envelopes."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from zkfl_dapp.crypto.envelope import (
    ENVELOPE_MAGIC,
    KEM_CIPHERTEXT_SIZE,
    MIN_ENVELOPE_SIZE,
    NONCE_SIZE,
    PUBLIC_KEY_SIZE,
    SEED_SIZE,
    EnclaveKeyPair,
    associated_data,
    open_sealed,
    public_key_hash_of,
    seal,
)
from zkfl_dapp.crypto.key_file import KEY_FILE_FORMAT, load_key_pair, reencrypt_legacy_key_file, save_key_pair
from zkfl_dapp.exceptions import CryptoError, DecryptionError

HOSPITAL = "0x" + "ab" * 20
OTHER_HOSPITAL = "0x" + "cd" * 20
PLAINTEXT = b'{"update": [0.125, -3.5, 42]}'
#: A commitment as the envelope binds it: the 64-byte point x || y (any 64 bytes to the envelope itself).
POINT = (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
OTHER_POINT = (1).to_bytes(32, "big") + (3).to_bytes(32, "big")
KH = b"\x5a" * 32  # the SHA-256 of the enclave key an update is sealed to


@pytest.fixture(scope="module")
def key_pair() -> EnclaveKeyPair:
    return EnclaveKeyPair.generate()


@pytest.fixture(scope="module")
def ad() -> bytes:
    return associated_data(7, HOSPITAL, POINT, enclave_key_hash=KH)


@pytest.fixture(scope="module")
def envelope(key_pair: EnclaveKeyPair, ad: bytes) -> bytes:
    return seal(key_pair.public_key, PLAINTEXT, ad)


def test_key_pair_sizes_and_hash(key_pair: EnclaveKeyPair) -> None:
    assert len(key_pair.public_key) == PUBLIC_KEY_SIZE
    assert len(key_pair.private_key) == SEED_SIZE
    assert key_pair.public_key_hash() == hashlib.sha256(key_pair.public_key).digest()
    assert public_key_hash_of(key_pair.public_key) == key_pair.public_key_hash()
    assert len(key_pair.public_key_hash()) == 32
    assert key_pair.private_key.hex() not in repr(key_pair)


def test_from_seed_rederives_public_key(key_pair: EnclaveKeyPair) -> None:
    assert EnclaveKeyPair.from_seed(key_pair.private_key) == key_pair


def test_mismatched_key_pair_rejected(key_pair: EnclaveKeyPair) -> None:
    other = EnclaveKeyPair.generate()
    with pytest.raises(CryptoError, match="does not match"):
        EnclaveKeyPair(public_key=other.public_key, private_key=key_pair.private_key)


def test_round_trip(key_pair: EnclaveKeyPair, ad: bytes, envelope: bytes) -> None:
    assert envelope.startswith(ENVELOPE_MAGIC)
    assert len(envelope) == MIN_ENVELOPE_SIZE + len(PLAINTEXT)
    assert open_sealed(key_pair, envelope, ad) == PLAINTEXT
    assert open_sealed(key_pair.private_key, envelope, ad) == PLAINTEXT


def test_round_trip_empty_plaintext(key_pair: EnclaveKeyPair, ad: bytes) -> None:
    assert open_sealed(key_pair, seal(key_pair.public_key, b"", ad), ad) == b""


def test_seal_is_randomized(key_pair: EnclaveKeyPair, ad: bytes, envelope: bytes) -> None:
    assert seal(key_pair.public_key, PLAINTEXT, ad) != envelope


def test_wrong_key(ad: bytes, envelope: bytes) -> None:
    with pytest.raises(DecryptionError, match="authentication"):
        open_sealed(EnclaveKeyPair.generate(), envelope, ad)


@pytest.mark.parametrize(
    "wrong_ad",
    [
        associated_data(8, HOSPITAL, POINT, enclave_key_hash=KH),
        associated_data(7, OTHER_HOSPITAL, POINT, enclave_key_hash=KH),
        associated_data(7, HOSPITAL, OTHER_POINT, enclave_key_hash=KH),
        associated_data(7, HOSPITAL, POINT, enclave_key_hash=b"\x5b" * 32),  # sealed to another enclave key
        b"",
    ],
    ids=["round", "hospital", "commitment", "enclave-key", "empty"],
)
def test_wrong_associated_data(key_pair: EnclaveKeyPair, envelope: bytes, wrong_ad: bytes) -> None:
    with pytest.raises(DecryptionError, match="authentication"):
        open_sealed(key_pair, envelope, wrong_ad)


_MAGIC_END = len(ENVELOPE_MAGIC)
_KEM_END = _MAGIC_END + KEM_CIPHERTEXT_SIZE
_NONCE_END = _KEM_END + NONCE_SIZE


@pytest.mark.parametrize(
    "position",
    [0, _MAGIC_END - 1, _MAGIC_END, _KEM_END - 1, _KEM_END, _NONCE_END - 1, _NONCE_END, -17, -1],
    ids=[
        "magic-first",
        "magic-last",
        "kem-first",
        "kem-last",
        "nonce-first",
        "nonce-last",
        "ciphertext-first",
        "ciphertext-last",
        "tag-last",
    ],
)
def test_flipped_byte(key_pair: EnclaveKeyPair, ad: bytes, envelope: bytes, position: int) -> None:
    tampered = bytearray(envelope)
    tampered[position] ^= 0x01
    with pytest.raises(DecryptionError):
        open_sealed(key_pair, bytes(tampered), ad)


def test_wrong_magic_message(key_pair: EnclaveKeyPair, ad: bytes, envelope: bytes) -> None:
    with pytest.raises(DecryptionError, match="magic"):
        open_sealed(key_pair, b"ZKFLENC2" + envelope[_MAGIC_END:], ad)


@pytest.mark.parametrize("length", [0, 8, MIN_ENVELOPE_SIZE - 1])
def test_truncated_envelope(key_pair: EnclaveKeyPair, ad: bytes, envelope: bytes, length: int) -> None:
    with pytest.raises(DecryptionError, match="truncated"):
        open_sealed(key_pair, envelope[:length], ad)


def test_truncated_ciphertext_fails_authentication(key_pair: EnclaveKeyPair, ad: bytes, envelope: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_sealed(key_pair, envelope[:-1], ad)
    with pytest.raises(DecryptionError):
        open_sealed(key_pair, envelope + b"\x00", ad)


@pytest.mark.parametrize(
    "public_key",
    [
        b"",
        b"\x00" * 800,
        b"\x00" * (PUBLIC_KEY_SIZE - 1),
        b"\x00" * 1568,
        b"\xff" * PUBLIC_KEY_SIZE,
    ],
    ids=["empty", "ml-kem-512-size", "short-by-one", "ml-kem-1024-size", "fails-modulus-check"],
)
def test_seal_rejects_invalid_public_key(public_key: bytes, ad: bytes) -> None:
    with pytest.raises(CryptoError):
        seal(public_key, PLAINTEXT, ad)
    with pytest.raises(CryptoError):
        public_key_hash_of(public_key)


def test_open_rejects_invalid_seed(ad: bytes, envelope: bytes) -> None:
    with pytest.raises(CryptoError, match="seed"):
        open_sealed(b"\x00" * 32, envelope, ad)


def test_associated_data_encoding() -> None:
    ad = associated_data(1, HOSPITAL.upper().replace("0X", "0x"), POINT, enclave_key_hash=KH)
    assert ad == associated_data(1, HOSPITAL, POINT, enclave_key_hash=KH)
    assert ad == b"zkfl-dapp/ad/v3" + (1).to_bytes(32, "big") + b"\xab" * 20 + KH + POINT
    assert len(ad) == 15 + 32 + 20 + 32 + 64  # fixed-size fields: the encoding is injective
    assert associated_data(2**256 - 1, HOSPITAL, b"\x00" * 64, enclave_key_hash=KH) != associated_data(
        0, HOSPITAL, b"\xff" * 64, enclave_key_hash=KH
    )


def test_associated_data_binds_every_chunk_point() -> None:
    """A chunked commitment (several points) is bound in full and in order: AD is 131 + 64 bytes per point."""
    two = POINT + OTHER_POINT
    assert (
        associated_data(1, HOSPITAL, two, enclave_key_hash=KH)
        == b"zkfl-dapp/ad/v3" + (1).to_bytes(32, "big") + b"\xab" * 20 + KH + two
    )
    assert len(associated_data(1, HOSPITAL, two, enclave_key_hash=KH)) == 15 + 32 + 20 + 32 + 128
    assert associated_data(1, HOSPITAL, two, enclave_key_hash=KH) != associated_data(
        1, HOSPITAL, OTHER_POINT + POINT, enclave_key_hash=KH
    )
    assert associated_data(1, HOSPITAL, two, enclave_key_hash=KH) != associated_data(
        1, HOSPITAL, POINT, enclave_key_hash=KH
    )
    assert (
        len(associated_data(1, HOSPITAL, POINT * 4096, enclave_key_hash=KH)) == 15 + 32 + 20 + 32 + 64 * 4096
    )  # the most points taken


@pytest.mark.parametrize(
    ("round_id", "hospital", "commitment"),
    [
        (-1, HOSPITAL, POINT),
        (2**256, HOSPITAL, POINT),
        (0, HOSPITAL, POINT[:63]),
        (0, HOSPITAL, POINT + b"\x00"),
        (0, HOSPITAL, b""),
        (0, HOSPITAL, POINT * 4097),
        (0, HOSPITAL, 123456789),
        (0, HOSPITAL, POINT.hex()),
        (True, HOSPITAL, POINT),
        (0, "ab" * 20, POINT),
        (0, "0x" + "ab" * 19, POINT),
        (0, "0x" + "ab" * 21, POINT),
        (0, "0x" + "zz" * 20, POINT),
        (0, HOSPITAL + "\n", POINT),
    ],
)
def test_associated_data_rejects_bad_fields(round_id: int, hospital: str, commitment: object) -> None:
    with pytest.raises(CryptoError):
        associated_data(round_id, hospital, commitment, enclave_key_hash=KH)


@pytest.mark.parametrize("key_hash", [b"", KH[:31], KH + b"\x00", KH.hex()])
def test_associated_data_rejects_bad_key_hash(key_hash: object) -> None:
    with pytest.raises(CryptoError, match="enclave_key_hash"):
        associated_data(0, HOSPITAL, POINT, enclave_key_hash=key_hash)


PASS = "correct horse battery staple"


def test_key_file_round_trip(key_pair: EnclaveKeyPair, tmp_path: Path, ad: bytes, envelope: bytes) -> None:
    path = tmp_path / "enclave.key"
    save_key_pair(key_pair, path, PASS)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = load_key_pair(path, PASS)
    assert loaded == key_pair
    assert open_sealed(loaded, envelope, ad) == PLAINTEXT
    document = json.loads(path.read_text())
    assert document["format"] == KEY_FILE_FORMAT == "zkfl-dapp/enclave-key/v2"
    assert document["kdf"] == {"name": "scrypt", "n": 2**17, "r": 8, "p": 1, "salt": document["kdf"]["salt"]}
    # Overwriting keeps the 0600 mode and leaves no temporary files behind.
    save_key_pair(EnclaveKeyPair.generate(), path, PASS)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["enclave.key"]


def test_key_file_mode_0600_even_with_permissive_umask(key_pair: EnclaveKeyPair, tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_key_pair(key_pair, tmp_path / "enclave.key", PASS)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "enclave.key").st_mode) == 0o600


def test_key_file_never_holds_the_seed(key_pair: EnclaveKeyPair, tmp_path: Path) -> None:
    path = tmp_path / "enclave.key"
    save_key_pair(key_pair, path, PASS)
    raw = path.read_bytes()
    seed = key_pair.private_key
    for needle in (
        seed,
        seed.hex().encode(),
        seed.hex().upper().encode(),
        seed[:32].hex().encode(),
        seed[32:].hex().encode(),
    ):
        assert needle not in raw
    assert "private_seed" not in json.loads(raw)


def test_two_saves_differ(key_pair: EnclaveKeyPair, tmp_path: Path) -> None:
    a, b = tmp_path / "a.key", tmp_path / "b.key"
    save_key_pair(key_pair, a, PASS)
    save_key_pair(key_pair, b, PASS)
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert da["kdf"]["salt"] != db["kdf"]["salt"]
    assert da["cipher"]["nonce"] != db["cipher"]["nonce"]
    assert da["ciphertext"] != db["ciphertext"]
    assert da["public_key"] == db["public_key"]


def test_wrong_passphrase(key_pair: EnclaveKeyPair, tmp_path: Path) -> None:
    path = tmp_path / "enclave.key"
    save_key_pair(key_pair, path, PASS)
    with pytest.raises(CryptoError, match="wrong passphrase or corrupted key file"):
        load_key_pair(path, PASS + "!")


def test_empty_passphrase_refused(key_pair: EnclaveKeyPair, tmp_path: Path) -> None:
    with pytest.raises(CryptoError, match="non-empty"):
        save_key_pair(key_pair, tmp_path / "enclave.key", "")


@pytest.fixture(scope="module")
def saved_document(key_pair: EnclaveKeyPair, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = tmp_path_factory.mktemp("key") / "enclave.key"
    save_key_pair(key_pair, path, PASS)
    return json.loads(path.read_text())


def _flip_hex(value: str, index: int = 0) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[index] ^= 0x01
    return raw.hex()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(ciphertext=_flip_hex(d["ciphertext"], 0)),
        lambda d: d.update(ciphertext=_flip_hex(d["ciphertext"], -1)),  # the tag
        lambda d: d["kdf"].update(salt=_flip_hex(d["kdf"]["salt"])),
        lambda d: d["cipher"].update(nonce=_flip_hex(d["cipher"]["nonce"])),
        lambda d: d["kdf"].update(n=2**16),  # a header field the tag covers, still in bounds
        lambda d: d.update(extra="field"),  # any added header field changes the associated data
        lambda d: d.update(public_key=_flip_hex(d["public_key"], 5)),
    ],
    ids=["ciphertext", "tag", "salt", "nonce", "kdf-n", "extra-header", "public-key"],
)
def test_tampered_key_file(saved_document: dict[str, object], tmp_path: Path, mutate: object) -> None:
    document = copy.deepcopy(saved_document)
    mutate(document)  # type: ignore[operator]
    path = tmp_path / "enclave.key"
    path.write_text(json.dumps(document))
    with pytest.raises(CryptoError, match="wrong passphrase or corrupted key file"):
        load_key_pair(path, PASS)


def test_truncated_key_file(key_pair: EnclaveKeyPair, tmp_path: Path) -> None:
    path = tmp_path / "enclave.key"
    save_key_pair(key_pair, path, PASS)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(CryptoError, match="truncated"):
        load_key_pair(path, PASS)


def test_short_ciphertext(saved_document: dict[str, object], tmp_path: Path) -> None:
    document = dict(saved_document, ciphertext=saved_document["ciphertext"][:-2])  # type: ignore[index]
    path = tmp_path / "enclave.key"
    path.write_text(json.dumps(document))
    with pytest.raises(CryptoError, match="truncated or corrupted"):
        load_key_pair(path, PASS)


def _legacy_document(key_pair: EnclaveKeyPair) -> dict[str, str]:
    return {
        "format": "zkfl-dapp/enclave-key/v1",
        "kem": "ML-KEM-768",
        "private_seed": key_pair.private_key.hex(),
        "public_key": key_pair.public_key.hex(),
    }


def test_legacy_plaintext_file_refused_then_migrated(key_pair: EnclaveKeyPair, tmp_path: Path) -> None:
    path = tmp_path / "enclave.key"
    path.write_text(json.dumps(_legacy_document(key_pair)))
    with pytest.raises(CryptoError, match="old plaintext format.*reencrypt"):
        load_key_pair(path, PASS)
    assert reencrypt_legacy_key_file(path, PASS) == key_pair
    assert key_pair.private_key.hex() not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key_pair(path, PASS) == key_pair


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format="other/v2"),
        lambda d: d.update(kem="ML-KEM-1024"),
        lambda d: d.pop("ciphertext"),
        lambda d: d.update(ciphertext="zz"),
        lambda d: d.update(public_key=d["public_key"][:-2]),
        lambda d: d.update(public_key=123),
        lambda d: d.update(kdf="scrypt"),
        lambda d: d["kdf"].update(n=2**30),
        lambda d: d["kdf"].update(n=3 * 2**15),
        lambda d: d["kdf"].update(r=True),
        lambda d: d["kdf"].update(salt=d["kdf"]["salt"][:-2]),
        lambda d: d["cipher"].update(name="AES-128-CBC"),
        lambda d: d["cipher"].update(nonce=d["cipher"]["nonce"][:-2]),
    ],
    ids=[
        "format",
        "kem",
        "missing-ciphertext",
        "non-hex",
        "short-public",
        "public-not-string",
        "kdf-not-object",
        "n-too-large",
        "n-not-power-of-two",
        "r-bool",
        "short-salt",
        "cipher",
        "short-nonce",
    ],
)
def test_malformed_key_file(saved_document: dict[str, object], tmp_path: Path, mutate: object) -> None:
    document = copy.deepcopy(saved_document)
    mutate(document)  # type: ignore[operator]
    path = tmp_path / "enclave.key"
    path.write_text(json.dumps(document))
    with pytest.raises(CryptoError):
        load_key_pair(path, PASS)


@pytest.mark.parametrize("content", [b"", b"not json", b"\xff\xfe", b"[1, 2]", b"null"])
def test_key_file_not_json_object(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "enclave.key"
    path.write_bytes(content)
    with pytest.raises(CryptoError):
        load_key_pair(path, PASS)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(CryptoError, match="cannot read"):
        load_key_pair(tmp_path / "absent.key", PASS)


def test_save_into_missing_directory(key_pair: EnclaveKeyPair, tmp_path: Path) -> None:
    with pytest.raises(CryptoError, match="cannot write"):
        save_key_pair(key_pair, tmp_path / "no-such-dir" / "enclave.key", PASS)


def test_passphrase_from_settings_and_dev_fallback(caplog: pytest.LogCaptureFixture) -> None:
    from pydantic import SecretStr

    from zkfl_dapp.config import DEV_ENCLAVE_PASSPHRASE, Settings
    from zkfl_dapp.exceptions import ConfigError

    secret = Settings(enclave_passphrase=SecretStr("s3cret-pass"))
    assert secret.enclave_key_passphrase(local=False) == ("s3cret-pass", False)
    assert "s3cret-pass" not in repr(secret) and "s3cret-pass" not in secret.model_dump_json()
    bare = Settings(enclave_passphrase=None)
    with pytest.raises(ConfigError, match="ZKFL_ENCLAVE_PASSPHRASE"):
        bare.enclave_key_passphrase(local=False)
    with caplog.at_level("WARNING"):
        assert bare.enclave_key_passphrase(local=True) == (DEV_ENCLAVE_PASSPHRASE, True)
    assert "development passphrase" in caplog.text
