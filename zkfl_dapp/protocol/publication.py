"""What the system publishes for auditors, and how to fetch it back and check it.

At deployment the aggregation circuit's public artifacts (settings, verifying key, SRS, the verifier's
Solidity source) go to the content store, described by a :class:`CircuitManifest` whose CID the
RoundManager records (``CircuitPublished``). Every finalization publishes the ezkl proof file (its CID in
``RoundFinalized``). With these and the chain, anyone can re-verify every round; no file from the
aggregator's disk is needed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from zkfl_dapp.circuits.aggregation import AggregationArtifacts, AggregationCircuitSpec
from zkfl_dapp.circuits.artifacts import EZKL_VERSION, ArtifactPaths
from zkfl_dapp.core.formats import validate_json
from zkfl_dapp.exceptions import DigestMismatchError
from zkfl_dapp.storage.base import Storage


class PublishedFile(BaseModel):
    """One artifact in the store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cid: str
    sha256: str
    size: int


class PublishedCircuit(BaseModel):
    """The public artifacts of one more circuit of the deployment (the median rule's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    circuit: str
    logrows: int
    settings: PublishedFile
    vk: PublishedFile
    srs: PublishedFile
    verifier_sol: PublishedFile


class CircuitManifest(BaseModel):
    """The public description of a deployed aggregation circuit (and of the median circuit, if any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["zkfl-circuit/v1"] = "zkfl-circuit/v1"
    circuit: str
    slots: int
    model_size: int
    scale_bits: int
    ezkl_version: str
    logrows: int
    srs_kind: str
    settings: PublishedFile
    vk: PublishedFile
    srs: PublishedFile
    verifier_sol: PublishedFile
    median: PublishedCircuit | None = None

    def spec(self) -> AggregationCircuitSpec:
        return AggregationCircuitSpec(slots=self.slots, model_size=self.model_size, scale_bits=self.scale_bits)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def parse(cls, data: bytes) -> CircuitManifest:
        return validate_json(cls, data, what="circuit manifest")


def _publish(storage: Storage, path: Path) -> PublishedFile:
    data = path.read_bytes()
    return PublishedFile(cid=str(storage.put(data)), sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _publish_files(storage: Storage, art: ArtifactPaths) -> dict[str, PublishedFile]:
    """Store what an auditor needs to re-verify one circuit's proofs: settings, vk, SRS, verifier source."""
    return {
        "settings": _publish(storage, art.settings),
        "vk": _publish(storage, art.vk),
        "srs": _publish(storage, art.srs),
        "verifier_sol": _publish(storage, art.verifier_sol),
    }


def publish_circuit(art: AggregationArtifacts, storage: Storage, median: ArtifactPaths | None = None) -> str:
    """Store the circuits' public artifacts (aggregation, and median when given) and their manifest;
    returns the manifest's CID."""
    median_entry = None
    if median is not None:
        name = median.spec.name  # type: ignore[attr-defined]
        median_entry = PublishedCircuit(circuit=name, logrows=median.logrows, **_publish_files(storage, median))
    manifest = CircuitManifest(
        circuit=art.spec.name,
        slots=art.spec.slots,
        model_size=art.spec.model_size,
        scale_bits=art.spec.scale_bits,
        ezkl_version=EZKL_VERSION,
        logrows=art.logrows,
        srs_kind=art.srs_kind,
        median=median_entry,
        **_publish_files(storage, art),
    )
    return str(storage.put(manifest.to_bytes()))


def fetch_published(storage: Storage, item: PublishedFile, dest: Path) -> Path:
    """Fetch one published artifact into ``dest``, checking its SHA-256 against the manifest."""
    data = storage.get(item.cid)
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise DigestMismatchError(f"{item.cid}: content does not match the manifest's SHA-256")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest
