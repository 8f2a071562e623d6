"""One generic path for every circuit (ezkl, Halo2/KZG): build, set up, prove, verify.

Artifacts (ONNX, settings, compiled circuit, SRS, keys, Solidity verifier) are generated from pinned
inputs only (a circuit's frozen spec dataclass, its construction revision, the ezkl version) and cached
under a directory named by a digest of those inputs; ``manifest.json`` records their provenance. A
self-generated SRS is for development only and is labelled so; pass a ceremony SRS file
(``ceremony_srs``) for anything else. Each circuit module (:mod:`.kzg_norm`, :mod:`.kzg_median`,
:mod:`.kzg_chunk_norm`, :mod:`.kzg_inference`) supplies its spec, ONNX export and run arguments.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import ezkl

from zkfl_dapp.circuits.kzg import G1Point, KzgBasis, KzgError, proof_points
from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.core.fixedpoint import felt_from_hex, felt_hex
from zkfl_dapp.exceptions import CircuitError, QuantizationError

#: The ezkl release this project pins (requirements.txt); artifacts record it.
EZKL_VERSION = "23.0.5"


#: The HOME ezkl runs with: its .svm folder holds the checkout's solc shim (tools/install_solc_shim.py).
TOOLCHAIN_HOME = REPO_ROOT / ".toolchain" / "home"
#: ezkl's reusable verifier contract: the same source for every circuit (deployed once).
REUSABLE_VERIFIER_NAME = "Halo2VerifierReusable"
#: Minimum logrows tried; ezkl needs room for blinding rows beyond the circuit's own rows.
#: Rows kept free of the circuit at the end of every column: halo2's blinding rows and ezkl's filler.
_BLINDING_MARGIN = 64


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def spec_digest(spec: Any, revision: int) -> str:
    """The cache key of a circuit: a digest of its spec (a dataclass), construction revision and ezkl version."""
    pinned = {"spec": asdict(spec), "revision": revision, "ezkl": EZKL_VERSION}
    return hashlib.sha256(json.dumps(pinned, sort_keys=True).encode()).hexdigest()[:16]


class ArtifactPaths:
    """Paths of one circuit's generated artifacts, shared by every circuit kind (e.g. KzgNormArtifacts);
    each subclass names its verifier contract."""

    directory: Path
    logrows: int
    srs_kind: str

    #: Name of the generated verifier contract (ezkl's ``Halo2Verifier``, renamed).
    contract_name: ClassVar[str] = "Halo2Verifier"
    #: Generate ezkl's reusable verifier instead: ``verifier_sol`` is then a small wrapper holding the
    #: circuit's verifying-key artifact (VKA) that calls the shared ``reusable_verifier_sol`` (see
    #: :func:`_generate_reusable_verifier`). For circuits whose plain verifier is over EIP-170's size limit.
    reusable: ClassVar[bool] = False

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
    def reusable_verifier_sol(self) -> Path:
        """ezkl's circuit-independent reusable verifier (only when ``reusable``)."""
        return self.directory / f"{REUSABLE_VERIFIER_NAME}.sol"

    @property
    def vka(self) -> Path:
        """The verifying-key artifact, ezkl's bincode file (only when ``reusable``)."""
        return self.directory / "vka.bin"

    @property
    def verifier_sources(self) -> tuple[Path, ...]:
        """Every generated Solidity file that must be installed and deployed."""
        return (self.verifier_sol, self.reusable_verifier_sol) if self.reusable else (self.verifier_sol,)

    @property
    def manifest(self) -> Path:
        return self.directory / "manifest.json"

    def basis(self) -> KzgBasis:
        """The circuit's KZG basis (its SRS, vk and settings): the commitments its proofs' committed points are.
        Circuits that must agree on commitments share it (see circuits.suite)."""
        return KzgBasis.load(self.srs, self.vk, self.settings)


@dataclass(frozen=True)
class CircuitProof:
    """A proof and its public instances (uint256, as the verifier contract takes them)."""

    proof: bytes
    instances: tuple[int, ...]
    prove_seconds: float


def settle_logrows(
    art_dir: Path, run_args: Callable[[int], ezkl.PyRunArgs], min_logrows: int, committed_rows: int
) -> int:
    """Write ``art_dir/settings.json`` at the smallest logrows (at least ``min_logrows``) that holds the circuit
    with room for the blinding rows; returns it.

    Raises:
        CircuitError: ``committed_rows`` values (model and pad rows) do not fit one committed column there.
    """
    onnx, settings = art_dir / "network.onnx", art_dir / "settings.json"
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=run_args(20))
    rows = int(json.loads(settings.read_text())["num_rows"])
    logrows = max(min_logrows, math.ceil(math.log2(rows + 1)))
    if 2**logrows - rows < _BLINDING_MARGIN:  # keep room for blinding rows
        logrows += 1
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=run_args(logrows))
    if committed_rows > 2**logrows - _BLINDING_MARGIN:
        raise CircuitError(f"{committed_rows} values do not fit one committed column at logrows {logrows}")
    return logrows


def _generate_verifier(art: Any) -> None:
    """ezkl's Solidity verifier, renamed to ``art.contract_name`` so several generated verifiers can live
    in one project. ``art`` is any :class:`ArtifactPaths` with a ``spec`` (``name``, ``digest()``).

    Runs in a child process: ezkl's async entry points can crash the interpreter at exit.
    """
    if art.reusable:
        _generate_reusable_verifier(art)
        return
    raw = art.directory / "Halo2Verifier.raw.sol"
    code = (
        "import asyncio, ezkl, os, sys\n"
        "async def main():\n"
        "    await ezkl.create_evm_verifier(*sys.argv[1:6])\n"
        "asyncio.run(main())\n"
        "sys.stdout.flush(); os._exit(0)\n"
    )
    abi = art.directory / "verifier.abi"
    # ezkl compiles the verifier with the solc it finds in HOME/.svm: the checkout's own shim (tools/), never
    # anything in the user's home
    env = {**os.environ, "HOME": str(TOOLCHAIN_HOME)}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(art.vk), str(art.settings), str(raw), str(abi), str(art.srs)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0 or not raw.exists():
        raise CircuitError(f"ezkl could not generate the Solidity verifier:\n{proc.stderr[-2000:]}")
    source = raw.read_text()
    if source.count("contract Halo2Verifier") != 1:
        raise CircuitError("unexpected verifier source from ezkl: expected one `contract Halo2Verifier`")
    art.verifier_sol.write_text(
        _generated_header(art) + source.replace("contract Halo2Verifier", f"contract {art.contract_name}")
    )
    raw.unlink()


def _generated_header(art: Any) -> str:
    return (
        "// GENERATED FILE: do not edit. Produced by zkfl_dapp.circuits from pinned inputs:\n"
        f"// circuit {art.spec.name} (digest {art.spec.digest()}), ezkl {EZKL_VERSION}, logrows {art.logrows},\n"
        f"// {art.srs_kind} SRS. Regenerate with `make circuits`.\n"
    )


def read_vka_words(path: Path) -> list[bytes]:
    """The 32-byte words of an ezkl VKA file (bincode: a little-endian u64 count, then the words)."""
    data = path.read_bytes()
    count = int.from_bytes(data[:8], "little")
    if len(data) != 8 + 32 * count:
        raise CircuitError(f"{path} is not an ezkl VKA file ({len(data)} bytes for {count} words)")
    return [data[8 + 32 * i : 40 + 32 * i] for i in range(count)]


def vka_digest(words: Sequence[bytes]) -> bytes:
    """What the reusable verifier registers and returns for a VKA: keccak256 of its words."""
    from eth_utils import keccak

    return bytes(keccak(b"".join(words)))


def _generate_reusable_verifier(art: Any) -> None:
    """ezkl's reusable verifier (``reusable_verifier_sol``, circuit-independent), the circuit's VKA
    (``vka``), and ``verifier_sol``: a wrapper contract ``art.contract_name`` that embeds the VKA, pins its
    digest, registers it in its constructor and exposes ``IHalo2Verifier.verifyProof(bytes, uint256[])``.

    Why: the plain verifier inlines the verifying key and its gate evaluation as code; for wide circuits
    that exceeds EIP-170's 24,576 bytes. The reusable verifier interprets the VKA instead (ezkl 23: marked
    experimental). The wrapper is what a caller trusts: it passes only its own VKA and checks the digest
    the reusable verifier reports, so the reusable verifier's open registry gives nobody a way in.
    """
    raw = art.directory / f"{REUSABLE_VERIFIER_NAME}.raw.sol"
    code = (
        "import asyncio, ezkl, os, sys\n"
        "a = sys.argv[1:]\n"
        "async def main():\n"
        "    await ezkl.create_evm_verifier(a[0], a[1], a[2], a[3], a[4], reusable=True)\n"
        "    await ezkl.create_evm_vka(a[0], a[1], a[5], a[4], 0)\n"
        "asyncio.run(main())\n"
        "sys.stdout.flush(); os._exit(0)\n"
    )
    abi = art.directory / "verifier.abi"
    env = {**os.environ, "HOME": str(TOOLCHAIN_HOME)}
    argv = [str(p) for p in (art.vk, art.settings, raw, abi, art.srs, art.vka)]
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not raw.exists() or not art.vka.exists():
        raise CircuitError(f"ezkl could not generate the reusable verifier:\n{proc.stderr[-2000:]}")
    source = raw.read_text()
    if source.count(f"contract {REUSABLE_VERIFIER_NAME}") != 1:
        raise CircuitError(f"unexpected verifier source from ezkl: expected one `contract {REUSABLE_VERIFIER_NAME}`")
    header = (
        "// GENERATED FILE: do not edit. ezkl's reusable Halo2/KZG verifier (ezkl "
        f"{EZKL_VERSION}), the same for every\n// circuit: deploy once. Regenerate with `make circuits`.\n"
    )
    art.reusable_verifier_sol.write_text(header + source)
    raw.unlink()
    words = read_vka_words(art.vka)
    encoded = (32).to_bytes(32, "big") + len(words).to_bytes(32, "big") + b"".join(words)  # abi.encode(bytes32[])
    art.verifier_sol.write_text(
        _generated_header(art)
        + f"""// The circuit's verifying-key artifact (VKA, {len(words)} words) for ezkl's reusable verifier.
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {{IHalo2VerifierReusable}} from "../interfaces/IHalo2VerifierReusable.sol";

/// @notice Verifies proofs of circuit {art.spec.name} through the shared {REUSABLE_VERIFIER_NAME}
/// (IHalo2Verifier.verifyProof: an invalid proof reverts).
contract {art.contract_name} {{
    IHalo2VerifierReusable public immutable reusableVerifier;
    /// @notice keccak256 of the VKA words: what the reusable verifier must report back.
    bytes32 public constant VKA_DIGEST = 0x{vka_digest(words).hex()};
    /// @dev abi.encode(bytes32[] vka)
    bytes private constant VKA_ABI = hex"{encoded.hex()}";

    constructor(IHalo2VerifierReusable verifier) {{
        reusableVerifier = verifier;
        require(verifier.registerVka(vka()) == VKA_DIGEST, "VKA digest mismatch");
    }}

    /// @notice The circuit's VKA, as the reusable verifier takes it.
    function vka() public pure returns (bytes32[] memory) {{
        return abi.decode(VKA_ABI, (bytes32[]));
    }}

    function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool) {{
        (bool success, bytes32 digest) = reusableVerifier.verifyProof(proof, instances, vka());
        return success && digest == VKA_DIGEST;
    }}
}}
"""
    )


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


def install_verifier(art: ArtifactPaths, contracts_dir: Path) -> Path:
    """Copy the generated verifier (with a reusable one, the shared reusable verifier too) into
    ``contracts/generated/`` (git-ignored) for ape to compile; returns the path of ``art.verifier_sol``'s copy."""
    for path in art.verifier_sources:
        target = contracts_dir / "generated" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        source = path.read_bytes()
        if not target.exists() or target.read_bytes() != source:
            target.write_bytes(source)
    return contracts_dir / "generated" / art.verifier_sol.name


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
        scratch = Path(tempfile.mkdtemp(prefix=".private-", dir=workdir))  # mkdtemp: mode 0700
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
