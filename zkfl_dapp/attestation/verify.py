"""Verify an evidence file by its kind (the vendors' verifiers are imported on first use: ``cbor2`` and
``dcap-qvl`` load only where that kind of evidence is checked, so a development deployment needs neither)."""

from __future__ import annotations

from typing import Any

from zkfl_dapp.attestation.evidence import EvidenceFile, EvidenceKind, VerifiedEvidence
from zkfl_dapp.exceptions import AttestationError


def verify_evidence_file(evidence: EvidenceFile, *, at: int, **options: Any) -> VerifiedEvidence:
    """Verify the vendor signature and chain of ``evidence`` at unix time ``at`` (dispatch by kind).

    Raises:
        AttestationError: the evidence does not verify, or it is ``development`` (nothing to verify: callers
            decide whether they accept it, see :class:`zkfl_dapp.attestation.policy.AttestationPolicy`).
    """
    if evidence.kind is EvidenceKind.AWS_NITRO:
        from zkfl_dapp.attestation.nitro import verify_nitro

        return verify_nitro(evidence.fields["document"], at=at, **options)
    if evidence.kind is EvidenceKind.INTEL_TDX:
        from zkfl_dapp.attestation.tdx import verify_tdx

        return verify_tdx(evidence.fields["quote"], evidence.fields["collateral"], at=at, **options)
    if evidence.kind is EvidenceKind.AMD_SEV_SNP:
        from zkfl_dapp.attestation.sev_snp import verify_sev_snp

        return verify_sev_snp(evidence.fields["report"], evidence.fields["vcek"], at=at)
    raise AttestationError(f"{evidence.kind.label} evidence carries no vendor signature: there is nothing to verify")
