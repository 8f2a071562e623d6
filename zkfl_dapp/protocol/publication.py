"""What the system publishes for auditors, and how to fetch it back and check it.

At deployment the circuits' public artifacts (settings, verifying key, SRS, the verifier's Solidity source
of the norm circuit and, for 5 slots, the median circuit) and the pinned KZG basis (logrows, unusable rows,
``K = C(0)``, its digest, and the Lagrange points ``L_j = C(e_j) - K`` of every committed row, so that a
browser can check a model file against its commitment with one multi-scalar multiplication) go to the
content store, described by a :class:`CircuitManifest` whose CID the RoundManager records
(``CircuitPublished``). Median finalizations publish their ezkl proof file (its CID in ``RoundFinalized``).
With these and the chain, anyone can re-check every round; no file from the aggregator's disk is needed.

A chunked consortium (a large model; :class:`zkfl_dapp.core.layout.CommitmentLayout`) publishes the chunk norm
circuit as ``norm``, ``chunk`` > 0, and no Lagrange file: its 4,106 points would take one ezkl commitment each
to compute; auditors open its model files with ezkl instead, and the web UI says it does not check them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from zkfl_dapp.circuits.artifact_paths import EZKL_VERSION, ArtifactPaths
from zkfl_dapp.circuits.kzg import lagrange_points
from zkfl_dapp.circuits.suite import CircuitSuite
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
    """The public artifacts of one circuit of the deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    circuit: str
    logrows: int
    settings: PublishedFile
    vk: PublishedFile
    srs: PublishedFile
    verifier_sol: PublishedFile


class PublishedBasis(BaseModel):
    """The pinned KZG basis every commitment of the consortium uses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    logrows: int
    unusable_rows: int
    #: sha256 of (logrows, unusable rows, SRS, norm vk, norm settings): RoundManager.kzgBasisDigest
    digest: str
    #: K = C(0), hex coordinates
    zero_commitment: tuple[str, str]
    #: JSON list of [x, y] hex coordinates of L_j = C(e_j) - K for j < rows (None for a chunked layout)
    lagrange: PublishedFile | None = None


class CircuitManifest(BaseModel):
    """The public description of the deployment's circuits and commitment basis."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["zkfl-circuit/v2"] = "zkfl-circuit/v2"
    slots: int
    model_size: int
    pad_rows: int
    #: model rows per committed chunk (0: the model is one committed vector)
    chunk: int = 0
    scale_bits: int
    ezkl_version: str
    srs_kind: str
    basis: PublishedBasis
    norm: PublishedCircuit
    median: PublishedCircuit | None = None
    #: the consortium's standardisation statistics (zkfl-stats/v1, zkfl_dapp.ml.statistics); None: not published
    statistics: PublishedFile | None = None
    #: a consortium deployed on its own schema: the schema file (zkfl-schema/v1, zkfl_dapp.ml.schema) its members'
    #: records are read with, and its model (ModelSpec.to_dict: kind, num_features, hidden); None: a bundled
    #: data set's consortium, whose model the parties' settings name
    records_schema: PublishedFile | None = None
    model: dict[str, Any] | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def parse(cls, data: bytes) -> CircuitManifest:
        return validate_json(cls, data, what="circuit manifest")


def _publish_bytes(storage: Storage, data: bytes) -> PublishedFile:
    return PublishedFile(cid=str(storage.put(data)), sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _publish(storage: Storage, path: Path) -> PublishedFile:
    return _publish_bytes(storage, path.read_bytes())


def _publish_circuit(storage: Storage, name: str, art: ArtifactPaths, logrows: int) -> PublishedCircuit:
    """Store what an auditor needs to re-verify one circuit's proofs: settings, vk, SRS, verifier source."""
    return PublishedCircuit(
        circuit=name,
        logrows=logrows,
        settings=_publish(storage, art.settings),
        vk=_publish(storage, art.vk),
        srs=_publish(storage, art.srs),
        verifier_sol=_publish(storage, art.verifier_sol),
    )


def lagrange_file(points: list[tuple[int, int]]) -> bytes:
    """The published Lagrange points: canonical JSON ``[["0x..", "0x.."], ...]``."""
    return json.dumps([[hex(x), hex(y)] for x, y in points], separators=(",", ":")).encode()


def publish_circuit(
    circuits: CircuitSuite,
    storage: Storage,
    *,
    statistics: bytes | None = None,
    schema: bytes | None = None,
    model: dict[str, Any] | None = None,
) -> str:
    """Store the circuits' public artifacts, the basis and its Lagrange points, the standardisation
    ``statistics`` file, the consortium's ``schema`` file and ``model`` description when given, and the manifest;
    returns the manifest's CID."""
    basis = circuits.basis
    k = circuits.zero
    lagrange = None
    if not circuits.chunked:
        points = lagrange_points(basis, circuits.rows, cache_dir=circuits.norm.directory)
        lagrange = _publish_bytes(storage, lagrange_file([p.as_uint256() for p in points]))
    published_basis = PublishedBasis(
        logrows=basis.logrows,
        unusable_rows=basis.unusable_rows,
        digest=basis.digest(),
        zero_commitment=(hex(k.x), hex(k.y)),
        lagrange=lagrange,
    )
    norm = circuits.norm
    median = circuits.median
    manifest = CircuitManifest(
        slots=circuits.slots,
        model_size=circuits.model_size,
        pad_rows=circuits.pad_rows,
        chunk=circuits.layout.chunk if circuits.chunked else 0,
        scale_bits=circuits.scale_bits,
        ezkl_version=EZKL_VERSION,
        srs_kind=norm.srs_kind,
        basis=published_basis,
        norm=_publish_circuit(storage, norm.spec.name, norm, norm.logrows),
        median=_publish_circuit(storage, median.spec.name, median, median.logrows) if median is not None else None,
        statistics=_publish_bytes(storage, statistics) if statistics is not None else None,
        records_schema=_publish_bytes(storage, schema) if schema is not None else None,
        model=model,
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
