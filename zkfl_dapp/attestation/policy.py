"""What a hospital checks before it encrypts an update to the registered enclave key (docs/auditors.md,
"Attestation"): the key binding, and its own attestation policy over the registry's record.

Key binding: the enclave puts :func:`key_binding` (SHA-256 over a domain tag, the SHA-256 of its ML-KEM-768
public key, the chain id and the registry's address) into its evidence: the first 32 bytes of REPORTDATA
(TDX, SEV-SNP; the other 32 are zero) or the whole of Nitro's user_data. Vendor samples cannot hold our
key, so this check is a function of its own (:func:`check_key_binding`), tested apart from the samples.

A hospital's policy is its own (settings, not the admin's): which evidence kinds it accepts, which
measurements it pins (e.g. from a reproducible build of the enclave), and whether it accepts a development
enclave at all (off unless opted into; then every caller shows it red).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Final

from zkfl_dapp.attestation.evidence import (
    DEFAULT_MAX_AGE_S,
    DEFAULT_TCB_STATUSES,
    NO_MEASUREMENT,
    EvidenceFile,
    EvidenceKind,
    VerifiedEvidence,
)
from zkfl_dapp.attestation.roots import VENDOR_ANCHORS, TrustAnchors
from zkfl_dapp.attestation.verify import verify_evidence_file
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import AttestationError, ConfigError

BINDING_DOMAIN: Final = b"zkfl-dapp/enclave-key/v1"
DEVELOPMENT_WARNING: Final = (
    "development enclave: not attested, key readable by whoever holds the work folder "
    "(the aggregator host can decrypt every update)"
)


def key_binding(public_key: bytes, chain_id: int, registry: str) -> bytes:
    """The 32 bytes an enclave binds into its evidence for ``public_key`` on this chain and registry."""
    if not isinstance(chain_id, int) or not 0 <= chain_id < 1 << 256:
        raise AttestationError(f"chain id must be a uint256, got {chain_id!r}")
    if not (isinstance(registry, str) and registry.startswith("0x") and len(registry) == 42):
        raise AttestationError(f"registry must be a 0x-prefixed 20-byte address, got {registry!r}")
    return hashlib.sha256(
        BINDING_DOMAIN
        + hashlib.sha256(public_key).digest()
        + chain_id.to_bytes(32, "big")
        + bytes.fromhex(registry[2:])
    ).digest()


def report_data_for(public_key: bytes, chain_id: int, registry: str) -> bytes:
    """The 64-byte REPORTDATA an enclave requests (TDX/SEV-SNP): the binding, then 32 zero bytes."""
    return key_binding(public_key, chain_id, registry) + bytes(32)


def check_key_binding(evidence: VerifiedEvidence, public_key: bytes, chain_id: int, registry: str) -> None:
    """Raises: AttestationError: the evidence does not vouch for ``public_key`` on this chain and registry."""
    binding = key_binding(public_key, chain_id, registry)
    expected = binding if evidence.kind is EvidenceKind.AWS_NITRO else binding + bytes(32)
    if evidence.report_data != expected:
        raise AttestationError(
            f"the {evidence.kind.label} evidence does not bind this enclave key to chain {chain_id} and registry "
            f"{registry} (its report data is {evidence.report_data[:32].hex()}..., the key needs "
            f"{binding.hex()}): a key other than the attested one, or evidence made for another deployment"
        )


@dataclass(frozen=True)
class AttestationPolicy:
    """A hospital's own acceptance rules for the enclave key it encrypts to."""

    #: Evidence kinds accepted (development only if also :attr:`allow_development`).
    kinds: frozenset[EvidenceKind] = frozenset(
        {EvidenceKind.AWS_NITRO, EvidenceKind.INTEL_TDX, EvidenceKind.AMD_SEV_SNP}
    )
    #: Measurement ids (see :func:`zkfl_dapp.attestation.evidence.measurement_id`) this hospital pins.
    measurements: frozenset[bytes] = frozenset()
    #: Explicit opt-in to a development enclave (no TEE): local demos and tests only.
    allow_development: bool = False
    tcb_statuses: frozenset[str] = field(default=DEFAULT_TCB_STATUSES)
    max_age_s: int = DEFAULT_MAX_AGE_S
    #: The roots evidence must chain to, pinned by fingerprint (the vendors'; tests pin a test root).
    anchors: TrustAnchors = VENDOR_ANCHORS


@dataclass(frozen=True)
class EnclaveCheck:
    """The outcome of :func:`check_enclave`: verified evidence, or a development enclave (``evidence`` None)."""

    kind: EvidenceKind
    measurement: bytes
    evidence: VerifiedEvidence | None

    @property
    def attested(self) -> bool:
        return self.evidence is not None

    @property
    def summary(self) -> str:
        if self.evidence is None:
            return f"RED: {DEVELOPMENT_WARNING}"
        return f"attested: {self.kind.label} evidence verified, measurement 0x{self.measurement.hex()} pinned"


def check_enclave(
    *,
    public_key: bytes,
    kind: EvidenceKind,
    measurement: bytes,
    evidence_file: bytes,
    measurement_allowed_on_chain: bool,
    chain_id: int,
    registry: str,
    policy: AttestationPolicy,
    at: int | None = None,
) -> EnclaveCheck:
    """Everything a hospital checks before sealing to ``public_key`` (the registry's record: ``kind``,
    ``measurement``, the evidence file at its CID, whether the registry still allows the measurement).

    Raises:
        AttestationError: with what failed; the hospital must not encrypt to this key.
    """
    now = int(time.time()) if at is None else at
    if kind is EvidenceKind.DEVELOPMENT:
        if not policy.allow_development:
            raise AttestationError(
                f"refusing to encrypt: the registered enclave is a {DEVELOPMENT_WARNING}; a local demo opts in "
                "with ZKFL_ALLOW_DEVELOPMENT_ENCLAVE=1"
            )
        if measurement != NO_MEASUREMENT or EvidenceFile.parse(evidence_file).kind is not EvidenceKind.DEVELOPMENT:
            raise AttestationError(
                "a development enclave's record must carry measurement zero and development evidence"
            )
        return EnclaveCheck(kind, measurement, None)
    if kind not in policy.kinds:
        accepted = ", ".join(sorted(k.label for k in policy.kinds)) or "none"
        raise AttestationError(
            f"refusing to encrypt: {kind.label} evidence is not a kind this hospital accepts ({accepted})"
        )
    parsed = EvidenceFile.parse(evidence_file)
    if parsed.kind is not kind:
        raise AttestationError(f"the evidence file holds {parsed.kind.label} evidence, the registry says {kind.label}")
    options: dict[str, object] = {}
    if kind is EvidenceKind.AWS_NITRO:
        options["max_age_s"] = policy.max_age_s
    elif kind is EvidenceKind.INTEL_TDX:
        options["tcb_statuses"] = policy.tcb_statuses
    verified = verify_evidence_file(parsed, at=now, anchors=policy.anchors, **options)
    if verified.measurement != measurement:
        raise AttestationError(
            f"the evidence measures 0x{verified.measurement.hex()}, the registry records 0x{measurement.hex()}"
        )
    if verified.measurement not in policy.measurements:
        raise AttestationError(
            f"refusing to encrypt: measurement 0x{verified.measurement.hex()} is not on this hospital's own "
            "allowlist (ZKFL_ENCLAVE_MEASUREMENTS)"
        )
    if not measurement_allowed_on_chain:
        raise AttestationError(f"refusing to encrypt: the registry no longer allows measurement 0x{measurement.hex()}")
    check_key_binding(verified, public_key, chain_id, registry)
    return EnclaveCheck(kind, measurement, verified)


def policy_from_settings(settings: Settings, *, local: bool) -> AttestationPolicy:
    """A hospital's :class:`AttestationPolicy` from its settings (``ZKFL_ATTESTATION_KINDS``,
    ``ZKFL_ENCLAVE_MEASUREMENTS``, ``ZKFL_TDX_TCB_STATUSES``, ``ZKFL_ALLOW_DEVELOPMENT_ENCLAVE``).

    Raises:
        ConfigError: an unknown evidence kind or a malformed measurement id.
    """
    try:
        kinds = frozenset(
            EvidenceKind.from_label(k.strip()) for k in settings.attestation_kinds.split(",") if k.strip()
        )
    except AttestationError as exc:
        raise ConfigError(f"ZKFL_ATTESTATION_KINDS: {exc}") from exc
    measurements = set()
    for text in (m.strip() for m in settings.enclave_measurements.split(",")):
        if not text:
            continue
        try:
            value = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            value = b""
        if len(value) != 32:
            raise ConfigError(f"ZKFL_ENCLAVE_MEASUREMENTS: {text!r} is not 0x + 64 hex digits")
        measurements.add(value)
    return AttestationPolicy(
        kinds=kinds,
        measurements=frozenset(measurements),
        allow_development=settings.development_enclave_allowed(local=local),
        tcb_statuses=frozenset(s.strip() for s in settings.tdx_tcb_statuses.split(",") if s.strip()),
    )
