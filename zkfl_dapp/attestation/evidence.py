"""Evidence kinds, the evidence file the aggregator publishes (its CID goes on-chain), and what verification
yields: the measured registers, the 64 bytes of report data, and the measurement id the registry stores.

The evidence file is JSON: ``{"format": "zkfl-dapp/evidence/v1", "kind": "<kind>", ...}`` with base64 fields
per kind (``document`` for Nitro; ``quote`` and ``collateral`` for TDX; ``report``, ``vcek``, ``ask`` and ``ark``
(DER) for SEV-SNP; none for ``development``). Collateral and certificates travel with the evidence so that
anyone verifies it offline, against the vendors' roots pinned by fingerprint only.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Final

from zkfl_dapp.exceptions import AttestationError

EVIDENCE_FORMAT: Final = "zkfl-dapp/evidence/v1"
MEASUREMENT_DOMAIN: Final = b"zkfl-dapp/measurement/v1"
#: Nitro: how old a document may be at verification time (its leaf certificate lives about three hours anyway).
DEFAULT_MAX_AGE_S: Final = 3 * 3600
#: TDX: the TCB statuses accepted unless a policy says otherwise.
DEFAULT_TCB_STATUSES: Final = frozenset({"UpToDate"})
#: The measurement id of a development enclave (no TEE): zero, as the registry requires for that kind.
NO_MEASUREMENT: Final = bytes(32)


class EvidenceKind(enum.IntEnum):
    """The registry's ``EvidenceKind`` (same order: the contract's enum values)."""

    NONE = 0
    DEVELOPMENT = 1
    AWS_NITRO = 2
    INTEL_TDX = 3
    AMD_SEV_SNP = 4

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def attested(self) -> bool:
        """Whether this kind is hardware-vendor-signed evidence (``development`` and ``none`` are not)."""
        return self not in (EvidenceKind.NONE, EvidenceKind.DEVELOPMENT)

    @classmethod
    def from_label(cls, label: str) -> EvidenceKind:
        for kind, name in _LABELS.items():
            if name == label and kind is not EvidenceKind.NONE:
                return kind
        raise AttestationError(f"unknown evidence kind {label!r}: one of {', '.join(list(_LABELS.values())[1:])}")


_LABELS: Final = {
    EvidenceKind.NONE: "none",
    EvidenceKind.DEVELOPMENT: "development",
    EvidenceKind.AWS_NITRO: "aws-nitro",
    EvidenceKind.INTEL_TDX: "intel-tdx",
    EvidenceKind.AMD_SEV_SNP: "amd-sev-snp",
}


def measurement_id(kind: EvidenceKind, registers: bytes) -> bytes:
    """The 32-byte measurement the registry stores and allowlists: SHA-256 of a domain tag, the kind and the
    measured registers (Nitro: PCR0 || PCR1 || PCR2; TDX: MRTD || RTMR0..3; SEV-SNP: MEASUREMENT). Zero for a
    development enclave."""
    if kind is EvidenceKind.DEVELOPMENT:
        return NO_MEASUREMENT
    return hashlib.sha256(MEASUREMENT_DOMAIN + bytes([int(kind)]) + registers).digest()


@dataclass(frozen=True)
class VerifiedEvidence:
    """What vendor-signed evidence proved, once its signature and chain verified at ``verified_at``."""

    kind: EvidenceKind
    #: The measured registers, concatenated (see :func:`measurement_id`).
    registers: bytes
    #: The 64 bytes the enclave chose (TDX/SEV-SNP REPORTDATA; Nitro user_data, at most 512 bytes).
    report_data: bytes
    verified_at: int
    #: Kind-specific facts for reports (Nitro module id, TDX TCB status, SEV-SNP chip id, ...).
    details: dict[str, str] = field(default_factory=dict)

    @property
    def measurement(self) -> bytes:
        return measurement_id(self.kind, self.registers)


@dataclass(frozen=True)
class EvidenceFile:
    """A parsed evidence file: its kind and its base64-decoded fields."""

    kind: EvidenceKind
    fields: dict[str, bytes]

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {"format": EVIDENCE_FORMAT, "kind": self.kind.label}
        body.update({k: base64.b64encode(v).decode() for k, v in sorted(self.fields.items())})
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes) -> EvidenceFile:
        """Raises: AttestationError: not an evidence file of this format."""
        try:
            body = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AttestationError(f"the enclave's evidence file is not JSON: {exc}") from exc
        if not isinstance(body, dict) or body.get("format") != EVIDENCE_FORMAT:
            raise AttestationError(f"the enclave's evidence file is not {EVIDENCE_FORMAT}")
        kind = EvidenceKind.from_label(str(body.get("kind")))
        expected = _FIELDS[kind]
        if set(body) != {"format", "kind", *expected}:
            raise AttestationError(f"a {kind.label} evidence file has exactly the fields {sorted(expected)}")
        try:
            fields = {k: base64.b64decode(body[k], validate=True) for k in expected}
        except (TypeError, binascii.Error) as exc:
            raise AttestationError(f"a {kind.label} evidence field is not base64: {exc}") from exc
        return cls(kind, fields)


_FIELDS: Final = {
    EvidenceKind.DEVELOPMENT: (),
    EvidenceKind.AWS_NITRO: ("document",),
    EvidenceKind.INTEL_TDX: ("quote", "collateral"),
    EvidenceKind.AMD_SEV_SNP: ("report", "vcek", "ask", "ark"),
}
