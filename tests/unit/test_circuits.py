"""Tests of the circuit artifact machinery (zkfl_dapp.circuits.artifacts) over the consortium's norm circuit:
a real norm proof read back and verified off-chain, rejected when tampered with; malformed proof files; the
build cache (reuse, rebuild of an incomplete directory) on a tiny d = 4 norm circuit; the manifest; spec checks.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import padded_update
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits.artifact_paths import EZKL_VERSION
from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormArtifacts as KzgNormArtifacts
from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkProof as KzgNormProof
from zkfl_dapp.circuits.kzg_chunk_norm import ensure_kzg_chunk_norm_artifacts as ensure_kzg_norm_artifacts
from zkfl_dapp.circuits.proving import load_proof, verify_offchain
from zkfl_dapp.circuits.suite import CircuitSuite, norm_spec_for
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS, felt_hex, from_field
from zkfl_dapp.exceptions import CircuitError

ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TINY = norm_spec_for(4)


@pytest.fixture(scope="module")
def proven(suite: CircuitSuite, genesis: tuple[int, ...], tmp_path_factory: pytest.TempPathFactory) -> KzgNormProof:
    update = padded_update(3, genesis)
    bound = kc.chunk_sum_of_squares(suite.norm.spec, update, genesis) + 10
    return kc.prove_chunk(suite.norm, 0, 1, bound, update, genesis, ADDRESS, tmp_path_factory.mktemp("norm"))


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-circuits")
    ensure_kzg_norm_artifacts(TINY, root)
    return root


def test_load_proof_reads_back_what_prove_returned(proven: KzgNormProof) -> None:
    loaded = load_proof(proven.path)
    assert loaded.instances == proven.instances
    assert loaded.proof == proven.proof
    assert len(loaded.proof) > 1000
    assert proven.prove_seconds > 0
    assert all(0 <= v < FIELD_MODULUS for v in loaded.instances)


# --- off-chain verification ---------------------------------------------------------------------
def tampered(src: Path, dst: Path, mutate: Callable[[dict], None]) -> Path:
    raw = json.loads(src.read_text())
    mutate(raw)
    dst.write_text(json.dumps(raw))
    return dst


def _bump_instance(index: int) -> Callable[[dict], None]:
    def mutate(raw: dict) -> None:
        old = raw["instances"][0][index]
        raw["instances"][0][index] = felt_hex(from_field(int.from_bytes(bytes.fromhex(old), "little")) + 1)

    return mutate


def _flip_proof_byte(raw: dict, *, in_list: bool = True, in_hex: bool = True, position: int = -1) -> None:
    if in_list:
        raw["proof"][position] ^= 0x01
    if in_hex:
        data = bytearray(bytes.fromhex(raw["hex_proof"].removeprefix("0x")))
        data[position] ^= 0x01
        raw["hex_proof"] = "0x" + data.hex()


def test_verify_offchain_accepts_the_proof(suite: CircuitSuite, proven: KzgNormProof) -> None:
    assert verify_offchain(suite.norm, proven.path) is True


@pytest.mark.parametrize(
    "mutate",
    [
        _bump_instance(0),  # the flag
        _bump_instance(1),  # the bound
        _bump_instance(6),  # the last address limb
        lambda raw: _flip_proof_byte(raw),  # last byte (an evaluation): fails the opening check
        lambda raw: _flip_proof_byte(raw, position=0),  # first byte (the update's commitment)
        lambda raw: _flip_proof_byte(raw, position=64),  # the previous aggregate's commitment
        lambda raw: _flip_proof_byte(raw, in_list=False),  # only the bytes the chain would get
        lambda raw: _flip_proof_byte(raw, in_hex=False),  # only the bytes ezkl checks
    ],
    ids=[
        "flag",
        "bound",
        "address-limb-last",
        "proof-last-byte",
        "proof-first-byte",
        "aggregate-point",
        "hex-proof-only",
        "proof-list-only",
    ],
)
def test_verify_offchain_rejects_tampering(
    suite: CircuitSuite, proven: KzgNormProof, tmp_path: Path, mutate: Callable[[dict], None]
) -> None:
    copy = tampered(proven.path, tmp_path / "proof.json", mutate)
    assert copy.read_bytes() != proven.path.read_bytes()
    assert verify_offchain(suite.norm, copy) is False


def test_verify_offchain_rejects_an_unreadable_file(suite: CircuitSuite, tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("not a proof")
    assert verify_offchain(suite.norm, tmp_path / "junk.json") is False
    assert verify_offchain(suite.norm, tmp_path / "missing.json") is False


# --- load_proof on malformed files ---------------------------------------------------------------
GOOD_FELT = "01" + "00" * 31


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        "{}",
        json.dumps({"instances": [], "hex_proof": "0x00", "proof": [0]}),
        json.dumps({"instances": [[GOOD_FELT]], "proof": [0]}),
        json.dumps({"instances": [[GOOD_FELT]], "hex_proof": None, "proof": []}),
        json.dumps({"instances": [[GOOD_FELT]], "hex_proof": "0xzz", "proof": []}),
        json.dumps({"instances": [["00" * 31]], "hex_proof": "0x00", "proof": [0]}),
        json.dumps({"instances": [["xy" * 32]], "hex_proof": "0x00", "proof": [0]}),
        json.dumps({"instances": [[FIELD_MODULUS.to_bytes(32, "little").hex()]], "hex_proof": "0x00", "proof": [0]}),
        json.dumps({"instances": [[7]], "hex_proof": "0x00", "proof": [0]}),
        json.dumps({"instances": [[GOOD_FELT]], "hex_proof": "0x00"}),
        json.dumps({"instances": [[GOOD_FELT]], "hex_proof": "0x00", "proof": [1]}),
        json.dumps({"instances": [[GOOD_FELT]], "hex_proof": "0x00", "proof": [256]}),
    ],
    ids=[
        "not-json",
        "a-list",
        "empty-object",
        "no-instance-row",
        "no-hex-proof",
        "hex-proof-null",
        "hex-proof-not-hex",
        "instance-31-bytes",
        "instance-not-hex",
        "instance-not-below-p",
        "instance-not-a-string",
        "no-proof-list",
        "proof-list-differs",
        "proof-list-not-bytes",
    ],
)
def test_load_proof_rejects_malformed_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "proof.json"
    path.write_text(content)
    with pytest.raises(CircuitError, match="not an ezkl proof file|hold different bytes"):
        load_proof(path)


def test_load_proof_of_a_missing_file_is_a_circuit_error(tmp_path: Path) -> None:
    with pytest.raises(CircuitError, match="not an ezkl proof file"):
        load_proof(tmp_path / "nope.json")


# --- prove_chunk argument checks --------------------------------------------------------------
def test_prove_rejects_vectors_of_the_wrong_length(suite: CircuitSuite, genesis, tmp_path: Path) -> None:
    update = padded_update(4, genesis)
    with pytest.raises(CircuitError, match="the chunk circuit takes 41 values"):
        kc.prove_chunk(suite.norm, 0, 1, 100, update[:-1], genesis, ADDRESS, tmp_path / "work")
    with pytest.raises(CircuitError, match="the chunk circuit takes 41 values"):
        kc.prove_chunk(suite.norm, 0, 1, 100, update, genesis[:-1], ADDRESS, tmp_path / "work")
    assert not (tmp_path / "work").exists()  # rejected before any work


OOR = "the budget must be in"


@pytest.mark.parametrize(
    ("bound", "message"), [(-1, OOR), (kc.INPUT_RANGE, OOR), (0, "over its budget")]
)
def test_prove_rejects_a_budget_outside_the_circuit_or_below_the_distance(
    suite: CircuitSuite, genesis, tmp_path: Path, bound: int, message: str
) -> None:
    with pytest.raises(CircuitError, match=message):
        kc.prove_chunk(suite.norm, 0, 1, bound, padded_update(4, genesis), genesis, ADDRESS, tmp_path)


# --- artifacts: cache, rebuild, manifest ----------------------------------------------------------
def _snapshot(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(directory.iterdir())}


def test_cached_artifacts_are_reused_without_rebuilding(tiny_root: Path) -> None:
    art = ensure_kzg_norm_artifacts(TINY, tiny_root)
    before = _snapshot(art.directory)
    messages: list[str] = []
    t0 = time.perf_counter()
    again = ensure_kzg_norm_artifacts(TINY, tiny_root, progress=messages.append)
    elapsed = time.perf_counter() - t0
    assert again == art
    assert _snapshot(art.directory) == before  # nothing rewritten
    assert elapsed < 1.0
    assert len(messages) == 1 and "reusing cached artifacts" in messages[0]


def test_the_session_circuit_is_reused_from_the_build_cache(suite: CircuitSuite) -> None:
    before = _snapshot(suite.norm.directory)
    assert ensure_kzg_norm_artifacts(suite.norm.spec, suite.norm.directory.parent) == suite.norm
    assert _snapshot(suite.norm.directory) == before


def test_a_missing_cached_file_triggers_a_rebuild(tiny_root: Path) -> None:
    art = ensure_kzg_norm_artifacts(TINY, tiny_root)
    old_manifest = art.manifest.stat().st_mtime_ns
    art.pk.unlink()
    (art.directory / "stale-leftover").write_text("from an older build")
    messages: list[str] = []
    rebuilt = ensure_kzg_norm_artifacts(TINY, tiny_root, progress=messages.append)
    assert rebuilt.directory == art.directory
    assert rebuilt.pk.exists() and rebuilt.pk.stat().st_size > 0
    assert rebuilt.manifest.stat().st_mtime_ns != old_manifest
    assert not any("reusing" in m for m in messages)
    assert any("key generation" in m for m in messages)
    assert not (art.directory / "stale-leftover").exists()  # rebuilt from a clean directory
    messages.clear()
    ensure_kzg_norm_artifacts(TINY, tiny_root, progress=messages.append)  # complete again: reused
    assert any("reusing" in m for m in messages)


def _check_manifest(art: KzgNormArtifacts) -> None:
    manifest = json.loads(art.manifest.read_text())
    assert manifest["ezkl_version"] == EZKL_VERSION == importlib.metadata.version("ezkl")
    assert manifest["logrows"] == art.logrows
    assert json.loads(art.settings.read_text())["run_args"]["logrows"] == art.logrows
    assert manifest["srs"]["kind"] == "development" == art.srs_kind
    assert manifest["srs"]["sha256"] == hashlib.sha256(art.srs.read_bytes()).hexdigest()
    assert manifest["spec"]["chunk"] == art.spec.chunk and manifest["spec"]["pad_rows"] == art.spec.pad_rows
    assert manifest["circuit"] == art.spec.name
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((art.directory / name).read_bytes()).hexdigest() == digest, name
    assert set(manifest["sha256"]) >= {"vk.key", "settings.json", "KzgNormVerifier.sol"}
    assert art.directory.name == f"{art.spec.name}-{art.spec.digest()}-development"
    source = art.verifier_sol.read_text()
    assert "contract KzgNormVerifier" in source and "contract Halo2Verifier" not in source


def test_manifest_of_the_tiny_build(tiny_root: Path) -> None:
    _check_manifest(ensure_kzg_norm_artifacts(TINY, tiny_root))


def test_manifest_of_the_session_circuit(suite: CircuitSuite) -> None:
    _check_manifest(suite.norm)


# --- spec validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk": 0}, "need 1 <= chunk"),
        ({"pad_rows": -1}, "invalid chunk spec"),
        ({"scale_bits": 12}, "scale_bits = 13"),
    ],
)
def test_invalid_specs_are_rejected(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(CircuitError, match=message):
        kc.KzgChunkNormSpec(**kwargs)


def test_spec_identity() -> None:
    spec = norm_spec_for(31)
    assert spec.name == "kzgchunknorm-c31-p10-x2-q13" and not spec.reusable_verifier
    assert spec.num_instances == 9 and spec.rows == 41
    digests = {
        spec.digest(),
        norm_spec_for(30).digest(),
        norm_spec_for(31, chunk=16).digest(),
        kc.LARGE_CHUNK_SPEC.digest(),
    }
    assert len(digests) == 4
    assert spec.digest() == kc.KzgChunkNormSpec(31, 10, 13, 2, reusable_verifier=False).digest()
