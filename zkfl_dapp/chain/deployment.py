"""Deploying the consortium's contracts, and the deployment record that can be saved and reloaded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl_dapp.exceptions import ChainError

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class CommitmentScheme:
    """``IRoundManager.CommitmentScheme``: the shape of every committed vector, pinned at deployment."""

    slots: int
    model_size: int
    pad_rows: int
    #: points per commitment (1, or the number of chunks)
    chunks: int
    scale_bits: int
    #: ``K = C(0)`` in the pinned basis, ``(x, y)``
    zero_commitment: tuple[int, int]
    #: sha256 hex of the pinned basis (KzgBasis.digest)
    basis_digest: str
    #: 0: chunk proofs verified at submission; else the challenge window in seconds (optimistic verification)
    challenge_window: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as the constructor takes it."""
        return (
            self.slots,
            self.model_size,
            self.pad_rows,
            self.chunks,
            self.scale_bits,
            list(self.zero_commitment),
            bytes.fromhex(self.basis_digest),
            self.challenge_window,
        )


@dataclass(frozen=True)
class Deployment:
    """The consortium's contracts on one network."""

    registry: Any
    round_manager: Any
    norm_verifier: Any
    median_verifier: Any | None  # None where the consortium has no median circuit (it needs 5 slots)
    #: the norm verifier's contract: KzgNormVerifier, or KzgChunkNormVerifier for a chunked scheme
    norm_contract: str = "KzgNormVerifier"

    def addresses(self) -> dict[str, str]:
        out = {
            "ConsortiumRegistry": str(self.registry.address),
            "RoundManager": str(self.round_manager.address),
            self.norm_contract: str(self.norm_verifier.address),
        }
        if self.median_verifier is not None:
            out["KzgMedianVerifier"] = str(self.median_verifier.address)
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
            norm = "KzgChunkNormVerifier" if "KzgChunkNormVerifier" in addresses else "KzgNormVerifier"
            return cls(
                registry=project.ConsortiumRegistry.at(addresses["ConsortiumRegistry"]),
                round_manager=project.RoundManager.at(addresses["RoundManager"]),
                norm_verifier=getattr(project, norm).at(addresses[norm]),
                median_verifier=project.KzgMedianVerifier.at(addresses["KzgMedianVerifier"])
                if "KzgMedianVerifier" in addresses
                else None,
                norm_contract=norm,
            )
        except FileNotFoundError as exc:
            raise ChainError(f"no deployment record at {path}: run `ape run deploy` first") from exc
        except (KeyError, ValueError) as exc:
            raise ChainError(f"deployment record {path} is malformed (an older deployment?): {exc}") from exc


def deploy_contracts(
    project: Any,
    admin: Any,
    *,
    scheme: CommitmentScheme,
    genesis_commitment: tuple[tuple[int, int], ...],
    genesis_cid: str,
    circuit_cid: str,
    with_median: bool = True,
) -> Deployment:
    """Deploy registry, the norm (and median) verifiers and the round manager; ``admin`` becomes the
    consortium admin. A one-chunk scheme gets the norm circuit's plain verifier (KzgNormVerifier), a chunked
    one (``scheme.chunks > 1``) ezkl's reusable verifier and the KzgChunkNormVerifier wrapper and no median
    verifier (circuits.suite.norm_spec_for builds them so).

    ``circuit_cid`` is the CID of the circuits' published artifact manifest (see zkfl_dapp.protocol.publication).
    """
    registry = project.ConsortiumRegistry.deploy(admin.address, sender=admin)
    median_verifier = None
    chunked = scheme.chunks > 1
    reusable = None
    if with_median and not chunked:
        # ezkl's shared reusable verifier, and the median circuit's wrapper pinning its verifying key
        # (the plain median verifier is over EIP-170's contract size limit)
        reusable = project.Halo2VerifierReusable.deploy(sender=admin)
        median_verifier = project.KzgMedianVerifier.deploy(reusable.address, sender=admin)
    if chunked:
        # the chunk circuit's plain verifier is over EIP-170 too (kzg_chunk_norm, "On chain")
        reusable = reusable or project.Halo2VerifierReusable.deploy(sender=admin)
        norm_verifier = project.KzgChunkNormVerifier.deploy(reusable.address, sender=admin)
    else:
        norm_verifier = project.KzgNormVerifier.deploy(sender=admin)
    round_manager = project.RoundManager.deploy(
        registry.address,
        median_verifier.address if median_verifier is not None else ZERO_ADDRESS,
        norm_verifier.address,
        scheme.as_tuple(),
        [list(p) for p in genesis_commitment],
        genesis_cid,
        circuit_cid,
        sender=admin,
    )
    # an open round locks the enclave key: every submission of a round is sealed to the key it opened with
    registry.setRoundManager(round_manager.address, sender=admin)
    norm_contract = "KzgChunkNormVerifier" if chunked else "KzgNormVerifier"
    return Deployment(registry, round_manager, norm_verifier, median_verifier, norm_contract)


def round_manager_at(project: Any, chain: Any, address: str, source: str) -> Any:
    """The RoundManager at ``address`` (named by ``source``), or a one-line ChainError when it is none."""
    if not chain.provider.get_code(address):
        raise ChainError(f"no contract at {address} on this network (from {source})")
    rm = project.RoundManager.at(address)
    try:
        registry = str(rm.registry())
        rm.circuitCid()
        project.ConsortiumRegistry.at(registry).admin()
    except Exception as exc:  # a revert or an undecodable answer: not a RoundManager of a consortium
        raise ChainError(
            f"the contract at {address} (from {source}) is not a RoundManager with a ConsortiumRegistry "
            f"({type(exc).__name__}): check --round-manager or the deployment record"
        ) from exc
    return rm
