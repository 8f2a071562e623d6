"""The PredictionRegistry beside a consortium: deployed once and recorded on-chain, in the consortium's
ConsortiumRegistry (``predictionRegistry()``, event ``PredictionRegistrySet``), so that the auditor, the gateway and
the web UI find it from the chain alone, never from a local file."""

from __future__ import annotations

from typing import Any

from zkfl_dapp.exceptions import ChainError


def deploy_prediction_registry(project: Any, round_manager: Any, sender: Any) -> tuple[Any, Any]:
    """Deploy the InferenceVerifier and a PredictionRegistry bound to ``round_manager``; returns both."""
    verifier = project.InferenceVerifier.deploy(sender=sender)
    registry = project.PredictionRegistry.deploy(round_manager.address, verifier.address, sender=sender)
    return registry, verifier


def recorded_prediction_registry(project: Any, chain: Any, round_manager: Any) -> Any:
    """The PredictionRegistry the consortium of ``round_manager`` records on-chain, or None when none is recorded.

    Raises:
        ChainError: the recorded address holds no code, is not a PredictionRegistry, or is bound to another
            RoundManager.
    """
    consortium = project.ConsortiumRegistry.at(round_manager.registry())
    address = str(consortium.predictionRegistry())
    if int(address, 16) == 0:
        return None
    where = f"the PredictionRegistry {address} recorded by ConsortiumRegistry {consortium.address}"
    if not chain.provider.get_code(address):
        raise ChainError(f"{where} holds no contract code")
    registry = project.PredictionRegistry.at(address)
    try:
        bound = str(registry.roundManager())
        # roundManager() alone is not an identity (ConsortiumRegistry has one too): the PredictionRegistry's own views
        registry.inferenceVerifier()
        registry.LOGIT_SCALE_BITS()
        registry.isRecorded(b"\x00" * 32)
    except Exception as exc:  # any revert or undecodable answer: not a PredictionRegistry
        raise ChainError(f"{where} is not a PredictionRegistry ({type(exc).__name__})") from exc
    if bound.lower() != str(round_manager.address).lower():
        raise ChainError(f"{where} is bound to RoundManager {bound}, not {round_manager.address}")
    return registry


def ensure_prediction_registry(project: Any, chain: Any, round_manager: Any, admin: Any) -> Any:
    """The consortium's PredictionRegistry: the one its ConsortiumRegistry records, or (none recorded) a new
    deployment that ``admin`` records there with ``setPredictionRegistry``.

    Raises:
        ChainError: the recorded pointer is wrong (see :func:`recorded_prediction_registry`): the admin fixes
            it with ``setPredictionRegistry``; it is never silently replaced.
    """
    registry = recorded_prediction_registry(project, chain, round_manager)
    if registry is not None:
        return registry
    registry, _ = deploy_prediction_registry(project, round_manager, admin)
    project.ConsortiumRegistry.at(round_manager.registry()).setPredictionRegistry(registry.address, sender=admin)
    return registry
