"""The inference circuit (ezkl, Halo2/KZG): a risk prediction bound to a finalized global model.

The ONNX graph takes two inputs, both **private**:

* ``x`` ``[1, f]``: the patient's standardized features (quantized by ezkl at ``2^scale_bits``);
* ``m`` ``[1, f + 1]``: the global model's quantized parameters, the flat ``logreg`` layout of
  :mod:`zkfl_dapp.model` (``[w_0 .. w_{f-1}, b]``), fed as field elements: exactly a ModelFile's values.

and has one **public** output, ``concat(sigmoid(clamp(x . w + b, -c, c)), m)`` of shape ``[1, f + 2]``.
The proof's instances are therefore::

    [risk, m_0 .. m_f]          (risk = round(P(y = 1) * 2^scale_bits); probability = risk / 2^scale_bits)

and ``keccak256`` over ``m_0 .. m_f`` (32-byte big-endian words) is the global-model commitment that
``RoundManager`` recorded when it finalized the round: ``PredictionRegistry`` compares the two, so a proof
is accepted only for the model the consortium proved. The features never leave the prover.

The logit is clamped to ``[-c, c]`` (``c = logit_clamp``, 8 by default) before the sigmoid: ezkl evaluates
the sigmoid with a lookup table over the whole input range, and the clamp bounds that table at
``2 * c * 2^scale_bits`` entries (sigmoid(8) = 0.99966: the clamp moves a probability by < 3.4e-4).
The table is split across columns; ``logrows`` trades columns (proof size, verifier size, gas) against
rows (setup and proving time, key size). Measured on 2 shared (busy) cores, ezkl 23.0.5, c = 8:

========  =======  ======  ========  ==========  ======  ===================
logrows   columns  setup   prove     proof size  pk      verifier runtime
========  =======  ======  ========  ==========  ======  ===================
14        9        ~12 s   ~33 s     7,968 B     --      (not measured)
15        5        ~12 s   ~25-35 s  5,568 B     361 MB  26,576 B: over EIP-170's 24,576
16        3        ~22 s   ~24-36 s  4,448 B     659 MB  20,444 B
========  =======  ======  ========  ==========  ======  ===================

16 is the default: the smallest logrows whose verifier contract can be deployed (EIP-170). Off-chain
verification takes ~0.1 s; ``PredictionRegistry.recordPrediction`` costs ~811k gas.

Range: ezkl range-checks the rescaled logit with 2 legs of base 2^14, so ``|x . w + b|`` must stay below
2^15 (32768): far beyond any trained model here (standardized features are within +-15), but a
made-up model with huge weights gets a :class:`CircuitError` instead of a proof.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ezkl
import numpy as np

from zkfl_dapp.circuits.artifacts import (
    ArtifactPaths,
    Progress,
    _quiet,
    build_artifacts,
    install_verifier,
    load_proof,
    run_ezkl,
    spec_digest,
)
from zkfl_dapp.circuits.layouts import InferenceLayout
from zkfl_dapp.config import Settings
from zkfl_dapp.core.fixedpoint import felt_from_hex, felt_hex, from_field
from zkfl_dapp.exceptions import CircuitError

#: Bump when the inference circuit's construction changes in a way the spec does not capture.
INFERENCE_REVISION = 1

#: Largest standardized feature the circuit is given: ezkl quantizes each one at ``2^scale_bits`` in
#: fixed-width integers and panics on a value like 1e300; a patient beyond a thousand standard deviations of
#: the training data is no measurement either.
MAX_FEATURE_ABS = 1000.0


@dataclass(frozen=True)
class InferenceCircuitSpec:
    """The pinned inputs of one inference circuit (logistic regression over ``num_features``)."""

    num_features: int = 30
    scale_bits: int = 13
    logit_clamp: int = 8
    logrows: int = 16

    def __post_init__(self) -> None:
        if self.num_features < 1:
            raise CircuitError(f"num_features must be positive, got {self.num_features}")
        if not 1 <= self.scale_bits <= 20:
            raise CircuitError(f"scale_bits must be in 1..20, got {self.scale_bits}")
        if not 1 <= self.logit_clamp <= 64:
            raise CircuitError(f"logit_clamp must be in 1..64, got {self.logit_clamp}")
        if not 11 <= self.logrows <= 24:
            raise CircuitError(f"logrows must be in 11..24, got {self.logrows}")

    @property
    def name(self) -> str:
        return f"inference-logreg-f{self.num_features}-q{self.scale_bits}-c{self.logit_clamp}"

    @property
    def model_size(self) -> int:
        """Number of model parameters ``d = f + 1``."""
        return self.num_features + 1

    @property
    def layout(self) -> InferenceLayout:
        return InferenceLayout(self.model_size)

    @property
    def num_instances(self) -> int:
        """``1 + d``: the risk, then the model."""
        return self.layout.count

    @property
    def lookup_bound(self) -> int:
        """Half-width of the sigmoid's lookup table (a small margin over the clamp)."""
        return self.logit_clamp * 2**self.scale_bits + 16

    def digest(self) -> str:
        return spec_digest(self, INFERENCE_REVISION)


@dataclass(frozen=True)
class InferenceArtifacts(ArtifactPaths):
    """Paths of one inference circuit's generated artifacts."""

    contract_name: ClassVar[str] = "InferenceVerifier"

    spec: InferenceCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str  # "development" (self-generated) or "ceremony"


@dataclass(frozen=True)
class InferenceProof:
    """A prediction proof and its public instances (uint256, as the verifier contract takes them)."""

    proof: bytes
    instances: tuple[int, ...]
    prove_seconds: float
    proof_path: Path

    @property
    def risk(self) -> int:
        """The proven risk: ``round(P(y = 1) * 2^scale_bits)`` (a small non-negative integer)."""
        return from_field(self.instances[InferenceLayout.risk])

    @property
    def model_values(self) -> tuple[int, ...]:
        """The (signed) quantized model parameters the proof was made with."""
        return tuple(from_field(v) for v in self.instances[InferenceLayout(len(self.instances) - 1).model])


def export_inference_onnx(spec: InferenceCircuitSpec, path: Path) -> None:
    """Write the circuit's ONNX graph: inputs x [1, f] and m [1, f + 1]; output [1, f + 2]."""
    import torch  # heavy import, only needed when (re)building artifacts

    f, clamp = spec.num_features, float(spec.logit_clamp)

    class Inference(torch.nn.Module):
        def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            logit = (x * m[:, :f]).sum(dim=1, keepdim=True) + m[:, f : f + 1]
            return torch.cat([torch.sigmoid(torch.clamp(logit, -clamp, clamp)), m], dim=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Inference(),
            (torch.zeros(1, f), torch.zeros(1, f + 1)),
            str(path),
            input_names=["x", "m"],
            output_names=["prediction"],
            opset_version=17,
            dynamo=False,
        )


def _run_args(spec: InferenceCircuitSpec) -> ezkl.PyRunArgs:
    args = ezkl.PyRunArgs()
    args.input_visibility = "private"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    args.input_scale = spec.scale_bits  # pinned: the m instances must equal the ModelFile's values
    args.param_scale = spec.scale_bits
    args.lookup_range = (-spec.lookup_bound, spec.lookup_bound)
    args.logrows = spec.logrows
    return args


def _settle(spec: InferenceCircuitSpec, art_dir: Path) -> int:
    settings = art_dir / "settings.json"
    ezkl.gen_settings(str(art_dir / "network.onnx"), str(settings), py_run_args=_run_args(spec))
    written = json.loads(settings.read_text())["run_args"]
    if written["input_scale"] != spec.scale_bits or int(written["logrows"]) != spec.logrows:
        raise CircuitError(f"ezkl changed the pinned run arguments: {written}")
    return spec.logrows


def ensure_inference_artifacts(
    spec: InferenceCircuitSpec,
    root: Path,
    *,
    ceremony_srs: Path | None = None,
    progress: Progress = _quiet,
) -> InferenceArtifacts:
    """Build (or reuse from ``root``) every artifact of the inference circuit (see circuits.build_artifacts)."""
    return build_artifacts(
        spec,
        root,
        export=lambda path: export_inference_onnx(spec, path),
        settle=lambda art_dir: _settle(spec, art_dir),
        make=lambda art_dir, logrows, srs_kind: InferenceArtifacts(spec, art_dir, logrows, srs_kind),
        revision=INFERENCE_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


def inference_spec_for(settings: Settings) -> InferenceCircuitSpec:
    """The inference circuit of the configured consortium (logistic regression only)."""
    if settings.model != "logreg":
        raise CircuitError(f"the inference circuit supports the logreg model only, not {settings.model!r}")
    return InferenceCircuitSpec(num_features=30, scale_bits=settings.scale_bits)


def build_inference_circuit(settings: Settings, progress: Progress = _quiet) -> InferenceArtifacts:
    """Build (or reuse) the inference circuit and install ``contracts/generated/InferenceVerifier.sol``."""
    art = ensure_inference_artifacts(
        inference_spec_for(settings), settings.artifacts_dir, ceremony_srs=settings.ceremony_srs, progress=progress
    )
    install_verifier(art, settings.contracts_dir)
    return art


def _input_data(spec: InferenceCircuitSpec, features: Sequence[float], model_values: Sequence[int]) -> dict:
    x = np.asarray(features, dtype=np.float64)
    if x.shape != (spec.num_features,) or not np.all(np.isfinite(x)):
        raise CircuitError(f"features must be {spec.num_features} finite numbers, got shape {x.shape}")
    for i, v in enumerate(x):
        if abs(v) > MAX_FEATURE_ABS:
            raise CircuitError(
                f"standardized feature {i} is {v:.6g}: outside what the inference circuit represents "
                f"(|x| <= {MAX_FEATURE_ABS:g})"
            )
    if len(model_values) != spec.model_size:
        raise CircuitError(f"the model must have {spec.model_size} values, got {len(model_values)}")
    return {"input_data": [[float(v) for v in x], [felt_hex(v) for v in model_values]]}


def witness_outputs(
    art: InferenceArtifacts, features: Sequence[float], model_values: Sequence[int], workdir: Path
) -> tuple[int, ...]:
    """The circuit's public outputs (field elements) for one patient, without proving (nothing stays on disk)."""
    data = _input_data(art.spec, features, model_values)
    outputs, _ = run_ezkl(art, data, workdir, prove=False, what="the inference circuit evaluating this input")
    try:
        return tuple(felt_from_hex(h) for h in outputs[0])
    except (IndexError, TypeError) as exc:
        raise CircuitError(f"unexpected witness outputs from ezkl: {exc}") from exc


def prove_inference(
    art: InferenceArtifacts, features: Sequence[float], model_values: Sequence[int], workdir: Path
) -> InferenceProof:
    """Prove ``risk = sigmoid(x . w + b)`` for private standardized ``features`` and a quantized model.

    Only ``workdir/proof.json`` (mode 0600) remains; the features (input and witness) are deleted.
    """
    data = _input_data(art.spec, features, model_values)
    _, seconds = run_ezkl(art, data, workdir, prove=True, what="proving the prediction")
    proof_path = workdir / "proof.json"
    loaded = load_proof(proof_path, seconds)
    if len(loaded.instances) != art.spec.num_instances:
        raise CircuitError(f"expected {art.spec.num_instances} instances, the proof has {len(loaded.instances)}")
    return InferenceProof(loaded.proof, loaded.instances, seconds, proof_path)


__all__ = [
    "MAX_FEATURE_ABS",
    "InferenceArtifacts",
    "InferenceCircuitSpec",
    "InferenceProof",
    "build_inference_circuit",
    "ensure_inference_artifacts",
    "export_inference_onnx",
    "inference_spec_for",
    "prove_inference",
    "witness_outputs",
]
