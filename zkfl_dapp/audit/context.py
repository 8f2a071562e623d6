"""What every audit check works with: the contracts, the store, a scratch directory, what the deployment
checks establish (the circuit manifest, the fetched circuit files, the recomputed KZG basis and ``K``, the
commitment layout: one point, or one per chunk), and one way to record a failed check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zkfl_dapp.audit.report import AuditReport, Finding, RoundAudit
from zkfl_dapp.circuits.kzg import G1Point, KzgBasis
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.exceptions import CidMismatchError, CidNotFoundError, DigestMismatchError
from zkfl_dapp.protocol.publication import CircuitManifest
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
        self.verifier = verifier  # the norm circuit's verifier contract
        self.storage = storage
        self.workdir = workdir
        self.progress = progress
        self.slots = int(round_manager.slots())
        self.model_size = int(round_manager.modelSize())
        self.pad_rows = int(round_manager.padRows())
        self.scale_bits = int(round_manager.scaleBits())
        #: points per commitment: 1, or the number of chunks of a model committed chunk by chunk
        self.chunks = int(round_manager.chunks())
        #: how model values sit in the committed vectors; a chunked layout's chunk size comes from the circuit
        #: manifest (the chain holds only the number of chunks), so it is None until the manifest checks out
        self.layout: CommitmentLayout | None = (
            CommitmentLayout.single(self.model_size, self.pad_rows) if self.chunks == 1 else None
        )
        kx, ky = round_manager.zeroCommitment()
        #: K = C(0) as the chain holds it (checked against the manifest and the recomputed basis)
        self.zero = G1Point(int(kx), int(ky))
        self.manifest: CircuitManifest | None = None
        #: the norm circuit's (a chunked deployment's: the chunk norm circuit's) settings, vk, SRS and verifier
        #: source fetched through the manifest
        self.artifacts: dict[str, Path] | None = None
        #: the same for the median circuit, where the manifest has one
        self.median_artifacts: dict[str, Path] | None = None
        #: the KZG basis loaded from the fetched norm circuit files (None: they did not check out)
        self.basis: KzgBasis | None = None
        self.median_verifier: Any = None  # the median rule's verifier contract, where the deployment has one
        self.project: Any = None  # the ape project (contract types), for contracts found at audit time

    @property
    def rows(self) -> int:
        """Values of one committed vector (a chunk's, or the whole model's: model rows plus hiding-pad rows)."""
        return self.layout.rows if self.layout is not None else self.model_size + self.pad_rows

    @property
    def chunked(self) -> bool:
        return self.chunks > 1

    def model_file(self, cid: str) -> ModelFile:
        """The model file under ``cid``, parsed with the consortium's shape (model size, pad rows, scale, chunks).

        Raises:
            StorageError: the store cannot give it.
            ModelFileError: it is not a model file of this consortium.
        """
        chunk = (self.layout.chunk if self.layout is not None else None) if self.chunked else 0
        return ModelFile.parse(
            self.storage.get(cid),
            expected_size=self.model_size,
            pad_rows=self.pad_rows,
            scale_bits=self.scale_bits,
            chunk=chunk,
        )

    def _deployment_fail(self, report: AuditReport, check: str, item: str, expected: str, actual: str) -> None:
        report.deployment_findings.append(
            Finding(round_id=None, check=check, item=item, expected=expected, actual=actual)
        )
        report.deployment_checks[check] = False

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
