"""The vendors' roots of trust, pinned by SHA-256 fingerprint (of the certificate's DER encoding): no copy of a
certificate ships with the package. The certificates themselves arrive with the evidence and are accepted only
if their fingerprint is the pinned one.

- AWS Nitro Enclaves root G1 (CN ``aws.nitro-enclaves``, valid 2019-10-28 to 2049-10-28): every attestation
  document carries it as ``cabundle[0]``. AWS publishes it at
  https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip with this fingerprint (enclaves user
  guide, "Verifying the root of trust").
- AMD SEV-SNP Milan ARK (CN ``ARK-Milan``, self-signed) and ASK (CN ``SEV-Milan``), both valid 2020-10-22 to
  2045-10-22: the operator fetches them from AMD's key distribution service,
  https://kdsintf.amd.com/vcek/v1/Milan/cert_chain (PEM, ASK then ARK), and they travel in the evidence file.
- Intel's SGX/TDX root CA is pinned inside ``dcap-qvl`` (``dcap_qvl.verify`` uses its built-in copy).

Each verifier takes its pins as parameters (defaults: the vendors' fingerprints below), so a deployment can pin
another product line's root (e.g. AMD Genoa's ARK) and tests can pin a test root they generate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from cryptography import x509

from zkfl_dapp.exceptions import AttestationError

AWS_NITRO_ROOT_SHA256: Final = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
AMD_MILAN_ARK_SHA256: Final = "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd"
AMD_MILAN_ASK_SHA256: Final = "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b"


@dataclass(frozen=True)
class TrustAnchors:
    """The root fingerprints (SHA-256 of the DER, lowercase hex) evidence must chain to."""

    nitro_root_sha256: str = AWS_NITRO_ROOT_SHA256
    amd_ark_sha256: str = AMD_MILAN_ARK_SHA256
    amd_ask_sha256: str = AMD_MILAN_ASK_SHA256


#: The vendors' roots: what production verifies against.
VENDOR_ANCHORS: Final = TrustAnchors()


def pinned_certificate(der: bytes, sha256_hex: str, name: str) -> x509.Certificate:
    """The certificate ``der`` if its SHA-256 fingerprint is ``sha256_hex``.

    Raises:
        AttestationError: another certificate than the pinned one, or not a certificate.
    """
    actual = hashlib.sha256(der).hexdigest()
    if actual != sha256_hex.lower():
        raise AttestationError(
            f"the {name} certificate's SHA-256 fingerprint is {actual}, not the pinned {sha256_hex.lower()}"
        )
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise AttestationError(f"the pinned {name} certificate does not parse ({exc})") from exc
