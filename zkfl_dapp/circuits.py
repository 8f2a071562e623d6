"""The aggregation circuit (ezkl, Halo2/KZG): build, set up, prove, verify.

The circuit takes ``slots`` update vectors of ``model_size`` quantized parameters plus a vector of
``slots`` normalized weights, every input *hashed* (its Poseidon hash is a public instance), and has one
*public* output: the weighted average followed by the weights themselves. Instance layout (documented
for the contracts in ``contracts/libraries/InstanceLayout.sol``)::

    [hash(update_0) .. hash(update_{S-1}), hash(weights), avg_0 .. avg_{d-1}, w_0 .. w_{S-1}]

Artifacts (ONNX, settings, compiled circuit, SRS, keys, Solidity verifier) are generated from pinned
inputs only (:class:`AggregationCircuitSpec`, the ezkl version) and cached under a directory named by
a digest of those inputs; ``manifest.json`` records their provenance. A self-generated SRS is for
development only and is labelled so; pass a ceremony SRS file (``srs_path``) for anything else.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import ezkl

from zkfl_dapp.exceptions import CircuitError, QuantizationError
from zkfl_dapp.quantization import felt_from_hex, felt_hex

#: Bump when the circuit's construction changes in a way the spec does not capture.
CIRCUIT_REVISION = 1
#: The ezkl release this project pins (requirements.txt); artifacts record it.
EZKL_VERSION = "23.0.5"
#: Minimum logrows tried; ezkl needs room for blinding rows beyond the circuit's own rows.
_MIN_LOGROWS = 10

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def spec_digest(spec: Any, revision: int) -> str:
    """The cache key of a circuit: a digest of its spec (a dataclass), construction revision and ezkl version."""
    pinned = {"spec": asdict(spec), "revision": revision, "ezkl": EZKL_VERSION}
    return hashlib.sha256(json.dumps(pinned, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AggregationCircuitSpec:
    """The pinned inputs of one aggregation circuit."""

    slots: int = 5
    model_size: int = 31
    scale_bits: int = 13

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= 64:
            raise CircuitError(f"slots must be in 1..64, got {self.slots}")
        if self.model_size < 1:
            raise CircuitError(f"model_size must be positive, got {self.model_size}")
        if not 1 <= self.scale_bits <= 20:
            raise CircuitError(f"scale_bits must be in 1..20, got {self.scale_bits}")

    @property
    def name(self) -> str:
        return f"aggregation-s{self.slots}-d{self.model_size}-q{self.scale_bits}"

    @property
    def num_instances(self) -> int:
        return 2 * self.slots + 1 + self.model_size

    def digest(self) -> str:
        return spec_digest(self, CIRCUIT_REVISION)


class ArtifactPaths:
    """Paths of one circuit's generated artifacts, shared by every circuit kind (see CircuitArtifacts)."""

    directory: Path
    logrows: int
    srs_kind: str

    #: Name of the generated verifier contract (ezkl's ``Halo2Verifier``, renamed).
    contract_name: ClassVar[str] = "AggregationVerifier"

    @property
    def onnx(self) -> Path:
        return self.directory / "network.onnx"

    @property
    def settings(self) -> Path:
        return self.directory / "settings.json"

    @property
    def compiled(self) -> Path:
        return self.directory / "network.ezkl"

    @property
    def srs(self) -> Path:
        return self.directory / f"kzg{self.logrows}.srs"

    @property
    def pk(self) -> Path:
        return self.directory / "pk.key"

    @property
    def vk(self) -> Path:
        return self.directory / "vk.key"

    @property
    def verifier_sol(self) -> Path:
        return self.directory / f"{self.contract_name}.sol"

    @property
    def manifest(self) -> Path:
        return self.directory / "manifest.json"


@dataclass(frozen=True)
class CircuitArtifacts(ArtifactPaths):
    """Paths of one aggregation circuit's generated artifacts."""

    spec: AggregationCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str  # "development" (self-generated) or "ceremony"


@dataclass(frozen=True)
class AggregationProof:
    """A proof and its public instances (uint256, as the verifier contract takes them)."""

    proof: bytes
    instances: tuple[int, ...]
    prove_seconds: float

    def model_values(self, spec: Any) -> tuple[int, ...]:
        """The field elements of the proven new global model (``spec``: the aggregation or median circuit's;
        both put the model at instance ``slots + 1``)."""
        start = spec.slots + 1
        return self.instances[start : start + spec.model_size]


def export_aggregation_onnx(spec: AggregationCircuitSpec, path: Path) -> None:
    """Write the circuit's ONNX graph: inputs u0..u{S-1} [1, d] and w [1, S]; output [1, d + S]."""
    import torch  # heavy import, only needed when (re)building artifacts

    class WeightedSum(torch.nn.Module):
        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            updates, weights = args[: spec.slots], args[spec.slots]
            acc = updates[0] * weights[:, 0:1]
            for i in range(1, spec.slots):
                acc = acc + updates[i] * weights[:, i : i + 1]
            return torch.cat([acc, weights], dim=1)

    example = (*(torch.zeros(1, spec.model_size) for _ in range(spec.slots)), torch.zeros(1, spec.slots))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            WeightedSum(),
            example,
            str(path),
            input_names=[f"u{i}" for i in range(spec.slots)] + ["w"],
            output_names=["aggregate"],
            opset_version=17,
            dynamo=False,
        )


def _run_args(spec: Any, logrows: int) -> ezkl.PyRunArgs:
    """Run args of every circuit with hashed inputs and a public output (``spec`` has ``scale_bits``)."""
    args = ezkl.PyRunArgs()
    args.input_visibility = "hashed/public"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    args.input_scale = spec.scale_bits
    args.param_scale = spec.scale_bits
    args.logrows = logrows
    return args


def _settle_logrows(spec: Any, art_dir: Path) -> int:
    """Generate settings at the smallest logrows that holds the circuit (and is at least the spec's
    ``min_logrows`` where it has one); returns it."""
    onnx, settings = art_dir / "network.onnx", art_dir / "settings.json"
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=_run_args(spec, 20))
    rows = int(json.loads(settings.read_text())["num_rows"])
    logrows = max(getattr(spec, "min_logrows", _MIN_LOGROWS), math.ceil(math.log2(rows + 1)))
    if 2**logrows - rows < 64:  # keep room for blinding factors
        logrows += 1
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=_run_args(spec, logrows))
    return logrows


def _generate_verifier(art: Any) -> None:
    """ezkl's Solidity verifier, renamed to ``art.contract_name`` so several generated verifiers can live
    in one project. ``art`` is any :class:`ArtifactPaths` with a ``spec`` (``name``, ``digest()``).

    Runs in a child process: ezkl's async entry points can crash the interpreter at exit.
    """
    raw = art.directory / "Halo2Verifier.raw.sol"
    code = (
        "import asyncio, ezkl, os, sys\n"
        "async def main():\n"
        "    await ezkl.create_evm_verifier(*sys.argv[1:6])\n"
        "asyncio.run(main())\n"
        "sys.stdout.flush(); os._exit(0)\n"
    )
    abi = art.directory / "verifier.abi"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(art.vk), str(art.settings), str(raw), str(abi), str(art.srs)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not raw.exists():
        raise CircuitError(f"ezkl could not generate the Solidity verifier:\n{proc.stderr[-2000:]}")
    source = raw.read_text()
    if source.count("contract Halo2Verifier") != 1:
        raise CircuitError("unexpected verifier source from ezkl: expected one `contract Halo2Verifier`")
    header = (
        "// GENERATED FILE: do not edit. Produced by zkfl_dapp.circuits from pinned inputs:\n"
        f"// circuit {art.spec.name} (digest {art.spec.digest()}), ezkl {EZKL_VERSION}, logrows {art.logrows},\n"
        f"// {art.srs_kind} SRS. Regenerate with `make circuits`.\n"
    )
    art.verifier_sol.write_text(header + source.replace("contract Halo2Verifier", f"contract {art.contract_name}"))
    raw.unlink()


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
    progress: Progress = _quiet,
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
        progress: called with one line per step.
    """
    srs_kind = "ceremony" if ceremony_srs else "development"
    art_dir = root / f"{spec.name}-{spec.digest()}-{srs_kind}"
    manifest_path = art_dir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        art = make(art_dir, int(manifest["logrows"]), srs_kind)
        if all(p.exists() for p in (art.settings, art.compiled, art.pk, art.vk, art.srs, art.verifier_sol)):
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
        else:
            progress(f"circuit {spec.name}: generating DEVELOPMENT SRS (logrows {logrows}; not for production)")
            ezkl.gen_srs(str(art.srs), logrows)
        progress(f"circuit {spec.name}: key generation (setup)")
        t0 = time.perf_counter()
        if not ezkl.setup(str(art.compiled), str(art.vk), str(art.pk), str(art.srs)):
            raise CircuitError("ezkl setup failed")
        setup_seconds = time.perf_counter() - t0
        progress(f"circuit {spec.name}: generating Solidity verifier")
        _generate_verifier(art)
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
            "note": "self-generated by ezkl.gen_srs: development only, its toxic waste was not destroyed"
            if srs_kind == "development"
            else f"ceremony SRS copied from {ceremony_srs}",
            "sha256": _sha256(art.srs),
        },
        "sha256": {p.name: _sha256(p) for p in (art.onnx, art.settings, art.vk, art.verifier_sol)},
        "setup_seconds": round(setup_seconds, 3),
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    progress(f"circuit {spec.name}: ready in {manifest['build_seconds']} s ({art_dir})")
    return art


def ensure_aggregation_artifacts(
    spec: AggregationCircuitSpec,
    root: Path,
    *,
    ceremony_srs: Path | None = None,
    progress: Progress = _quiet,
) -> CircuitArtifacts:
    """Build (or reuse from ``root``) every artifact of the aggregation circuit.

    Args:
        spec: the pinned circuit parameters.
        root: cache directory; artifacts live in ``root/<name>-<digest>/``.
        ceremony_srs: a ceremony SRS file for ``logrows``; without it a development SRS is generated.
        progress: called with one line per step.
    """
    return build_artifacts(
        spec,
        root,
        export=lambda path: export_aggregation_onnx(spec, path),
        settle=lambda art_dir: _settle_logrows(spec, art_dir),
        make=lambda art_dir, logrows, srs_kind: CircuitArtifacts(spec, art_dir, logrows, srs_kind),
        revision=CIRCUIT_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


def install_verifier(art: ArtifactPaths, contracts_dir: Path) -> Path:
    """Copy the generated verifier into ``contracts/generated/`` (git-ignored) for ape to compile."""
    target = contracts_dir / "generated" / art.verifier_sol.name
    target.parent.mkdir(parents=True, exist_ok=True)
    source = art.verifier_sol.read_bytes()
    if not target.exists() or target.read_bytes() != source:
        target.write_bytes(source)
    return target


def prove_aggregation(
    art: CircuitArtifacts, updates: Sequence[Sequence[int]], weights: Sequence[int], workdir: Path
) -> AggregationProof:
    """Prove ``aggregate = weighted average`` for quantized ``updates`` (one per slot) and ``weights``."""
    spec = art.spec
    if len(updates) != spec.slots or len(weights) != spec.slots:
        raise CircuitError(f"the circuit takes {spec.slots} updates and weights, got {len(updates)}/{len(weights)}")
    if any(len(u) != spec.model_size for u in updates):
        raise CircuitError(f"every update must have {spec.model_size} values")
    return prove_rows(art, [*updates, weights], workdir)


def prove_rows(art: ArtifactPaths, rows: Sequence[Sequence[int]], workdir: Path) -> AggregationProof:
    """Witness and prove one circuit from its inputs' quantized values (one row per ONNX input)."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = {"input_data": [[felt_hex(v) for v in row] for row in rows]}
    input_path, witness_path, proof_path = workdir / "input.json", workdir / "witness.json", workdir / "proof.json"
    input_path.write_text(json.dumps(data))
    try:
        ezkl.gen_witness(str(input_path), str(art.compiled), str(witness_path))
        t0 = time.perf_counter()
        ezkl.prove(str(witness_path), str(art.compiled), str(art.pk), str(proof_path), str(art.srs))
        seconds = time.perf_counter() - t0
    except RuntimeError as exc:
        raise CircuitError(f"proving failed: {exc}") from exc
    return load_proof(proof_path, seconds)


def load_proof(path: Path, prove_seconds: float = 0.0) -> AggregationProof:
    """Read an ezkl proof file.

    ezkl verifies the byte list ``proof``; the chain gets ``hex_proof``. A file where the two differ is
    rejected, so that what :func:`verify_offchain` accepts is what gets submitted.
    """
    try:
        raw = json.loads(path.read_text())
        instances = tuple(felt_from_hex(h) for h in raw["instances"][0])
        proof = bytes.fromhex(raw["hex_proof"].removeprefix("0x"))
        verified_bytes = bytes(raw["proof"])
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, QuantizationError) as exc:
        raise CircuitError(f"{path} is not an ezkl proof file: {exc}") from exc
    if verified_bytes != proof:
        raise CircuitError(f"{path}: 'hex_proof' and 'proof' hold different bytes")
    return AggregationProof(proof, instances, prove_seconds)


def verify_offchain(art: ArtifactPaths, proof_path: Path) -> bool:
    """Verify a proof file with ezkl (no chain involved); False for a malformed or inconsistent file."""
    try:
        load_proof(proof_path)
        return bool(ezkl.verify(str(proof_path), str(art.settings), str(art.vk), str(art.srs)))
    except (CircuitError, RuntimeError):
        return False
