"""What every audit check works with: the contracts, the store, a scratch directory, the circuit
artifacts fetched through the published manifest, and one way to record a failed check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zkfl_dapp.audit.report import Finding, RoundAudit
from zkfl_dapp.exceptions import CidMismatchError, CidNotFoundError, DigestMismatchError
from zkfl_dapp.storage.base import Storage

Progress = Callable[[str], None]


class AuditContext:
    """The auditor's state, shared by the deployment, proof and round checks."""

    def __init__(
        self,
        chain: Any,
        round_manager: Any,
        registry: Any,
        verifier: Any,
        storage: Storage,
        workdir: Path,
        progress: Progress,
    ) -> None:
        self.chain = chain
        self.rm = round_manager
        self.registry = registry
        self.verifier = verifier
        self.storage = storage
        self.workdir = workdir
        self.progress = progress
        self.slots = int(round_manager.slots())
        self.model_size = int(round_manager.modelSize())
        self.scale_bits = int(round_manager.scaleBits())
        self.empty_slot = int(round_manager.emptySlotCommitment())
        self.artifacts: dict[str, Path] | None = None  # settings, vk, srs fetched from the manifest
        self.median_artifacts: dict[str, Path] | None = None  # the same for the median circuit
        self.median_verifier: Any = None  # the median rule's verifier contract, where the deployment has one

    def _fail(self, ra: RoundAudit, check: str, item: str, expected: str, actual: str) -> None:
        ra.findings.append(Finding(round_id=ra.round_id, check=check, item=item, expected=expected, actual=actual))
        ra.checks[check] = False

def describe_error(exc: BaseException) -> str:
    kind = {
        CidNotFoundError: "does not resolve",
        CidMismatchError: "content does not match its CID",
        DigestMismatchError: "content does not match the manifest's SHA-256",
    }
    for cls, text in kind.items():
        if isinstance(exc, cls):
            return f"{text} ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"
