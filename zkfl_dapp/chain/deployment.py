"""Deploying the consortium's contracts, and the deployment record that can be saved and reloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl_dapp.exceptions import ChainError

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class Deployment:
    """The consortium's contracts on one network."""

    registry: Any
    round_manager: Any
    verifier: Any
    norm_verifier: Any
    median_verifier: Any | None  # None where the consortium has no median circuit (it needs 5 slots)

    def addresses(self) -> dict[str, str]:
        out = {
            "ConsortiumRegistry": str(self.registry.address),
            "RoundManager": str(self.round_manager.address),
            "AggregationVerifier": str(self.verifier.address),
            "NormVerifier": str(self.norm_verifier.address),
        }
        if self.median_verifier is not None:
            out["MedianVerifier"] = str(self.median_verifier.address)
        return out

    def save(self, path: Path, **extra: Any) -> None:
        """Write the addresses (and any extra facts, e.g. chain id) as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"contracts": self.addresses(), **extra}, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path, project: Any) -> Deployment:
        """Attach to the contracts recorded in ``path``."""
        try:
            addresses = json.loads(path.read_text())["contracts"]
            return cls(
                registry=project.ConsortiumRegistry.at(addresses["ConsortiumRegistry"]),
                round_manager=project.RoundManager.at(addresses["RoundManager"]),
                verifier=project.AggregationVerifier.at(addresses["AggregationVerifier"]),
                norm_verifier=project.NormVerifier.at(addresses["NormVerifier"]),
                median_verifier=project.MedianVerifier.at(addresses["MedianVerifier"])
                if "MedianVerifier" in addresses
                else None,
            )
        except FileNotFoundError as exc:
            raise ChainError(f"no deployment record at {path}: run `ape run deploy` first") from exc
        except (KeyError, ValueError) as exc:
            raise ChainError(f"deployment record {path} is malformed: {exc}") from exc


def deploy_contracts(
    project: Any,
    admin: Any,
    *,
    slots: int,
    model_size: int,
    scale_bits: int,
    empty_slot_commitment: int,
    genesis_commitment: int,
    genesis_cid: str,
    circuit_cid: str,
    with_median: bool = True,
) -> Deployment:
    """Deploy registry, the three verifiers (FedAvg, median, norm) and the round manager; ``admin`` becomes
    the consortium admin.

    ``circuit_cid`` is the CID of the circuit's published artifact manifest (see zkfl_dapp.publication).
    """
    registry = project.ConsortiumRegistry.deploy(admin.address, sender=admin)
    verifier = project.AggregationVerifier.deploy(sender=admin)
    median_verifier = project.MedianVerifier.deploy(sender=admin) if with_median else None
    norm_verifier = project.NormVerifier.deploy(sender=admin)
    round_manager = project.RoundManager.deploy(
        registry.address,
        verifier.address,
        median_verifier.address if median_verifier is not None else ZERO_ADDRESS,
        norm_verifier.address,
        slots,
        model_size,
        scale_bits,
        empty_slot_commitment,
        genesis_commitment,
        genesis_cid,
        circuit_cid,
        sender=admin,
    )
    return Deployment(registry, round_manager, verifier, norm_verifier, median_verifier)

