"""Where a real enclave gets its evidence (docs/operators.md, "Attestation"). UNTESTED: no TDX, SEV-SNP or
Nitro machine was available; tests/unit/test_attestation_sources.py checks only the refusals off such hardware.
Nothing here runs in the default (development) configuration: the aggregator calls it only with
``ZKFL_ENCLAVE_EVIDENCE`` set to ``configfs-tsm`` or ``nitro-nsm``.

- Intel TDX and AMD SEV-SNP guests: Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm): make a report
  directory under ``/sys/kernel/config/tsm/report``, write the 64-byte REPORTDATA to ``inblob``, read the quote
  or report from ``outblob`` (``provider`` says ``tdx_guest`` or ``sev_guest``; ``auxblob`` may hold the
  host-provided SEV certificate table). A TDX quote's collateral comes from a PCCS (``dcap_qvl.get_collateral``,
  network); an SEV-SNP report's VCEK from the certificate table or AMD's KDS, supplied as a file, and AMD's ASK
  and ARK from the KDS (``/vcek/v1/<product>/cert_chain``), supplied as a PEM file.
- AWS Nitro Enclaves: the NSM device ``/dev/nsm``: one ioctl carries a CBOR ``Attestation`` request with
  ``user_data`` (our 32-byte key binding) and returns the COSE_Sign1 attestation document.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import uuid
from pathlib import Path
from typing import ClassVar, Final

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from zkfl_dapp.attestation.evidence import EvidenceFile, EvidenceKind
from zkfl_dapp.attestation.policy import key_binding, report_data_for
from zkfl_dapp.exceptions import AttestationError

CONFIGFS_TSM: Final = Path("/sys/kernel/config/tsm/report")
NSM_DEVICE: Final = Path("/dev/nsm")
_PROVIDERS: Final = {"tdx_guest": EvidenceKind.INTEL_TDX, "sev_guest": EvidenceKind.AMD_SEV_SNP}


def configfs_tsm_report(report_data: bytes, *, root: Path = CONFIGFS_TSM) -> tuple[EvidenceKind, bytes, bytes]:
    """``(kind, outblob, auxblob)`` for ``report_data`` (64 bytes) from configfs-tsm.

    Raises:
        AttestationError: no configfs-tsm here, an unknown provider, or the report changed under us.
    """
    if len(report_data) != 64:
        raise AttestationError("configfs-tsm REPORTDATA is 64 bytes")
    if not root.is_dir():
        raise AttestationError(f"{root} does not exist: not a TDX or SEV-SNP guest with configfs-tsm")
    entry = root / f"zkfl-{uuid.uuid4().hex}"
    entry.mkdir()
    try:
        provider = (entry / "provider").read_text().strip()
        kind = _PROVIDERS.get(provider)
        if kind is None:
            raise AttestationError(f"configfs-tsm provider {provider!r} is not one of {sorted(_PROVIDERS)}")
        generation = (entry / "generation").read_text().strip()
        (entry / "inblob").write_bytes(report_data)
        out = (entry / "outblob").read_bytes()
        aux = (entry / "auxblob").read_bytes() if (entry / "auxblob").exists() else b""
        # another writer between our write and read shows as a generation other than ours + 1
        if int((entry / "generation").read_text().strip()) != int(generation) + 1:
            raise AttestationError("configfs-tsm: the report was regenerated concurrently; try again")
        return kind, out, aux
    finally:
        entry.rmdir()


def tdx_evidence(quote: bytes, collateral_json: bytes) -> EvidenceFile:
    """A TDX evidence file: the quote and its collateral (dcap-qvl's JSON, from a PCCS)."""
    return EvidenceFile(EvidenceKind.INTEL_TDX, {"quote": quote, "collateral": collateral_json})


def sev_snp_evidence(report: bytes, vcek_der: bytes, cert_chain_pem: bytes) -> EvidenceFile:
    """An SEV-SNP evidence file: the report, the VCEK that signed it (DER), and the ASK and ARK from AMD's KDS
    ``cert_chain`` (PEM: the two certificates; the self-signed one is the ARK). Verifiers accept the ASK and ARK
    only by their pinned fingerprints.

    Raises:
        AttestationError: the chain is not two certificates, one of them self-signed.
    """
    try:
        certs = x509.load_pem_x509_certificates(cert_chain_pem)
    except ValueError as exc:
        raise AttestationError(f"AMD's cert_chain is not PEM certificates ({exc})") from exc
    roots = [c for c in certs if c.subject == c.issuer]
    if len(certs) != 2 or len(roots) != 1:
        raise AttestationError("AMD's cert_chain must hold two certificates, the ASK and the self-signed ARK")
    ark = roots[0]
    ask = next(c for c in certs if c is not ark)
    fields = {"report": report, "vcek": vcek_der, "ask": ask.public_bytes(Encoding.DER)}
    return EvidenceFile(EvidenceKind.AMD_SEV_SNP, {**fields, "ark": ark.public_bytes(Encoding.DER)})


class _IoVec(ctypes.Structure):
    _fields_: ClassVar = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _NsmMessage(ctypes.Structure):
    _fields_: ClassVar = [("request", _IoVec), ("response", _IoVec)]


#: _IOWR(0x0A, 0, struct nsm_message): the NSM driver's one ioctl (aws-nitro-enclaves-nsm-api, driver/nsm.c).
_NSM_IOCTL: Final = (3 << 30) | (ctypes.sizeof(_NsmMessage) << 16) | (0x0A << 8) | 0
_NSM_RESPONSE_MAX: Final = 0x3000


def nitro_attestation(user_data: bytes, *, device: Path = NSM_DEVICE) -> EvidenceFile:
    """A Nitro evidence file: the attestation document the NSM returns for ``user_data`` (our key binding).

    Raises:
        AttestationError: no NSM device here, or it answered with an error.
    """
    request = cbor2.dumps({"Attestation": {"user_data": user_data, "nonce": None, "public_key": None}})
    req = ctypes.create_string_buffer(request, len(request))
    resp = ctypes.create_string_buffer(_NSM_RESPONSE_MAX)
    message = _NsmMessage(
        _IoVec(ctypes.cast(req, ctypes.c_void_p), len(request)),
        _IoVec(ctypes.cast(resp, ctypes.c_void_p), _NSM_RESPONSE_MAX),
    )
    try:
        fd = os.open(device, os.O_RDWR)
    except OSError as exc:
        raise AttestationError(f"{device}: {exc.strerror}: not inside an AWS Nitro Enclave") from exc
    try:
        fcntl.ioctl(fd, _NSM_IOCTL, message)
    finally:
        os.close(fd)
    answer = cbor2.loads(resp.raw[: message.response.len])
    document = answer.get("Attestation", {}).get("document") if isinstance(answer, dict) else None
    if not isinstance(document, bytes):
        raise AttestationError(f"the NSM refused the attestation request: {answer!r}")
    return EvidenceFile(EvidenceKind.AWS_NITRO, {"document": document})


def enclave_evidence(
    source: str,
    public_key: bytes,
    chain_id: int,
    registry: str,
    *,
    pccs_url: str | None = None,
    vcek_file: Path | None = None,
    cert_chain_file: Path | None = None,
) -> EvidenceFile | None:
    """The evidence file binding ``public_key`` to this chain and registry from ``source`` (``development``: None,
    the aggregator then registers a development enclave).

    Raises:
        AttestationError: the source is unknown or unavailable here, or what it needs is not configured.
    """
    if source == "development":
        return None
    if source == "nitro-nsm":
        return nitro_attestation(key_binding(public_key, chain_id, registry))
    if source != "configfs-tsm":
        raise AttestationError(f"unknown evidence source {source!r}: development, configfs-tsm or nitro-nsm")
    kind, out, _aux = configfs_tsm_report(report_data_for(public_key, chain_id, registry))
    if kind is EvidenceKind.INTEL_TDX:
        if not pccs_url:
            raise AttestationError("a TDX quote needs its collateral: set ZKFL_PCCS_URL (Intel PCS or a PCCS)")
        import asyncio

        import dcap_qvl

        collateral = asyncio.run(dcap_qvl.get_collateral(pccs_url, out))
        return tdx_evidence(out, collateral.to_json().encode())
    if vcek_file is None:
        raise AttestationError("an SEV-SNP report needs its VCEK: set ZKFL_SEV_VCEK_FILE (DER, from AMD's KDS)")
    if cert_chain_file is None:
        raise AttestationError(
            "an SEV-SNP report needs AMD's ASK and ARK: set ZKFL_SEV_CERT_CHAIN_FILE (PEM, AMD KDS cert_chain)"
        )
    return sev_snp_evidence(out, vcek_file.read_bytes(), cert_chain_file.read_bytes())
