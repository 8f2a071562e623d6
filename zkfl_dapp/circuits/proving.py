"""Proving and verifying with a built circuit: witness, prove, read and check proof files.

The plaintext a proof is made from (a hospital's update, the enclave's inputs, a patient's features) is
written only into a :func:`private_scratch` folder (mode 0700, files 0600) that is deleted before returning,
also when ezkl fails; only the proof file remains.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ezkl

from zkfl_dapp.circuits.artifact_paths import ArtifactPaths
from zkfl_dapp.circuits.kzg import G1Point, KzgError, proof_points
from zkfl_dapp.core.fixedpoint import felt_from_hex, felt_hex
from zkfl_dapp.exceptions import CircuitError, QuantizationError

#: The name prefix of a private scratch folder (then the creating process's pid, a dash and a random suffix).
SCRATCH_PREFIX = ".private-"
_SCRATCH_PID = re.compile(r"^\.private-(\d+)-")


@dataclass(frozen=True)
class CircuitProof:
    """A proof and its public instances (uint256, as the verifier contract takes them)."""

    proof: bytes
    instances: tuple[int, ...]
    prove_seconds: float


@contextmanager
def private_scratch(workdir: Path) -> Iterator[Path]:
    """A fresh directory (mode 0700) inside ``workdir`` for plaintext circuit inputs and witnesses (a
    hospital's update, the enclave's inputs, a patient's features); removed with everything in it on exit,
    also when proving fails. ``workdir`` itself is created 0700 when missing.

    Raises:
        CircuitError: the directory cannot be created, or the plaintext cannot be deleted afterwards.
    """
    try:
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkdtemp: mode 0700; the creator's pid in the name tells a later sweep whether it is stale
        scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=workdir))
    except OSError as exc:
        raise CircuitError(f"cannot create a private work directory in {workdir}: {exc}") from exc
    try:
        yield scratch
    finally:
        try:
            shutil.rmtree(scratch)
        except OSError as exc:
            raise CircuitError(
                f"could not delete the plaintext circuit inputs in {scratch}: {exc}; delete them by hand"
            ) from exc


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_stale_scratch(root: Path, *, skip: Sequence[Path] = ()) -> list[Path]:
    """Remove every :func:`private_scratch` folder under ``root`` whose creating process is gone (a party killed
    with SIGKILL while ezkl ran leaves its plaintext input behind; every party calls this at start-up). A folder
    of a running process is kept (parties of one machine share the work folder); one with no pid in its name
    (an older release's) is stale. Folders in ``skip`` (the content store) are not walked. Returns the folders
    removed.

    Raises:
        CircuitError: a stale folder cannot be removed (its plaintext would stay: delete it by hand).
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    skipped = {p.resolve() for p in skip}
    for dirpath, dirnames, _files in os.walk(root):
        dirnames[:] = [d for d in dirnames if (Path(dirpath) / d).resolve() not in skipped]
        for name in [d for d in dirnames if d.startswith(SCRATCH_PREFIX)]:
            dirnames.remove(name)  # never descend into a scratch folder
            pid = _SCRATCH_PID.match(name)
            if pid is not None and _alive(int(pid.group(1))):
                continue
            path = Path(dirpath) / name
            try:
                shutil.rmtree(path)
            except OSError as exc:
                why = f"cannot delete the stale plaintext folder {path}: {exc}; delete it by hand"
                raise CircuitError(why) from exc
            removed.append(path)
    return removed


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist) with mode 0600 and write ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ezkl_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is ezkl failing on its input: a RuntimeError, or a Rust panic (pyo3's
    ``PanicException`` derives from BaseException and cannot be imported by name)."""
    return isinstance(exc, RuntimeError) or type(exc).__name__ == "PanicException"


def run_ezkl(
    art: ArtifactPaths, input_data: dict[str, Any], workdir: Path, *, prove: bool, what: str
) -> tuple[Any, float]:
    """Witness (and, with ``prove``, prove into ``workdir/proof.json``, mode 0600) from ``input_data``.

    The input and the witness live only in a :func:`private_scratch` directory, deleted before returning.
    Returns the witness's ``outputs`` and the proving time.

    Raises:
        CircuitError: ezkl failed (``what`` says which step of which party).
    """
    with private_scratch(workdir) as scratch:
        input_path, witness_path, proof_tmp = scratch / "input.json", scratch / "witness.json", scratch / "proof.json"
        write_private(input_path, json.dumps(input_data).encode())
        seconds = 0.0
        try:
            # polycommit inputs: the witness carries their KZG commitments, computed with the vk and SRS
            ezkl.gen_witness(
                str(input_path), str(art.compiled), str(witness_path), vk_path=str(art.vk), srs_path=str(art.srs)
            )
            os.chmod(witness_path, 0o600)
            outputs = json.loads(witness_path.read_text())["outputs"]
            if prove:
                t0 = time.perf_counter()
                ezkl.prove(str(witness_path), str(art.compiled), str(art.pk), str(proof_tmp), str(art.srs))
                seconds = time.perf_counter() - t0
                os.chmod(proof_tmp, 0o600)
                os.replace(proof_tmp, workdir / "proof.json")
        except (OSError, KeyError, ValueError) as exc:
            raise CircuitError(f"{what} failed: {exc}") from exc
        except BaseException as exc:
            if not ezkl_failure(exc):
                raise
            raise CircuitError(f"{what} failed: {exc}") from exc
    return outputs, seconds


def prove_rows(art: ArtifactPaths, rows: Sequence[Sequence[int]], workdir: Path) -> CircuitProof:
    """Witness and prove one circuit from its inputs' quantized values (one row per ONNX input).

    Only ``workdir/proof.json`` (mode 0600) remains; the plaintext input and witness are deleted.
    """
    data = {"input_data": [[felt_hex(v) for v in row] for row in rows]}
    _, seconds = run_ezkl(art, data, workdir, prove=True, what="proving")
    return load_proof(workdir / "proof.json", seconds)


def load_committed_proof(
    path: Path, points: int, prove_seconds: float = 0.0
) -> tuple[CircuitProof, tuple[G1Point, ...]]:
    """:func:`load_proof`, and the proof's first ``points`` committed-input points (``kzg.proof_points``).

    Raises:
        CircuitError: not an ezkl proof file, or a committed point is malformed.
    """
    base = load_proof(path, prove_seconds)
    try:
        return base, proof_points(base.proof, points)
    except KzgError as exc:
        raise CircuitError(f"{path}: malformed committed-input point: {exc}") from exc


def load_proof(path: Path, prove_seconds: float = 0.0) -> CircuitProof:
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
    return CircuitProof(proof, instances, prove_seconds)


def verify_offchain(art: ArtifactPaths, proof_path: Path) -> bool:
    """Verify a proof file with ezkl (no chain involved); False for a malformed or inconsistent file."""
    try:
        load_proof(proof_path)
        return bool(ezkl.verify(str(proof_path), str(art.settings), str(art.vk), str(art.srs)))
    except (CircuitError, RuntimeError):
        return False
