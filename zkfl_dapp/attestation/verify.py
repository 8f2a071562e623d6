"""Verify an evidence file by its kind (the vendors' verifiers are imported on first use: ``cbor2`` and
``dcap-qvl`` load only where that kind of evidence is checked, so a development deployment needs neither)."""

from __future__ import annotations

from typing import Any

from zkfl_dapp.attestation.evidence import EvidenceFile, EvidenceKind, VerifiedEvidence
from zkfl_dapp.attestation.roots import VENDOR_ANCHORS, TrustAnchors
from zkfl_dapp.exceptions import AttestationError


def verify_evidence_file(
    evidence: EvidenceFile, *, at: int, anchors: TrustAnchors = VENDOR_ANCHORS, **options: Any
) -> VerifiedEvidence:
    """Verify the vendor signature and chain of ``evidence`` at unix time ``at`` (dispatch by kind), to the
    roots whose fingerprints ``anchors`` pins (default: the vendors').

    Raises:
        AttestationError: the evidence does not verify, or it is ``development`` (nothing to verify: callers
            decide whether they accept it, see :class:`zkfl_dapp.attestation.policy.AttestationPolicy`).
    """
    if evidence.kind is EvidenceKind.AWS_NITRO:
        from zkfl_dapp.attestation.nitro import verify_nitro

        return verify_nitro(evidence.fields["document"], at=at, root_sha256=anchors.nitro_root_sha256, **options)
    if evidence.kind is EvidenceKind.INTEL_TDX:
        from zkfl_dapp.attestation.tdx import verify_tdx

        return verify_tdx(evidence.fields["quote"], evidence.fields["collateral"], at=at, **options)
    if evidence.kind is EvidenceKind.AMD_SEV_SNP:
        from zkfl_dapp.attestation.sev_snp import verify_sev_snp

        f = evidence.fields
        return verify_sev_snp(
            f["report"],
            f["vcek"],
            f["ask"],
            f["ark"],
            at=at,
            ark_sha256=anchors.amd_ark_sha256,
            ask_sha256=anchors.amd_ask_sha256,
        )
    raise AttestationError(f"{evidence.kind.label} evidence carries no vendor signature: there is nothing to verify")
