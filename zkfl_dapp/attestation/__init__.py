"""TEE attestation of the aggregator enclave's key (docs/auditors.md, "Attestation").

Offline verification of vendor-signed evidence against pinned roots (:mod:`.nitro`, :mod:`.tdx`,
:mod:`.sev_snp`), the evidence file format and measurement ids (:mod:`.evidence`), and what a hospital checks
before encrypting (:mod:`.policy`).
"""

from __future__ import annotations

from zkfl_dapp.attestation.evidence import (
    NO_MEASUREMENT,
    EvidenceFile,
    EvidenceKind,
    VerifiedEvidence,
    measurement_id,
)
from zkfl_dapp.attestation.policy import (
    DEVELOPMENT_WARNING,
    AttestationPolicy,
    EnclaveCheck,
    check_enclave,
    check_key_binding,
    key_binding,
    report_data_for,
)
from zkfl_dapp.attestation.verify import verify_evidence_file

__all__ = [
    "DEVELOPMENT_WARNING",
    "NO_MEASUREMENT",
    "AttestationPolicy",
    "EnclaveCheck",
    "EvidenceFile",
    "EvidenceKind",
    "VerifiedEvidence",
    "check_enclave",
    "check_key_binding",
    "key_binding",
    "measurement_id",
    "report_data_for",
    "verify_evidence_file",
]
