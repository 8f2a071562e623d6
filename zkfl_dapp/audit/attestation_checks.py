"""The audit's ``enclave key`` attestation part: every enclave key the registry ever recorded (each
``EnclaveKeyRegistered``; an open round locks the key, so every round's submissions were sealed to one of them)
has its evidence re-verified as of the block that registered it: the vendor signature and chain against the
pinned roots, the measurement it proves equals the one registered, and it binds that key to this chain and
registry. A development enclave verifies nothing and is labelled red, never attested.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from zkfl_dapp.attestation.evidence import NO_MEASUREMENT, EvidenceFile, EvidenceKind
from zkfl_dapp.attestation.policy import DEVELOPMENT_WARNING, check_key_binding
from zkfl_dapp.attestation.verify import verify_evidence_file
from zkfl_dapp.audit.events import _args, _logs
from zkfl_dapp.exceptions import AttestationError, StorageError
from zkfl_dapp.storage.base import Storage


@dataclass(frozen=True)
class KeyAttestation:
    """One registered enclave key and what its evidence showed."""

    block: int
    key_hash: str
    key_cid: str
    kind: str
    measurement: str
    evidence_cid: str
    #: "attested", "development" (red) or "failed"
    status: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_one(storage: Storage, args: dict[str, Any], at: int, chain_id: int, registry: str) -> tuple[str, str]:
    kind = EvidenceKind(int(args["kind"]))
    measurement = bytes(args["measurement"])
    evidence = EvidenceFile.parse(storage.get(str(args["evidenceCid"])))
    if evidence.kind is not kind:
        raise AttestationError(f"the evidence file holds {evidence.kind.label} evidence, the event says {kind.label}")
    if kind is EvidenceKind.DEVELOPMENT:
        if measurement != NO_MEASUREMENT:
            raise AttestationError("a development enclave registered a non-zero measurement")
        return "development", f"RED: {DEVELOPMENT_WARNING}"
    key = storage.get(str(args["keyCid"]))
    if hashlib.sha256(key).digest() != bytes(args["keyHash"]):
        raise AttestationError("the key under its CID does not hash to the registered SHA-256")
    verified = verify_evidence_file(evidence, at=at)
    if verified.measurement != measurement:
        raise AttestationError(
            f"the evidence measures 0x{verified.measurement.hex()}, registered 0x{measurement.hex()}"
        )
    check_key_binding(verified, key, chain_id, registry)
    return "attested", f"{kind.label} evidence verified as of the registration block ({verified.details})"


def audit_enclave_keys(registry: Any, storage: Storage, chain: Any, chain_id: int, head: int) -> list[KeyAttestation]:
    """Every registered enclave key's attestation, in chain order (see the module docstring)."""
    out: list[KeyAttestation] = []
    for log in _logs(registry.EnclaveKeyRegistered, head):
        args = _args(log)
        block = int(log.block_number)
        try:
            kind_label = EvidenceKind(int(args["kind"])).label
        except ValueError:
            kind_label = f"unknown ({args['kind']})"
        try:
            at = int(chain.blocks[block].timestamp)
            status, detail = _check_one(storage, args, at, chain_id, str(registry.address))
        except (AttestationError, StorageError, ValueError) as exc:
            status, detail = "failed", str(exc)
        out.append(
            KeyAttestation(
                block=block,
                key_hash="0x" + bytes(args["keyHash"]).hex(),
                key_cid=str(args["keyCid"]),
                kind=kind_label,
                measurement="0x" + bytes(args["measurement"]).hex(),
                evidence_cid=str(args["evidenceCid"]),
                status=status,
                detail=detail,
            )
        )
    return out
