"""The consortium's standardisation statistics on the store, bound to the chain through the circuit manifest.

At bootstrap the consortium combines the hospitals' count, sum and sum-of-squares contributions into a
:class:`~zkfl_dapp.ml.statistics.PublishedStatistics` file (:func:`~zkfl_dapp.ml.bundled_records.bundled_statistics`
for the bundled data sets) and publishes it
with the circuit manifest (``publish_circuit(..., statistics=...)``): the manifest's ``statistics`` entry
holds the file's CID and SHA-256, and RoundManager holds the manifest's CID (``circuitCid()``, set once at
deployment). :func:`fetch_statistics` follows that chain back, so a hospital standardises with exactly the
statistics the deployment names, not with a file someone handed it. A consortium deployed on its own schema
(``zkfl admin deploy --schema``) also publishes the schema file and its model there
(:func:`deployment_definition`), so every party trains and checks the model the deployment names.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from zkfl_dapp.exceptions import DigestMismatchError, StatisticsError
from zkfl_dapp.ml.schema import RecordSchema, parse_schema
from zkfl_dapp.ml.statistics import PublishedStatistics
from zkfl_dapp.protocol.publication import CircuitManifest
from zkfl_dapp.storage.base import Storage

if TYPE_CHECKING:
    from zkfl_dapp.ml.model import ModelSpec


def fetch_statistics(storage: Storage, circuit_cid: str) -> PublishedStatistics:
    """The statistics named by the circuit manifest under ``circuit_cid`` (RoundManager's ``circuitCid()``),
    checked against the manifest's SHA-256 and parsed strictly.

    Raises:
        StatisticsError: When the manifest publishes no statistics, or the file is malformed.
        DigestMismatchError: When the stored file does not match the manifest's SHA-256.
        StorageError, ModelFileError: When the manifest cannot be fetched or parsed.
    """
    manifest = CircuitManifest.parse(storage.get(circuit_cid))
    if manifest.statistics is None:
        raise StatisticsError(
            f"the circuit manifest {circuit_cid} publishes no standardisation statistics (a deployment made before "
            "they were published): redeploy, or set ZKFL_STATISTICS to a statistics file the consortium agreed on"
        )
    item = manifest.statistics
    data = storage.get(item.cid)
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise DigestMismatchError(f"{item.cid}: the statistics file does not match the manifest's SHA-256")
    return PublishedStatistics.parse(data, where=f"statistics file {item.cid}")


def deployment_statistics(round_manager: Any, storage: Storage) -> PublishedStatistics:
    """:func:`fetch_statistics` for the manifest a deployed RoundManager names (``circuitCid()``)."""
    return fetch_statistics(storage, str(round_manager.circuitCid()))


def deployment_definition(round_manager: Any, storage: Storage) -> tuple[ModelSpec, RecordSchema] | None:
    """The model and schema of a consortium deployed on its own schema (``zkfl admin deploy --schema``), from the
    circuit manifest the deployed RoundManager names; None for a bundled data set's consortium (its parties'
    settings name its model). See :func:`manifest_definition`."""
    return manifest_definition(CircuitManifest.parse(storage.get(str(round_manager.circuitCid()))), storage)


def manifest_definition(manifest: CircuitManifest, storage: Storage) -> tuple[ModelSpec, RecordSchema] | None:
    """The model and schema a circuit manifest publishes (None: neither), checked: the schema file against the
    manifest's SHA-256, the model against the manifest's model size and the schema's features, the statistics
    against the schema's digest.

    Raises:
        DigestMismatchError: the stored schema file is not the one the manifest names.
        ModelFileError, RecordsError: a malformed model description or schema file.
        StatisticsError: only one of the two, or a model or statistics that do not fit.
    """
    from zkfl_dapp.ml.model import ModelSpec

    if manifest.model is None and manifest.records_schema is None:
        return None
    if manifest.model is None or manifest.records_schema is None:
        raise StatisticsError("the circuit manifest publishes a model without a schema or a schema without a model")
    spec = ModelSpec.from_dict(manifest.model)
    item = manifest.records_schema
    data = storage.get(item.cid)
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise DigestMismatchError(f"{item.cid}: the schema file does not match the manifest's SHA-256")
    schema = parse_schema(data, where=f"schema file {item.cid}")
    if spec.num_params != manifest.model_size or spec.num_features != len(schema.features):
        raise StatisticsError(
            f"the circuit manifest's model {spec.to_dict()} ({spec.num_params} parameters) does not fit its "
            f"{manifest.model_size}-parameter commitments or its schema's {len(schema.features)} features"
        )
    if manifest.statistics is not None:
        statistics = PublishedStatistics.parse(storage.get(manifest.statistics.cid), where="statistics file")
        if statistics.schema_digest != schema.digest():
            raise StatisticsError(
                f"the published statistics were made for schema {statistics.schema_digest[:16]}..., the manifest's "
                f"schema is {schema.digest()[:16]}..."
            )
    return spec, schema
