"""Helpers shared by the circuit modules: exporting a torch module to ONNX, and spec checks."""

from __future__ import annotations

import warnings
from pathlib import Path

from zkfl_dapp.exceptions import CircuitError


def check_vector_spec(model_size: int, scale_bits: int) -> None:
    if model_size < 1:
        raise CircuitError(f"model_size must be positive, got {model_size}")
    if not 1 <= scale_bits <= 20:
        raise CircuitError(f"scale_bits must be in 1..20, got {scale_bits}")


def export_onnx(module: object, inputs: dict[str, tuple[int, int]], path: Path) -> None:
    import torch

    example = tuple(torch.zeros(*shape) for shape in inputs.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,  # type: ignore[arg-type]
            example,
            str(path),
            input_names=list(inputs),
            output_names=["out"],
            opset_version=17,
            dynamo=False,
        )
