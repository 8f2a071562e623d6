"""Every error the package raises derives from :class:`ZkflError`.

Each message says what went wrong and, where it helps, what to do about it. Callers that want to
handle a whole family catch the family's base class (``StorageError``, ``CryptoError``, ...).
"""

from __future__ import annotations


class ZkflError(Exception):
    """Base class of every error raised by zkfl_dapp."""


class ConfigError(ZkflError):
    """Configuration is missing or inconsistent."""


class ToolchainError(ZkflError):
    """An external tool (anvil, the solc shim, ezkl) is missing or failed."""


# --- data, models and model files -------------------------------------------------------------
class DataError(ZkflError):
    """A data set or a data split is unusable (empty shard, wrong feature count, ...)."""


class RecordsError(DataError):
    """A hospital's own records file or its schema is unusable. The message names the file and, for a bad
    cell, the row (1-based, counting data rows from the first one after the header: row ``r`` is spreadsheet
    row ``r + 1``) and the column; so do the attributes :attr:`path`, :attr:`row` and :attr:`column` (``None``
    when the problem is not one cell's)."""

    def __init__(self, message: str, *, path: str | None = None, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.path = path
        self.row = row
        self.column = column


class ShardTooSmallError(DataError):
    """A hospital holds fewer records than the consortium's minimum: its update would be (nearly) one patient's
    record, so it does not train (``ZKFL_MIN_SHARD_SAMPLES``; docs/privacy.md)."""


class StatisticsError(DataError):
    """Published standardisation statistics are malformed, or do not fit a hospital's schema or data (another
    schema digest, other features, a local mean implausibly far from the published one)."""


class ModelFileError(ZkflError):
    """A model or update file is malformed: bad JSON, wrong format tag, wrong shape, NaN or inf."""


class QuantizationError(ZkflError):
    """A value cannot be represented at the circuit's fixed-point scale (out of range, not finite)."""


# --- storage ----------------------------------------------------------------------------------
class StorageError(ZkflError):
    """The content-addressed store failed."""


class CidNotFoundError(StorageError):
    """No content is stored under the requested CID."""


class CidMismatchError(StorageError):
    """Content fetched for a CID does not hash to that CID (corrupt or tampered store)."""


class InvalidCidError(StorageError):
    """A string is not a valid CID, or not one the stores accept (only full-length sha2-256, as Kubo makes)."""


class ContentTooLargeError(StorageError):
    """Content (or a DAG's declared size, block count or a single block) exceeds the store's cap on a ``get``."""


class DagTooDeepError(StorageError):
    """A UnixFS DAG is nested deeper than the store's depth cap (Kubo's own files are a few levels deep)."""


# --- cryptography -----------------------------------------------------------------------------
class CryptoError(ZkflError):
    """Encryption, decryption or key handling failed."""


class DecryptionError(CryptoError):
    """A ciphertext failed authentication: wrong key, wrong associated data, or tampering."""


class AttestationError(CryptoError):
    """TEE evidence does not verify (signature, certificate chain, validity time, debug mode, TCB status), or
    verified evidence does not vouch for this key (measurement not allowed, key binding, kind not accepted):
    a hospital refuses to encrypt to that key."""


# --- protocol ---------------------------------------------------------------------------------
class CommitmentMismatchError(ZkflError):
    """Content does not match the commitment recorded for it on-chain (a model's or an update's)."""


class DigestMismatchError(ZkflError):
    """Content does not match the SHA-256 digest recorded for it (a circuit artifact, the enclave key)."""


class CircuitError(ZkflError):
    """Building, setting up or proving a circuit failed, or a proof did not verify."""


class ChainError(ZkflError):
    """A chain interaction failed or the chain state is not what the protocol expects."""


class RoundError(ZkflError):
    """A round cannot proceed (quorum missed, wrong phase, nothing to aggregate)."""


class PatientRecordError(ZkflError):
    """A patient record file (CSV or JSON) is malformed: missing, unknown, non-numeric or non-finite fields."""


class NormBoundError(RoundError):
    """An update's distance to the previous global model exceeds the round's norm bound (or the norm
    circuit's range): no valid submission exists for it."""


class EvidenceError(CryptoError):
    """Exclusion evidence does not hold: a KEM message that does not re-encapsulate to the envelope's KEM
    ciphertext, an evidence file that is malformed or not the one declared on-chain, or a claim the data refutes."""


class ExclusionWindowOpen(RoundError):
    """An ``Unavailable`` exclusion is declared and its re-announce window is still open: the round can be
    finalized only after ``window_end`` (chain time), when the hospital has had its chance to post the envelope."""

    def __init__(self, message: str, *, window_end: int) -> None:
        super().__init__(message)
        self.window_end = window_end


# --- secure aggregation -----------------------------------------------------------------------
class SecAggError(ZkflError):
    """Secure aggregation cannot proceed: a malformed setup bundle, share or reveal, or inputs that do not fit
    the round (zkfl_dapp.secagg)."""


class SecAggThresholdError(SecAggError):
    """Fewer than ``t`` valid shares of a secret the unmasking needs (too few responders, or too few submitters
    for the round to be unmasked at all): the round cannot be unmasked and must be aborted."""


class SecAggRevealRefused(SecAggError):
    """A reveal the protocol forbids: a self-mask share of a hospital that did not submit, or a pairwise share of a
    pair whose two hospitals both submitted (revealing it would unmask a submitted input)."""


class SecAggAttributionError(SecAggError):
    """Attribution evidence is malformed or does not show what it claims (e.g. a KEM message that does not
    re-encapsulate to the pair's ciphertext)."""
