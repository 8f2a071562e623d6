"""The PredictionRegistry deployment beside a consortium: deployed once, its address kept in the workdir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zkfl_dapp.exceptions import ChainError

# --- deployment of the registry -----------------------------------------------------------------


def registry_file(workdir: Path) -> Path:
    """Where the PredictionRegistry deployment of a consortium workdir is recorded."""
    return workdir / "prediction-registry.json"


def deploy_prediction_registry(project: Any, round_manager: Any, sender: Any) -> tuple[Any, Any]:
    """Deploy the InferenceVerifier and a PredictionRegistry bound to ``round_manager``; returns both."""
    verifier = project.InferenceVerifier.deploy(sender=sender)
    registry = project.PredictionRegistry.deploy(round_manager.address, verifier.address, sender=sender)
    return registry, verifier


def ensure_prediction_registry(project: Any, chain: Any, round_manager: Any, workdir: Path, sender: Any) -> Any:
    """The consortium's PredictionRegistry: the one recorded in ``workdir``, deployed (and recorded) on first use.

    A record for another chain or round manager, or an address without code, is replaced by a new deployment.
    """
    path = registry_file(workdir)
    if path.exists():
        try:
            record = json.loads(path.read_text())
            address = record["contracts"]["PredictionRegistry"]
            same = (
                int(record["chain_id"]) == int(chain.chain_id)
                and str(record["round_manager"]).lower() == str(round_manager.address).lower()
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ChainError(f"prediction registry record {path} is malformed: {exc}") from exc
        if same and chain.provider.get_code(address):
            return project.PredictionRegistry.at(address)
    registry, verifier = deploy_prediction_registry(project, round_manager, sender)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "chain_id": int(chain.chain_id),
                "round_manager": str(round_manager.address),
                "contracts": {"PredictionRegistry": str(registry.address), "InferenceVerifier": str(verifier.address)},
            },
            indent=2,
            sort_keys=True,
        )
    )
    return registry
