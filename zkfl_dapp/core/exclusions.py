"""The evidence file of one exclusion, as it travels through IPFS (docs/exclusions.md).

The aggregator enclave may leave a submitted update out of a round only after declaring it on-chain
(``RoundManager.declareExclusion``) with a reason and, for the two reasons that can be proven, the SHA-256
and CID of an :class:`ExclusionEvidence` file. The file holds the ML-KEM-768 *decapsulation evidence* of that
one envelope: the K-PKE-decrypted message ``m'`` whose deterministic re-encapsulation under the enclave's
registered public key reproduces the envelope's KEM ciphertext. With it anyone derives the shared secret,
hence the AES key of that envelope (and of no other), and sees for themselves that

* ``undecryptable``: AES-256-GCM authentication fails under the submission's associated data, or
* ``invalid_content``: it decrypts, and the payload is malformed, names another round, hospital, sample
  count or scale, or does not open the on-chain commitment (the update is then public: the price of proving it).

An unavailable ciphertext has no evidence (nothing proves absence): the contract gives the hospital a window
to post the envelope on-chain instead.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from zkfl_dapp.core.formats import MAX_ROUND_ID, _CanonicalFile
from zkfl_dapp.exceptions import ModelFileError

EXCLUSION_EVIDENCE_FORMAT: Final = "zkfl-dapp/exclusion-evidence/v1"
#: The reasons that carry evidence, as the file names them (``IRoundManager.ExclusionReason`` 1 and 2).
EvidenceReason = Literal["undecryptable", "invalid_content"]
#: Their on-chain codes.
REASON_CODES: dict[str, int] = {"undecryptable": 1, "invalid_content": 2}

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
MAX_FINDING_LENGTH = 512
MAX_CID_LENGTH = 128  # RoundManager.MAX_CID_LENGTH


class ExclusionEvidence(_CanonicalFile):
    """Why the enclave left one submission out, with what proves it from public data alone.

    Attributes:
        round_id, slot, hospital: the submission (as ``RoundManager.getSubmission`` holds it).
        reason: ``undecryptable`` or ``invalid_content``.
        ciphertext_cid: the submission's CID; ``envelope_sha256`` the SHA-256 of the bytes the enclave fetched
            under it (a raw CID's digest is that SHA-256).
        enclave_key_sha256: SHA-256 of the enclave's ML-KEM-768 public key (the registry's ``keyHash``).
        kem_message: ``m'``, 32 bytes hex: the K-PKE decryption of the envelope's KEM ciphertext. It reveals the
            shared secret of this one envelope, nothing about the enclave's key or any other envelope.
        finding: what the enclave found, in words (checked by re-running the check, never trusted).
    """

    format: Literal["zkfl-dapp/exclusion-evidence/v1"] = "zkfl-dapp/exclusion-evidence/v1"
    round_id: int = Field(ge=1, le=MAX_ROUND_ID)
    slot: int = Field(ge=0, lt=256)
    hospital: Address
    reason: EvidenceReason
    ciphertext_cid: str = Field(min_length=1, max_length=MAX_CID_LENGTH)
    envelope_sha256: Hex32
    enclave_key_sha256: Hex32
    kem_message: Hex32
    finding: str = Field(min_length=1, max_length=MAX_FINDING_LENGTH)

    @property
    def reason_code(self) -> int:
        """The ``IRoundManager.ExclusionReason`` value of :attr:`reason`."""
        return REASON_CODES[self.reason]

    @classmethod
    def parse(cls, data: bytes) -> ExclusionEvidence:
        """Parse an evidence file strictly (unknown fields, wrong types or a missing format tag are refused).

        Raises:
            ModelFileError: the file is malformed.
        """
        evidence = cls.from_bytes(data, what="exclusion evidence")
        if not isinstance(evidence, ExclusionEvidence):  # pragma: no cover - from_bytes returns cls
            raise ModelFileError("exclusion evidence did not parse as ExclusionEvidence")
        return evidence
