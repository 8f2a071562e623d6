"""One generic build path for every circuit (ezkl, Halo2/KZG): export, settle, compile, set up, generate.

Artifacts (ONNX, settings, compiled circuit, SRS, keys, Solidity verifier) are generated from pinned
inputs only (a circuit's frozen spec dataclass, its construction revision, the ezkl version) and cached
under a directory named by a digest of those inputs; ``manifest.json`` records their provenance. A
self-generated SRS is for development only and is labelled so; pass a ceremony SRS file
(``ceremony_srs``) for anything else. Each circuit module (:mod:`.kzg_median`,
:mod:`.kzg_chunk_norm`, :mod:`.kzg_inference`) supplies its spec, ONNX export and run arguments.

The artifact folder's layout is :mod:`.artifact_paths`, the generated Solidity verifiers
:mod:`.verifier_codegen`, proving and verifying with the built artifacts :mod:`.proving`. Their public names
are re-exported here for code written against the single module this once was.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import ezkl

from zkfl_dapp.circuits.artifact_paths import (
    EZKL_VERSION,
    REUSABLE_VERIFIER_NAME,
    TOOLCHAIN_HOME,
    ArtifactPaths,
    spec_digest,
)
from zkfl_dapp.circuits.proving import (
    CircuitProof,
    ezkl_failure,
    load_committed_proof,
    load_proof,
    private_scratch,
    prove_rows,
    run_ezkl,
    verify_offchain,
    write_private,
)
from zkfl_dapp.circuits.verifier_codegen import generate_verifier, install_verifier, read_vka_words, vka_digest
from zkfl_dapp.exceptions import CircuitError

__all__ = [
    "EZKL_VERSION",
    "REUSABLE_VERIFIER_NAME",
    "TOOLCHAIN_HOME",
    "ArtifactPaths",
    "CircuitProof",
    "Progress",
    "build_artifacts",
    "ezkl_failure",
    "install_verifier",
    "load_committed_proof",
    "load_proof",
    "private_scratch",
    "prove_rows",
    "read_vka_words",
    "run_ezkl",
    "settle_logrows",
    "spec_digest",
    "verify_offchain",
    "vka_digest",
    "write_private",
]

#: Minimum logrows tried; ezkl needs room for blinding rows beyond the circuit's own rows.
#: Rows kept free of the circuit at the end of every column: halo2's blinding rows and ezkl's filler.
_BLINDING_MARGIN = 64


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def settle_logrows(
    art_dir: Path,
    run_args: Callable[[int], ezkl.PyRunArgs],
    min_logrows: int,
    committed_rows: int,
    margin: int = _BLINDING_MARGIN,
) -> int:
    """Write ``art_dir/settings.json`` at the smallest logrows (at least ``min_logrows``) that holds the circuit
    with ``margin`` rows left for the blinding rows; returns it.

    Raises:
        CircuitError: ``committed_rows`` values (model and pad rows) do not fit one committed column there.
    """
    onnx, settings = art_dir / "network.onnx", art_dir / "settings.json"
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=run_args(20))
    rows = int(json.loads(settings.read_text())["num_rows"])
    logrows = max(min_logrows, math.ceil(math.log2(rows + 1)))
    if 2**logrows - rows < margin:  # keep room for blinding rows
        logrows += 1
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=run_args(logrows))
    if committed_rows > 2**logrows - margin:
        raise CircuitError(f"{committed_rows} values do not fit one committed column at logrows {logrows}")
    return logrows


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


ArtT = TypeVar("ArtT", bound=ArtifactPaths)


def build_artifacts(
    spec: Any,
    root: Path,
    *,
    export: Callable[[Path], None],
    settle: Callable[[Path], int],
    make: Callable[[Path, int, str], ArtT],
    revision: int,
    ceremony_srs: Path | None = None,
    shared_srs: Path | None = None,
    progress: Progress = _quiet,
    srs_kind: str | None = None,
) -> ArtT:
    """Build (or reuse from ``root``) every artifact of one circuit: the machinery behind
    :func:`ensure_aggregation_artifacts`, reusable for other circuits.

    Args:
        spec: a frozen dataclass with ``name`` and ``digest()`` (its pinned inputs).
        root: cache directory; artifacts live in ``root/<name>-<digest>-<srs kind>/``.
        export: writes the ONNX graph to the given path.
        settle: writes ``settings.json`` in the given artifact directory; returns the logrows.
        make: the artifact record for (directory, logrows, srs kind).
        revision: the circuit construction's revision, recorded in the manifest.
        ceremony_srs: a ceremony SRS file for ``logrows``; without it a development SRS is generated.
        shared_srs: without ``ceremony_srs``, another circuit's development SRS to copy instead of generating
            one (circuits whose KZG commitments must share a basis); the kind stays "development".
        progress: called with one line per step.
        srs_kind: the label of a copied ``ceremony_srs`` (default ``"ceremony"``): ``"development"`` for a
            development SRS shared with another circuit (commitments must agree across circuits).
    """
    srs_kind = srs_kind or ("ceremony" if ceremony_srs else "development")
    art_dir = root / f"{spec.name}-{spec.digest()}-{srs_kind}"
    manifest_path = art_dir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        art = make(art_dir, int(manifest["logrows"]), srs_kind)
        if all(p.exists() for p in (art.settings, art.compiled, art.pk, art.vk, art.srs, *art.verifier_sources)):
            progress(f"circuit {spec.name}: reusing cached artifacts in {art_dir}")
            return art
    if art_dir.exists():
        shutil.rmtree(art_dir)
    art_dir.mkdir(parents=True)
    started = time.perf_counter()
    try:
        progress(f"circuit {spec.name}: exporting ONNX graph")
        export(art_dir / "network.onnx")
        logrows = settle(art_dir)
        art = make(art_dir, logrows, srs_kind)
        ezkl.compile_circuit(str(art.onnx), str(art.compiled), str(art.settings))
        if ceremony_srs:
            progress(f"circuit {spec.name}: using ceremony SRS {ceremony_srs}")
            shutil.copyfile(ceremony_srs, art.srs)
        elif shared_srs:
            progress(f"circuit {spec.name}: using the DEVELOPMENT SRS {shared_srs} (not for production)")
            shutil.copyfile(shared_srs, art.srs)
        else:
            progress(f"circuit {spec.name}: generating DEVELOPMENT SRS (logrows {logrows}; not for production)")
            ezkl.gen_srs(str(art.srs), logrows)
        progress(f"circuit {spec.name}: key generation (setup)")
        t0 = time.perf_counter()
        if not ezkl.setup(str(art.compiled), str(art.vk), str(art.pk), str(art.srs)):
            raise CircuitError("ezkl setup failed")
        setup_seconds = time.perf_counter() - t0
        progress(f"circuit {spec.name}: generating Solidity verifier")
        generate_verifier(art)
    except (RuntimeError, ValueError, OSError) as exc:
        shutil.rmtree(art_dir, ignore_errors=True)
        raise CircuitError(f"building circuit {spec.name} failed: {exc}") from exc
    manifest = {
        "circuit": spec.name,
        "spec": asdict(spec),
        "revision": revision,
        "ezkl_version": EZKL_VERSION,
        "logrows": logrows,
        "srs": {
            "kind": srs_kind,
            "note": f"ceremony SRS copied from {ceremony_srs}"
            if srs_kind == "ceremony"
            else f"development SRS copied from {shared_srs or ceremony_srs}: its toxic waste was not destroyed"
            if shared_srs or ceremony_srs
            else "self-generated by ezkl.gen_srs: development only, its toxic waste was not destroyed",
            "sha256": _sha256(art.srs),
        },
        "sha256": {p.name: _sha256(p) for p in (art.onnx, art.settings, art.vk, *art.verifier_sources)},
        "setup_seconds": round(setup_seconds, 3),
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    progress(f"circuit {spec.name}: ready in {manifest['build_seconds']} s ({art_dir})")
    return art
