"""Plaintext never stays on disk: a hospital's update, the enclave's inputs and a patient's features are
written only with mode 0600 inside a 0700 scratch directory and removed after proving (also on failure)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.conftest import ROOT, padded_update
from zkfl_dapp.circuits.kzg_chunk_norm import prove_chunk
from zkfl_dapp.circuits.kzg_inference import (
    KzgInferenceCircuitSpec,
    ensure_kzg_inference_artifacts,
    prove_kzg_inference,
)
from zkfl_dapp.circuits.kzg_median import prove_inputs as median_prove_inputs
from zkfl_dapp.circuits.kzg_median import prove_kzg_median
from zkfl_dapp.circuits.proving import prove_rows
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.exceptions import CircuitError


def _tree(workdir: Path) -> list[Path]:
    return sorted(workdir.rglob("*"))


def _assert_private(workdir: Path) -> None:
    for path in [workdir, *_tree(workdir)]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} has mode {oct(mode)}: readable beyond its owner"


def test_a_norm_proof_leaves_only_the_proof_and_nothing_world_readable(
    suite: CircuitSuite, genesis: tuple[int, ...], tmp_path: Path
) -> None:
    workdir = tmp_path / "hospital" / "round-1"
    proof = prove_chunk(suite.norm, 0, 1, 10**6, padded_update(9, genesis), genesis, "0x" + "11" * 20, workdir)
    assert proof.proof
    assert [p.name for p in _tree(workdir)] == ["proof.json"]
    _assert_private(workdir)


def test_a_failed_proof_leaves_no_plaintext(suite: CircuitSuite, tmp_path: Path) -> None:
    workdir = tmp_path / "failed"
    with pytest.raises(CircuitError):
        prove_rows(suite.norm, [[7] * suite.rows], workdir)  # one input of three: ezkl panics
    assert _tree(workdir) == []
    _assert_private(workdir)


def test_a_patient_proof_leaves_no_features_on_disk(tmp_path: Path) -> None:
    art = ensure_kzg_inference_artifacts(KzgInferenceCircuitSpec(), ROOT / "build" / "circuits")
    workdir = tmp_path / "patient"
    proof = prove_kzg_inference(art, [100] * 41, [0.5] * 30, "0x" + "11" * 20, workdir)
    assert len(proof.instances) == 6
    assert [p.name for p in _tree(workdir)] == ["proof.json"]
    _assert_private(workdir)


def test_the_enclaves_median_proof_keeps_the_five_updates_off_disk_also_when_it_fails(
    suite: CircuitSuite, genesis: tuple[int, ...], tmp_path: Path
) -> None:
    """The median circuit's inputs are all five hospitals' updates in the clear: they live in the private
    scratch folder only while ezkl runs, and go with it, a failed proof included."""
    assert suite.median is not None
    slots = fill_slots([padded_update(i, genesis) for i in range(5)], genesis, 13)
    workdir = tmp_path / "enclave" / "round-1"
    assert prove_kzg_median(suite.median, slots, workdir).proof
    assert [p.name for p in _tree(workdir)] == ["proof.json"]
    _assert_private(workdir)
    failed = tmp_path / "enclave" / "round-2"
    with pytest.raises(CircuitError):  # three inputs of six: ezkl fails with the updates on disk
        median_prove_inputs(suite.median, [*slots[:2], list(median_quantized(slots))], failed)
    assert _tree(failed) == []
