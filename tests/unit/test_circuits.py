"""Tests of zkfl_dapp.circuits: the real 5x31 aggregation proof and a tiny 2x3 build for the cache logic.

One proof of the real circuit (session fixture ``circuit``) carries every arithmetic case at once: random
values over the whole accepted range, products at exact rounding halves (positive and negative), an
empty zero-weight slot. Its public output must equal :func:`fedavg_quantized` bit for bit.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import random
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPEC
from zkfl_dapp.circuits.aggregation import (
    AggregationArtifacts,
    AggregationCircuitSpec,
    ensure_aggregation_artifacts,
    prove_aggregation,
)
from zkfl_dapp.circuits.artifacts import EZKL_VERSION, CircuitProof, load_proof, verify_offchain
from zkfl_dapp.core.aggregation import fedavg_quantized, normalized_weights
from zkfl_dapp.core.commitments import poseidon_commitment
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS, MAX_QUANTIZED, felt_hex, from_field, to_field
from zkfl_dapp.exceptions import CircuitError

ONE = 2**SPEC.scale_bits
HALF = ONE // 2
SAMPLE_COUNTS = [5, 0, 17, 3, 9]  # slot 1 is empty: weight 0, zero row
TINY = AggregationCircuitSpec(slots=2, model_size=3, scale_bits=13)


def half_inputs(weight: int, rng: random.Random) -> list[int]:
    """Values x with w * x / 2^s exactly k + 1/2, alternating signs."""
    trailing = (weight & -weight).bit_length() - 1
    base = HALF >> trailing  # w * base = odd * 2^(s-1)
    out = []
    for k in range(8):
        odd = 2 * rng.randint(0, (MAX_QUANTIZED // base - 1) // 2 - 1) + 1 if k % 4 == 3 else 2 * k + 1
        out.append(odd * base if k % 2 == 0 else -odd * base)
    return out


def build_rows(weights: tuple[int, ...], seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    top = MAX_QUANTIZED - 1
    rows = []
    for w in weights:
        if w == 0:
            rows.append([0] * SPEC.model_size)  # what the enclave puts in an empty or excluded slot
            continue
        row = [*half_inputs(w, rng), top, -top, 1, -1, 0]
        while len(row) < SPEC.model_size:
            row.append(rng.choice([rng.randint(-top, top), rng.randint(-3 * ONE, 3 * ONE)]))
        rows.append(row)
    return rows


def half_away(q: Fraction) -> int:
    magnitude = math.floor(abs(q) + Fraction(1, 2))
    return magnitude if q >= 0 else -magnitude


class Proven:
    def __init__(self, rows: list[list[int]], weights: tuple[int, ...], proof: CircuitProof, path: Path):
        self.rows, self.weights, self.proof, self.path = rows, weights, proof, path


@pytest.fixture(scope="module")
def proven(circuit: AggregationArtifacts, tmp_path_factory: pytest.TempPathFactory) -> Proven:
    weights = normalized_weights(SAMPLE_COUNTS, SPEC.scale_bits)
    rows = build_rows(weights, seed=5)
    workdir = tmp_path_factory.mktemp("aggregation-proof")
    proof = prove_aggregation(circuit, rows, weights, workdir)
    return Proven(rows, weights, proof, workdir / "proof.json")


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-circuits")
    ensure_aggregation_artifacts(TINY, root)
    return root


# --- the proof computes fedavg_quantized ---------------------------------------------------------
def test_inputs_exercise_halves_negatives_and_the_range(proven: Proven) -> None:
    halves = [(w * x) % ONE == HALF for w, row in zip(proven.weights, proven.rows, strict=True) for x in row if w]
    assert sum(halves) >= 8 * 4
    assert any(
        w * x < 0 and (w * x) % ONE == HALF for w, row in zip(proven.weights, proven.rows, strict=True) for x in row
    )
    assert max(abs(x) for row in proven.rows for x in row) == MAX_QUANTIZED - 1
    assert 0 in proven.weights
    # per-product rounding matters here: rounding the sum once would give a different model
    expected = fedavg_quantized(proven.rows, proven.weights, SPEC.scale_bits)
    rounded_sums = [
        half_away(Fraction(sum(w * row[j] for w, row in zip(proven.weights, proven.rows, strict=True)), ONE))
        for j in range(SPEC.model_size)
    ]
    assert list(expected) != rounded_sums


def test_proof_model_values_equal_fedavg_quantized_bit_for_bit(proven: Proven) -> None:
    expected = fedavg_quantized(proven.rows, proven.weights, SPEC.scale_bits)
    model = proven.proof.model_values(SPEC)
    assert len(model) == SPEC.model_size
    assert [from_field(v) for v in model] == list(expected)
    assert list(model) == [to_field(v) for v in expected]  # as field elements too (negatives wrap)


def test_instance_layout_hashes_then_model_then_weights(proven: Proven) -> None:
    inst = proven.proof.instances
    s, d = SPEC.slots, SPEC.model_size
    assert len(inst) == SPEC.num_instances == 2 * s + 1 + d
    assert all(0 <= v < FIELD_MODULUS for v in inst)
    for i, row in enumerate(proven.rows):
        assert inst[i] == poseidon_commitment(row), f"slot {i}"
    assert inst[1] == poseidon_commitment([0] * d)  # the empty slot's hash: RoundManager's emptySlotCommitment
    assert inst[s] == poseidon_commitment(list(proven.weights))
    assert list(inst[s + 1 + d :]) == list(proven.weights)


def test_load_proof_reads_back_what_prove_returned(proven: Proven) -> None:
    loaded = load_proof(proven.path)
    assert loaded.instances == proven.proof.instances
    assert loaded.proof == proven.proof.proof
    assert len(loaded.proof) > 1000
    assert proven.proof.prove_seconds > 0


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


def test_verify_offchain_accepts_the_proof(circuit: AggregationArtifacts, proven: Proven) -> None:
    assert verify_offchain(circuit, proven.path) is True


@pytest.mark.parametrize(
    "mutate",
    [
        _bump_instance(SPEC.slots + 1),  # first model value
        _bump_instance(SPEC.slots + 1 + SPEC.model_size - 1),  # last model value
        _bump_instance(0),  # slot 0's commitment
        _bump_instance(SPEC.num_instances - 1),  # last weight
        lambda raw: _flip_proof_byte(raw),  # last byte (an evaluation): fails the opening check
        lambda raw: _flip_proof_byte(raw, position=0),  # first byte (a commitment): invalid curve point
        lambda raw: _flip_proof_byte(raw, in_list=False),  # only the bytes the chain would get
        lambda raw: _flip_proof_byte(raw, in_hex=False),  # only the bytes ezkl checks
    ],
    ids=[
        "model-value-0",
        "model-value-last",
        "slot-hash-0",
        "weight-last",
        "proof-last-byte",
        "proof-first-byte",
        "hex-proof-only",
        "proof-list-only",
    ],
)
def test_verify_offchain_rejects_tampering(
    circuit: AggregationArtifacts, proven: Proven, tmp_path: Path, mutate: Callable[[dict], None]
) -> None:
    copy = tampered(proven.path, tmp_path / "proof.json", mutate)
    assert copy.read_bytes() != proven.path.read_bytes()
    assert verify_offchain(circuit, copy) is False


def test_verify_offchain_rejects_an_unreadable_file(circuit: AggregationArtifacts, tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("not a proof")
    assert verify_offchain(circuit, tmp_path / "junk.json") is False
    assert verify_offchain(circuit, tmp_path / "missing.json") is False


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


# --- prove_aggregation argument checks -----------------------------------------------------------
def test_prove_rejects_the_wrong_number_of_updates(circuit: AggregationArtifacts, tmp_path: Path) -> None:
    rows = [[0] * SPEC.model_size] * SPEC.slots
    weights = normalized_weights([1] * SPEC.slots, SPEC.scale_bits)
    with pytest.raises(CircuitError, match=f"takes {SPEC.slots} updates and weights, got 4/5"):
        prove_aggregation(circuit, rows[:4], weights, tmp_path)
    with pytest.raises(CircuitError, match="got 6/5"):
        prove_aggregation(circuit, [*rows, rows[0]], weights, tmp_path)
    with pytest.raises(CircuitError, match="got 5/4"):
        prove_aggregation(circuit, rows, weights[:4], tmp_path)


def test_prove_rejects_updates_of_the_wrong_length(circuit: AggregationArtifacts, tmp_path: Path) -> None:
    rows = [[0] * SPEC.model_size for _ in range(SPEC.slots)]
    rows[3] = rows[3][:-1]
    weights = normalized_weights([1] * SPEC.slots, SPEC.scale_bits)
    with pytest.raises(CircuitError, match=f"every update must have {SPEC.model_size} values"):
        prove_aggregation(circuit, rows, weights, tmp_path / "work")
    assert not (tmp_path / "work").exists()  # rejected before any work


# --- artifacts: cache, rebuild, manifest ----------------------------------------------------------
def _snapshot(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(directory.iterdir())}


def test_cached_artifacts_are_reused_without_rebuilding(tiny_root: Path) -> None:
    art = ensure_aggregation_artifacts(TINY, tiny_root)
    before = _snapshot(art.directory)
    messages: list[str] = []
    t0 = time.perf_counter()
    again = ensure_aggregation_artifacts(TINY, tiny_root, progress=messages.append)
    elapsed = time.perf_counter() - t0
    assert again == art
    assert _snapshot(art.directory) == before  # nothing rewritten
    assert elapsed < 1.0
    assert len(messages) == 1 and "reusing cached artifacts" in messages[0]


def test_the_session_circuit_is_reused_from_the_build_cache(circuit: AggregationArtifacts) -> None:
    before = _snapshot(circuit.directory)
    assert ensure_aggregation_artifacts(SPEC, ROOT / "build" / "circuits") == circuit
    assert _snapshot(circuit.directory) == before


def test_a_missing_cached_file_triggers_a_rebuild(tiny_root: Path) -> None:
    art = ensure_aggregation_artifacts(TINY, tiny_root)
    old_manifest = art.manifest.stat().st_mtime_ns
    art.pk.unlink()
    (art.directory / "stale-leftover").write_text("from an older build")
    messages: list[str] = []
    rebuilt = ensure_aggregation_artifacts(TINY, tiny_root, progress=messages.append)
    assert rebuilt.directory == art.directory
    assert rebuilt.pk.exists() and rebuilt.pk.stat().st_size > 0
    assert rebuilt.manifest.stat().st_mtime_ns != old_manifest
    assert not any("reusing" in m for m in messages)
    assert any("key generation" in m for m in messages)
    assert not (art.directory / "stale-leftover").exists()  # rebuilt from a clean directory
    # and the rebuilt directory is complete again: a further call reuses it
    assert "reusing" in _messages_of(lambda progress: ensure_aggregation_artifacts(TINY, tiny_root, progress=progress))


def _messages_of(call: Callable[[Callable[[str], None]], object]) -> str:
    messages: list[str] = []
    call(messages.append)
    return "\n".join(messages)


def _check_manifest(art: AggregationArtifacts) -> None:
    manifest = json.loads(art.manifest.read_text())
    assert manifest["ezkl_version"] == EZKL_VERSION == importlib.metadata.version("ezkl")
    assert manifest["logrows"] == art.logrows
    assert json.loads(art.settings.read_text())["run_args"]["logrows"] == art.logrows
    assert art.srs.name == f"kzg{art.logrows}.srs"
    assert manifest["srs"]["kind"] == "development" == art.srs_kind
    assert "development only" in manifest["srs"]["note"]
    assert manifest["srs"]["sha256"] == hashlib.sha256(art.srs.read_bytes()).hexdigest()
    assert manifest["spec"] == {"slots": art.spec.slots, "model_size": art.spec.model_size, "scale_bits": 13}
    assert manifest["circuit"] == art.spec.name
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((art.directory / name).read_bytes()).hexdigest() == digest, name
    assert set(manifest["sha256"]) >= {"vk.key", "settings.json", "AggregationVerifier.sol"}
    assert art.directory.name == f"{art.spec.name}-{art.spec.digest()}-development"
    source = art.verifier_sol.read_text()
    assert "contract AggregationVerifier" in source and "contract Halo2Verifier" not in source
    assert "development SRS" in source.splitlines()[2]


def test_manifest_of_the_tiny_build(tiny_root: Path) -> None:
    _check_manifest(ensure_aggregation_artifacts(TINY, tiny_root))


def test_manifest_of_the_session_circuit(circuit: AggregationArtifacts) -> None:
    _check_manifest(circuit)


# --- spec validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slots": 0}, "slots must be in 1..64"),
        ({"slots": 65}, "slots must be in 1..64"),
        ({"model_size": 0}, "model_size must be positive"),
        ({"model_size": -3}, "model_size must be positive"),
        ({"scale_bits": 0}, "scale_bits must be in 1..20"),
        ({"scale_bits": 21}, "scale_bits must be in 1..20"),
    ],
)
def test_invalid_specs_are_rejected(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(CircuitError, match=message):
        AggregationCircuitSpec(**kwargs)


def test_spec_boundaries_and_identity() -> None:
    AggregationCircuitSpec(slots=1, model_size=1, scale_bits=1)
    AggregationCircuitSpec(slots=64, model_size=1, scale_bits=20)
    assert AggregationCircuitSpec().name == "aggregation-s5-d31-q13"
    assert AggregationCircuitSpec().num_instances == 2 * 5 + 1 + 31
    digests = {
        AggregationCircuitSpec().digest(),
        AggregationCircuitSpec(slots=4).digest(),
        AggregationCircuitSpec(model_size=30).digest(),
        AggregationCircuitSpec(scale_bits=12).digest(),
    }
    assert len(digests) == 4
    assert AggregationCircuitSpec().digest() == AggregationCircuitSpec(5, 31, 13).digest()
