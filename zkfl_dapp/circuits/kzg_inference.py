"""The commit-and-prove inference circuit: a patient's logit under the committed global model ``S``.

Inputs, every one ``polycommit`` (ezkl has one visibility for all inputs; each input's KZG commitment is
one of the proof's first points, in input order, see :mod:`zkfl_dapp.circuits.kzg`), all at the
aggregate's scale ``2**26`` (``input_scale = 2 * scale_bits``):

* ``m [1, d + P]``: the round's aggregate ``S`` exactly as RoundManager committed it: the ``d = f + 1``
  model rows ``[w_0 .. w_{f-1}, b]`` (scale ``2**26``) and the ``P`` aggregated hiding-pad rows;
* ``x [1, f + Q]``: the patient's standardized features at scale ``2**26`` followed by ``Q`` random
  hiding-pad rows (:data:`FEATURE_PAD_BITS` bits each, at least 128 bits in all), which the graph ignores;
* ``p [1, 5]``: the requester's address in five 32-bit limbs (:func:`~.kzg_distance.address_limbs`).

The graph is one dot product, rescaled once by ``2**26`` (half away from zero), plus the bias::

    logit = rescale(sum_{j < f} S_j x_j, 26) + S_f              instances = [logit, a_0 .. a_4]

The limbs are a public *output* copied from ``p``, so a proof names its requester and a copied proof
records nothing for the copier (the same trick as the norm circuit). There is no sigmoid in the circuit:
the risk ``sigmoid(logit / 2**26)`` is a public, monotone function of the proven logit that anyone
applies, which saves the lookup table that made the old circuit need ``2**16`` rows.

**Why it is sound.** Point 0 of the proof is ``C(m)`` in the *same basis* as the norm circuit of this
model size (same SRS, same ``logrows``, same number of unusable rows: ``unusable_rows`` is checked when
artifacts are built), so PredictionRegistry's check ``proof[0:64] == RoundManager.modelOf(round)`` pins
``m`` to the finalized aggregate: KZG is binding, and no other vector has that commitment. The logit is
computed by constrained ezkl gates from that ``m`` and the committed ``x``; every input and output is
range-checked (``|v| < 2**36``, decomposition base ``2**9`` in 4 legs, as in the norm circuit), so the
rescale cannot be satisfied by a wrapped field element. ``x`` is the prover's own choice (it is the
patient's data): the proof says "this model gives this logit for *some* feature vector of the
requester's", which is what a prediction receipt means.

**Hiding.** ``C(x)`` is public in the proof. Standardized clinical features are low-entropy, so without
the pad a guess of the features could be confirmed against it; the pad rows make that a >= 128-bit
search. ``S`` is the consortium's model, already committed on-chain with its own pad.

**Range.** ``|x| <= MAX_FEATURE_ABS`` (1000 standard deviations) keeps ``2**26 |x| < 2**36``; the logit
must also satisfy ``|logit| < 2**36`` (real ``|logit| < 1024``), otherwise no proof exists and
:func:`prove_kzg_inference` raises :class:`CircuitError` first.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import ClassVar

import ezkl

from zkfl_dapp.circuits.artifact_paths import ArtifactPaths, spec_digest
from zkfl_dapp.circuits.artifacts import Progress, _quiet, _sha256, build_artifacts
from zkfl_dapp.circuits.kzg import MIN_PAD_BITS, G1Point, KzgError, hiding_pad
from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormSpec, ensure_kzg_chunk_norm_artifacts
from zkfl_dapp.circuits.kzg_distance import ADDRESS_LIMBS, DECOMP_BASE, DECOMP_LEGS, INPUT_RANGE, address_limbs
from zkfl_dapp.circuits.proving import (
    ezkl_failure,
    load_committed_proof,
    private_scratch,
    verify_offchain,
    write_private,
)
from zkfl_dapp.circuits.verifier_codegen import install_verifier
from zkfl_dapp.config import Settings
from zkfl_dapp.core.aggregation import rescale
from zkfl_dapp.core.fixedpoint import felt_hex, from_field, round_half_away, to_field
from zkfl_dapp.exceptions import CircuitError

#: Bump when the circuit's construction changes in a way its spec does not capture.
KZG_INFERENCE_REVISION = 1
#: Largest standardized feature accepted: ``2**26 * 1000 < 2**36`` (the range check).
MAX_FEATURE_ABS = 1000.0
#: Bits of one feature hiding-pad entry: ``2**35 < 2**36`` stays inside the range check.
FEATURE_PAD_BITS = 35


@dataclass(frozen=True)
class KzgInferenceCircuitSpec:
    """The pinned inputs of one commit-and-prove inference circuit (logistic regression).

    ``pad_rows`` must be the model's (RoundManager's ``padRows``): ``m`` is the committed aggregate.
    ``feature_pad_rows`` x :data:`FEATURE_PAD_BITS` bits hide the features (4 x 35 = 140 bits).
    ``inner_cols``: ezkl's ``num_inner_cols``; 2 fits f = 30 at logrows 10 (845 rows), like the norm circuit.
    """

    num_features: int = 30
    pad_rows: int = 10
    feature_pad_rows: int = 4
    scale_bits: int = 13
    inner_cols: int = 2

    def __post_init__(self) -> None:
        if self.num_features < 1 or self.pad_rows < 0:
            raise CircuitError(f"need num_features >= 1 and pad_rows >= 0, got {self.num_features}, {self.pad_rows}")
        if self.feature_pad_rows * FEATURE_PAD_BITS < MIN_PAD_BITS:
            raise CircuitError(
                f"{self.feature_pad_rows} feature pad rows of {FEATURE_PAD_BITS} bits "
                f"hide fewer than {MIN_PAD_BITS} bits"
            )
        if self.scale_bits != 13:
            raise CircuitError(f"the range analysis assumes scale_bits = 13, got {self.scale_bits}")

    @property
    def name(self) -> str:
        return f"kzginference-f{self.num_features}-p{self.pad_rows}-x{self.feature_pad_rows}-q{self.scale_bits}"

    @property
    def model_size(self) -> int:
        """``d = f + 1``: the weights, then the bias."""
        return self.num_features + 1

    @property
    def model_rows(self) -> int:
        """Values of ``m``: the model rows and the aggregate's pad rows (``d + P``)."""
        return self.model_size + self.pad_rows

    @property
    def feature_rows(self) -> int:
        """Values of ``x``: the features and their hiding pad (``f + Q``)."""
        return self.num_features + self.feature_pad_rows

    @property
    def logit_scale_bits(self) -> int:
        return 2 * self.scale_bits

    @property
    def num_instances(self) -> int:
        return 1 + ADDRESS_LIMBS

    def norm_spec(self) -> KzgChunkNormSpec:
        """The norm circuit (one chunk of the whole model, as circuits.suite.norm_spec_for builds it) whose KZG
        basis RoundManager commits models in (this circuit must share it)."""
        cols = 2 if self.model_size <= 64 else 3
        return KzgChunkNormSpec(
            self.model_size, self.pad_rows, self.scale_bits, inner_cols=cols, reusable_verifier=False
        )

    def digest(self) -> str:
        return spec_digest(self, KZG_INFERENCE_REVISION)


@dataclass(frozen=True)
class KzgInferenceArtifacts(ArtifactPaths):
    """Paths of one commit-and-prove inference circuit's generated artifacts."""

    contract_name: ClassVar[str] = "InferenceVerifier"

    spec: KzgInferenceCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str


@dataclass(frozen=True)
class KzgInferenceProof:
    """An inference proof, its instances (uint256) and its committed inputs' points ``(C(S), C(x), C(p))``."""

    proof: bytes
    instances: tuple[int, ...]
    commitments: tuple[G1Point, G1Point, G1Point]
    path: Path
    prove_seconds: float

    @property
    def logit(self) -> int:
        """The proven logit at scale ``2**26`` (signed)."""
        return from_field(self.instances[0])

    @property
    def model_commitment(self) -> G1Point:
        """Point 0: ``C(S)``, which must equal the round's model commitment."""
        return self.commitments[0]


def quantize_features(spec: KzgInferenceCircuitSpec, features: Sequence[float]) -> tuple[int, ...]:
    """The standardized features at scale ``2**26`` (half away from zero), as the circuit takes them.

    Raises:
        CircuitError: wrong count, a NaN or infinite value, or ``|x| > MAX_FEATURE_ABS``.
    """
    values = [float(v) for v in features]
    if len(values) != spec.num_features:
        raise CircuitError(f"the circuit takes {spec.num_features} features, got {len(values)}")
    for i, v in enumerate(values):
        if not math.isfinite(v) or abs(v) > MAX_FEATURE_ABS:
            raise CircuitError(
                f"standardized feature {i} is {v!r}: outside what the inference circuit represents "
                f"(finite, |x| <= {MAX_FEATURE_ABS:g})"
            )
    return tuple(round_half_away(v * float(1 << spec.logit_scale_bits)) for v in values)


def reference_logit(spec: KzgInferenceCircuitSpec, aggregate: Sequence[int], features_q: Sequence[int]) -> int:
    """The circuit's logit, bit-exact: ``rescale(sum_j S_j x_j, 26) + S_bias`` over the model rows."""
    f = spec.num_features
    dot = sum(int(s) * int(x) for s, x in zip(aggregate[:f], features_q[:f], strict=True))
    return rescale(dot, spec.logit_scale_bits) + int(aggregate[f])


def expected_instances(logit: int, address: str | int) -> tuple[int, ...]:
    """The instances of a proof of ``logit`` for ``address`` (field elements, as the verifier takes them)."""
    return (to_field(logit), *address_limbs(address))


def export_kzg_inference_onnx(spec: KzgInferenceCircuitSpec, path: Path) -> None:
    """Write the ONNX graph: ``[x[:f] . m[:f] + m[f], p]``."""
    import torch

    f = spec.num_features

    class KzgInference(torch.nn.Module):
        def forward(self, m: torch.Tensor, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
            logit = torch.matmul(x[:, :f], m[:, :f].transpose(0, 1)) + m[:, f : f + 1]  # [1, 1]
            return torch.cat([logit, p], dim=1)

    example = (torch.zeros(1, spec.model_rows), torch.zeros(1, spec.feature_rows), torch.zeros(1, ADDRESS_LIMBS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            KzgInference(), example, str(path), input_names=["m", "x", "p"], output_names=["out"],
            opset_version=17, dynamo=False,
        )  # fmt: skip


def _run_args(spec: KzgInferenceCircuitSpec, logrows: int) -> ezkl.PyRunArgs:
    args = ezkl.PyRunArgs()
    args.input_visibility = "polycommit"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    args.input_scale = spec.logit_scale_bits
    args.param_scale = spec.logit_scale_bits
    args.scale_rebase_multiplier = 1  # rescale the dot product (scale 52) to 26 before adding the bias
    args.decomp_base = DECOMP_BASE
    args.decomp_legs = DECOMP_LEGS
    args.ignore_range_check_inputs_outputs = False  # the rescale's soundness rests on these
    args.num_inner_cols = spec.inner_cols
    args.logrows = logrows
    return args


def _settle(spec: KzgInferenceCircuitSpec, logrows: int, art_dir: Path) -> int:
    """Settings at exactly the norm circuit's ``logrows`` (a different size is a different basis)."""
    onnx, settings = art_dir / "network.onnx", art_dir / "settings.json"
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=_run_args(spec, logrows))
    rows = int(json.loads(settings.read_text())["num_rows"])
    if 2**logrows - rows < 64:
        raise CircuitError(
            f"the inference circuit needs {rows} rows: it does not fit the model's basis (logrows {logrows}); "
            "raise inner_cols"
        )
    if max(spec.model_rows, spec.feature_rows) > 2**logrows - 64:
        raise CircuitError(f"the inputs do not fit one committed column at logrows {logrows}")
    return logrows


def ensure_kzg_inference_artifacts(
    spec: KzgInferenceCircuitSpec, root: Path, *, ceremony_srs: Path | None = None, progress: Progress = _quiet
) -> KzgInferenceArtifacts:
    """Build (or reuse from ``root``) the circuit's artifacts over the *norm circuit's* SRS and logrows.

    The norm circuit of the same model size (:meth:`KzgInferenceCircuitSpec.norm_spec`) is built (or reused)
    first: its basis is the one RoundManager's model commitments live in. A cached inference build whose
    SRS is no longer the norm circuit's is rebuilt.

    Raises:
        CircuitError: the circuit does not fit the norm circuit's basis, or ezkl failed.
    """
    norm = ensure_kzg_chunk_norm_artifacts(spec.norm_spec(), root, ceremony_srs=ceremony_srs, progress=progress)

    def build() -> KzgInferenceArtifacts:
        return build_artifacts(
            spec,
            root,
            export=lambda path: export_kzg_inference_onnx(spec, path),
            settle=lambda art_dir: _settle(spec, norm.logrows, art_dir),
            make=lambda art_dir, logrows, srs_kind: KzgInferenceArtifacts(spec, art_dir, logrows, srs_kind),
            revision=KZG_INFERENCE_REVISION,
            ceremony_srs=ceremony_srs,
            shared_srs=norm.srs,
            progress=progress,
        )

    art = build()
    if _sha256(art.srs) != _sha256(norm.srs):
        progress(f"circuit {spec.name}: the norm circuit's SRS changed, rebuilding")
        shutil.rmtree(art.directory)
        art = build()
    try:
        same = art.basis().unusable_rows == norm.basis().unusable_rows
    except KzgError as exc:
        raise CircuitError(f"cannot read the inference circuit's KZG basis: {exc}") from exc
    if not same:
        raise CircuitError(
            f"the inference circuit's committed columns have another number of unusable rows than the norm "
            f"circuit's ({art.basis().unusable_rows} vs {norm.basis().unusable_rows}): its model commitment "
            "would not match RoundManager's"
        )
    return art


def prove_kzg_inference(
    art: KzgInferenceArtifacts,
    aggregate: Sequence[int],
    features: Sequence[float],
    requester: str | int,
    workdir: Path,
    *,
    rng: Random | None = None,
) -> KzgInferenceProof:
    """Prove the logit the committed aggregate ``S`` (``d + P`` values, scale ``2**26``) gives the
    standardized ``features``, for ``requester``. The features are padded with fresh randomness (``rng``,
    default ``secrets.SystemRandom()``) and never leave ``workdir``'s private scratch; only
    ``workdir/proof.json`` (mode 0600) remains.

    Raises:
        CircuitError: wrong lengths, a value outside the range check, a logit the circuit cannot
            represent, or ezkl failed.
    """
    spec = art.spec
    if len(aggregate) != spec.model_rows:
        raise CircuitError(f"the aggregate must have {spec.model_rows} values (model + pad), got {len(aggregate)}")
    bad = next((i for i, v in enumerate(aggregate) if abs(int(v)) >= INPUT_RANGE), None)
    if bad is not None:
        raise CircuitError(f"aggregate[{bad}] = {aggregate[bad]} is outside the circuit's range (|v| < 2^36)")
    x = quantize_features(spec, features)
    logit = reference_logit(spec, aggregate, x)
    if abs(logit) >= INPUT_RANGE or abs(logit - int(aggregate[spec.num_features])) >= INPUT_RANGE:
        raise CircuitError(f"the logit {logit / 2**spec.logit_scale_bits:g} is outside the circuit's range (< 1024)")
    padded = hiding_pad(x, spec.feature_pad_rows, rng or secrets.SystemRandom(), entry_bits=FEATURE_PAD_BITS)
    proof = prove_inputs(art, [list(aggregate), list(padded), list(address_limbs(requester))], workdir)
    if proof.logit != logit:
        raise CircuitError(f"the circuit's logit {proof.logit} differs from the reference {logit}")
    return proof


def prove_inputs(art: KzgInferenceArtifacts, rows: Sequence[Sequence[int]], workdir: Path) -> KzgInferenceProof:
    """Witness and prove from raw field elements ``[m, x, p]`` (no checks: tests use it to try attacks).

    The input and witness live in a private scratch directory, deleted before returning.
    """
    proof_path = workdir / "proof.json"
    with private_scratch(workdir) as scratch:  # creates workdir with mode 0700 when missing
        input_path, witness_path, proof_tmp = scratch / "input.json", scratch / "witness.json", scratch / "proof.json"
        write_private(input_path, json.dumps({"input_data": [[felt_hex(v) for v in row] for row in rows]}).encode())
        try:
            # polycommit inputs: the witness carries their commitments, computed with the vk and SRS
            ezkl.gen_witness(
                str(input_path), str(art.compiled), str(witness_path), vk_path=str(art.vk), srs_path=str(art.srs)
            )
            t0 = time.perf_counter()
            ezkl.prove(str(witness_path), str(art.compiled), str(art.pk), str(proof_tmp), str(art.srs))
            seconds = time.perf_counter() - t0
            os.chmod(proof_tmp, 0o600)
            os.replace(proof_tmp, proof_path)
        except OSError as exc:
            raise CircuitError(f"inference proof failed: {exc}") from exc
        except BaseException as exc:
            if not ezkl_failure(exc):
                raise
            raise CircuitError(f"inference proof failed: {exc}") from exc
    return read_kzg_inference_proof(proof_path, seconds)


def read_kzg_inference_proof(path: Path, prove_seconds: float = 0.0) -> KzgInferenceProof:
    """Read a proof file; its first three 64-byte points are the committed inputs ``m``, ``x``, ``p``."""
    base, points = load_committed_proof(path, 3, prove_seconds)
    if len(base.instances) != 1 + ADDRESS_LIMBS:
        raise CircuitError(f"{path}: expected {1 + ADDRESS_LIMBS} instances, got {len(base.instances)}")
    return KzgInferenceProof(base.proof, base.instances, points, path, prove_seconds)  # type: ignore[arg-type]


def verify_kzg_inference_offchain(art: KzgInferenceArtifacts, proof: KzgInferenceProof) -> bool:
    """ezkl accepts the proof file (no chain involved)."""
    return verify_offchain(art, proof.path)


def inference_spec_for(settings: Settings) -> KzgInferenceCircuitSpec:
    """The inference circuit of the configured consortium (logistic regression only)."""
    if settings.model != "logreg":
        raise CircuitError(f"the inference circuit supports the logreg model only, not {settings.model!r}")
    return KzgInferenceCircuitSpec(num_features=30, scale_bits=settings.scale_bits)


def build_inference_circuit(settings: Settings, progress: Progress = _quiet) -> KzgInferenceArtifacts:
    """Build (or reuse) the inference circuit and install ``contracts/generated/InferenceVerifier.sol``."""
    art = ensure_kzg_inference_artifacts(
        inference_spec_for(settings), settings.artifacts_dir, ceremony_srs=settings.ceremony_srs, progress=progress
    )
    install_verifier(art, settings.contracts_dir)
    return art
