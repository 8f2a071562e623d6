"""The enclave key a hospital encrypts to, only once its attestation holds (docs/auditors.md, "Attestation").

The registry's record (key hash and CID, evidence kind, measurement, evidence CID) is read from the chain,
the key and the evidence file from the store; :func:`zkfl_dapp.attestation.policy.check_enclave` then checks
the evidence against the roots its policy pins by fingerprint (the vendors'; as of the key's registration),
this hospital's own pinned measurements, the registry's current allowlist, and the key binding to this chain
and registry.
"""

from __future__ import annotations

from typing import Any

from zkfl_dapp.attestation.evidence import EvidenceKind
from zkfl_dapp.attestation.policy import AttestationPolicy, EnclaveCheck, check_enclave
from zkfl_dapp.exceptions import AttestationError, ChainError
from zkfl_dapp.protocol.hospital import fetch_enclave_key
from zkfl_dapp.storage.base import Storage


def fetch_attested_enclave_key(
    storage: Storage, registry: Any, chain_id: int, policy: AttestationPolicy, *, at: int | None = None
) -> tuple[bytes, EnclaveCheck]:
    """The registered enclave public key and what vouches for it; refuses a key this hospital must not use.

    The evidence is verified as of the key's registration (``at``: default the registration block's timestamp,
    which the registry records): evidence proves what the TEE held when it was made, and a Nitro document's
    certificates live about three hours, so "now" would expire every key within hours of registration.

    Raises:
        ChainError: no key registered. StorageError: the key or its evidence file cannot be fetched.
        DigestMismatchError: the key file is not the registered one.
        AttestationError: the evidence does not verify, or does not vouch for this key (the message says why).
    """
    public_key = fetch_enclave_key(storage, registry)
    _key_hash, _key_cid, measurement = registry.enclaveKey()
    kind_value, evidence_cid, registered_at = registry.enclaveEvidence()
    if not evidence_cid:
        raise ChainError("the registered enclave key has no evidence CID")
    try:
        kind = EvidenceKind(int(kind_value))
    except ValueError as exc:
        raise AttestationError(f"the registry records an unknown evidence kind {kind_value}") from exc
    check = check_enclave(
        public_key=public_key,
        kind=kind,
        measurement=bytes(measurement),
        evidence_file=storage.get(str(evidence_cid)),
        measurement_allowed_on_chain=bool(registry.isMeasurementAllowed(measurement)),
        chain_id=chain_id,
        registry=str(registry.address),
        policy=policy,
        at=int(registered_at) if at is None else at,
    )
    return public_key, check
