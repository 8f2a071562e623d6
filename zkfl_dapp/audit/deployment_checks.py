"""Deployment-level checks, from the chain and the content store alone.

* ``circuit manifest``: one ``CircuitPublished`` event names ``circuitCid()``; the manifest under it parses
  (:class:`~zkfl_dapp.protocol.publication.CircuitManifest`); its shape (slots, model size, pad rows, scale)
  is the RoundManager's, and so is its layout: ``chunk = 0`` (one vector) exactly when ``chunks() == 1``,
  otherwise ``ceil(d / chunk) == chunks()`` (the chunk size sets the auditor's
  :class:`~zkfl_dapp.core.layout.CommitmentLayout`); every file it publishes (the Lagrange points where it has
  them, each circuit's settings, verifying key, SRS and verifier source, the standardisation statistics)
  resolves and matches its SHA-256, and the statistics file parses
  (:class:`~zkfl_dapp.ml.statistics.PublishedStatistics`); a consortium on its own schema publishes a model and a
  schema that fit the commitments' size and the statistics
  (:func:`~zkfl_dapp.protocol.standardization.manifest_definition`).
* ``basis``: the manifest's basis digest equals ``RoundManager.kzgBasisDigest()`` and the digest of the
  :class:`~zkfl_dapp.circuits.kzg.KzgBasis` loaded from the fetched SRS, vk and settings (whose logrows and
  unusable rows are the manifest's); ``K`` in the manifest equals ``RoundManager.zeroCommitment()`` and
  :func:`~zkfl_dapp.circuits.kzg.zero_commitment` of that basis.
* ``lagrange`` (one-vector deployments): the published ``L_j`` (one per committed row) are points, and
  ``K + sum_j S_j L_j`` (one multi-scalar multiplication, what the web UI computes) equals ``kzg.commit(S)``
  for the genesis model, the current global model (where a round made one) and a random vector that fills
  every row (pad rows too). A chunked deployment publishes no Lagrange file (by design: its model files are
  opened with ezkl, one commitment per chunk, and the web UI does not check them): not applicable, with a
  note in the report.
* ``genesis model``: the file under ``genesisModelCid()`` parses with the consortium's shape and layout and
  opens ``genesisModelCommitment()`` (one point per chunk, in chunk order).
* ``verifier``: the norm verifier (and the median verifier, where there is one) has code, and the
  RoundManager points at the contracts audited.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from py_ecc.optimized_bn128 import FQ, add, curve_order, multiply, normalize

from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.events import _args, _logs, _same_address
from zkfl_dapp.audit.report import AuditReport
from zkfl_dapp.chain.views import as_commitment, commitment_hex, read_current_model
from zkfl_dapp.circuits.kzg import G1Point, KzgBasis, KzgError, commit, zero_commitment
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.exceptions import (
    ChainError,
    DigestMismatchError,
    ModelFileError,
    StatisticsError,
    StorageError,
    ZkflError,
)
from zkfl_dapp.ml.statistics import PublishedStatistics
from zkfl_dapp.protocol.hospital import opens
from zkfl_dapp.protocol.publication import CircuitManifest, PublishedCircuit, PublishedFile, fetch_published
from zkfl_dapp.protocol.standardization import manifest_definition


def _point_text(p: G1Point | tuple[int, int]) -> str:
    x, y = (p.x, p.y) if isinstance(p, G1Point) else p
    return f"({x:#x}, {y:#x})"


def lagrange_msm(zero: G1Point, lagrange: Sequence[G1Point], values: Sequence[int]) -> G1Point:
    """``K + sum_j v_j L_j`` (``v_j`` signed, taken mod r): a vector's commitment from the published points.

    Raises:
        KzgError: more values than points, or the sum is the point at infinity.
    """
    if len(values) > len(lagrange):
        raise KzgError(f"{len(values)} values but only {len(lagrange)} Lagrange points")
    acc = (FQ(zero.x), FQ(zero.y), FQ(1))
    for point, v in zip(lagrange, values, strict=False):
        scalar = int(v) % curve_order
        if scalar:
            acc = add(acc, multiply((FQ(point.x), FQ(point.y), FQ(1)), scalar))
    if acc[2] == FQ(0):
        raise KzgError("the combination is the point at infinity")
    x, y = normalize(acc)
    return G1Point(int(x), int(y))


class DeploymentChecks(AuditContext):
    """Checks of the deployment as a whole; fetches the circuit files and loads the basis the rounds use."""

    def deployment(self, report: AuditReport, head: int) -> None:
        report.chunks = self.chunks
        report.challenge_window = int(self.rm.challengeWindow())
        lagrange_path = self._manifest_checks(report, head)
        self._basis_checks(report)
        genesis = self._genesis_checks(report)
        self._lagrange_checks(report, lagrange_path, genesis)
        self._verifier_checks(report)

    # --- circuit manifest -------------------------------------------------------------------------

    def _manifest_checks(self, report: AuditReport, head: int) -> Path | None:
        """The manifest and its files; returns the fetched Lagrange file (None where it did not check out)."""
        check = "circuit manifest"
        report.deployment_checks[check] = True
        published = [str(_args(log)["circuitCid"]) for log in _logs(self.rm.CircuitPublished, head)]
        if published != [report.circuit_cid]:
            expected = f"one event naming circuitCid() {report.circuit_cid}"
            self._deployment_fail(report, check, "CircuitPublished event", expected, f"{published}")
        try:
            manifest = CircuitManifest.parse(self.storage.get(report.circuit_cid))
        except (StorageError, ModelFileError) as exc:
            expected = f"a circuit manifest under {report.circuit_cid}"
            self._deployment_fail(report, check, "circuit manifest", expected, describe_error(exc))
            return None
        self.manifest = manifest
        report.circuit = manifest.model_dump(mode="json")
        shape = (manifest.slots, manifest.model_size, manifest.pad_rows, manifest.scale_bits)
        on_chain = (self.slots, self.model_size, self.pad_rows, self.scale_bits)
        if shape != on_chain:
            expected = f"slots, model size, pad rows, scale bits {on_chain} (RoundManager)"
            self._deployment_fail(report, check, "circuit manifest / shape", expected, f"{shape}")
        self._layout_checks(report, manifest)
        if manifest.norm.logrows != manifest.basis.logrows:
            expected = f"the basis's logrows {manifest.basis.logrows}"
            self._deployment_fail(
                report, check, "circuit manifest / norm logrows", expected, str(manifest.norm.logrows)
            )
        lagrange = None
        if manifest.basis.lagrange is not None:
            dest = self.workdir / "lagrange.json"
            lagrange = self._fetch_artifact(report, "lagrange", manifest.basis.lagrange, dest)
        elif not self.chunked:
            expected = "a Lagrange file (a one-vector deployment: the web UI opens model files with it)"
            self._deployment_fail(report, check, "circuit manifest / lagrange", expected, "none in the manifest")
        verifier_file = "KzgChunkNormVerifier.sol" if self.chunked else "KzgNormVerifier.sol"
        self.artifacts = self._fetch_circuit(report, "", manifest.norm, verifier_file)
        if manifest.median is not None:
            self.median_artifacts = self._fetch_circuit(report, "median ", manifest.median, "KzgMedianVerifier.sol")
        if manifest.statistics is not None:
            self._statistics_check(report, manifest.statistics)
        try:  # a consortium on its own schema: its model and schema fit each other and the deployment
            manifest_definition(manifest, self.storage)
        except ZkflError as exc:
            expected = "a model and schema that fit the commitments and the statistics"
            self._deployment_fail(report, check, "circuit manifest / model and schema", expected, describe_error(exc))
        return lagrange

    def _layout_checks(self, report: AuditReport, manifest: CircuitManifest) -> None:
        """The manifest's ``chunk`` against ``RoundManager.chunks()``; sets the auditor's layout."""
        check = "circuit manifest"
        if not self.chunked:
            if manifest.chunk != 0:
                expected = "chunk 0: one committed vector (RoundManager.chunks() = 1)"
                self._deployment_fail(report, check, "circuit manifest / chunk", expected, f"chunk {manifest.chunk}")
            return
        try:
            layout = CommitmentLayout(self.model_size, manifest.chunk, self.pad_rows)
        except ModelFileError:
            layout = None
        if layout is None or layout.chunks != self.chunks:
            expected = (
                f"chunks of c rows with ceil(d / c) = {self.chunks} (RoundManager.chunks(), d = {self.model_size})"
            )
            found = f"chunk {manifest.chunk}" + (f": {layout.chunks} chunks" if layout is not None else "")
            self._deployment_fail(report, check, "circuit manifest / chunk", expected, found)
            return
        self.layout = layout

    def _statistics_check(self, report: AuditReport, item: PublishedFile) -> None:
        """The published standardisation statistics resolve, match their SHA-256 and parse."""
        path = self._fetch_artifact(report, "statistics", item, self.workdir / "statistics.json")
        if path is None:
            return
        try:
            PublishedStatistics.parse(path.read_bytes(), where=f"statistics file {item.cid}")
        except StatisticsError as exc:
            expected = "a zkfl-stats/v1 statistics file"
            self._deployment_fail(report, "circuit manifest", "circuit manifest / statistics", expected, str(exc))

    def _fetch_circuit(
        self, report: AuditReport, prefix: str, entry: PublishedCircuit, verifier_file: str
    ) -> dict[str, Path] | None:
        """Fetch one circuit's settings, vk, SRS and verifier source, each checked against its SHA-256."""
        fetched: dict[str, Path] = {}
        folder = self.workdir / (prefix.strip() or "norm")
        for name, item, filename in (
            ("settings", entry.settings, "settings.json"),
            ("vk", entry.vk, "vk.key"),
            ("srs", entry.srs, f"kzg{entry.logrows}.srs"),
            ("verifier_sol", entry.verifier_sol, verifier_file),
        ):
            path = self._fetch_artifact(report, f"{prefix}{name}", item, folder / filename)
            if path is not None:
                fetched[name] = path
        return fetched if len(fetched) == 4 else None

    def _fetch_artifact(self, report: AuditReport, name: str, item: PublishedFile, dest: Path) -> Path | None:
        try:
            return fetch_published(self.storage, item, dest)
        except (StorageError, DigestMismatchError) as exc:
            expected = f"{item.cid} with SHA-256 {item.sha256}"
            self._deployment_fail(
                report, "circuit manifest", f"circuit manifest / {name}", expected, describe_error(exc)
            )
            return None

    # --- the KZG basis ----------------------------------------------------------------------------

    def _basis_checks(self, report: AuditReport) -> None:
        check = "basis"
        report.deployment_checks[check] = True
        on_chain = bytes(self.rm.kzgBasisDigest()).hex()
        manifest = self.manifest
        if manifest is None:
            self._deployment_fail(report, check, "basis", "the basis in the circuit manifest", "no manifest")
            return
        published = manifest.basis
        if published.digest != on_chain:
            self._deployment_fail(
                report,
                check,
                "basis digest",
                f"{on_chain} (RoundManager.kzgBasisDigest())",
                f"{published.digest} (manifest)",
            )
        try:
            k_manifest: G1Point | None = G1Point(
                int(published.zero_commitment[0], 16), int(published.zero_commitment[1], 16)
            )
        except (ValueError, KzgError) as exc:
            k_manifest = None
            self._deployment_fail(report, check, "zero commitment K", "a BN254 point (manifest)", str(exc))
        if k_manifest is not None and k_manifest != self.zero:
            expected = f"{_point_text(self.zero)} (RoundManager.zeroCommitment())"
            self._deployment_fail(report, check, "zero commitment K", expected, f"{_point_text(k_manifest)} (manifest)")
        if self.artifacts is None:
            self._deployment_fail(
                report,
                check,
                "basis (recomputed)",
                "the basis recomputed from the published SRS, vk and settings",
                "not possible: the norm circuit's files did not check out (see the circuit manifest findings)",
            )
            return
        a = self.artifacts
        try:
            basis = KzgBasis.load(a["srs"], a["vk"], a["settings"])
            recomputed_k = zero_commitment(basis)
        except (KzgError, ValueError, KeyError, OSError) as exc:
            self._deployment_fail(report, check, "basis (recomputed)", "a KZG basis from the published files", str(exc))
            return
        digest = basis.digest()
        if digest != published.digest or digest != on_chain:
            expected = f"{published.digest} (manifest), {on_chain} (RoundManager)"
            self._deployment_fail(
                report, check, "basis digest (recomputed)", expected, f"{digest} (from the published files)"
            )
        layout = (basis.logrows, basis.unusable_rows)
        if layout != (published.logrows, published.unusable_rows):
            expected = f"logrows, unusable rows {(published.logrows, published.unusable_rows)} (manifest)"
            self._deployment_fail(report, check, "basis rows", expected, f"{layout} (from the published files)")
        if recomputed_k != self.zero:
            expected = f"{_point_text(self.zero)} (RoundManager.zeroCommitment())"
            self._deployment_fail(report, check, "zero commitment K (recomputed)", expected, _point_text(recomputed_k))
        if self.layout is not None and self.rows > basis.usable_rows:
            expected = f"at most {basis.usable_rows} rows per committed vector"
            what = "chunk + pad rows" if self.chunked else "model + pad rows"
            self._deployment_fail(report, check, "basis rows", expected, f"{self.rows} ({what})")
        self.basis = basis

    # --- genesis model and Lagrange points ----------------------------------------------------------

    def _genesis_checks(self, report: AuditReport) -> ModelFile | None:
        check = "genesis model"
        report.deployment_checks[check] = True
        cid = str(self.rm.genesisModelCid())
        commitment = as_commitment(self.rm.genesisModelCommitment())
        if len(commitment) != self.chunks:
            expected = f"{self.chunks} points (RoundManager.chunks())"
            self._deployment_fail(report, check, "genesisModelCommitment()", expected, f"{len(commitment)} points")
        try:
            model = ModelFile.parse(
                self.storage.get(cid),
                expected_size=self.model_size,
                pad_rows=self.pad_rows,
                scale_bits=self.scale_bits,
                chunk=self._expected_chunk(),
            )
        except (StorageError, ModelFileError) as exc:
            self._deployment_fail(report, check, "genesis model file", f"a model file under {cid}", describe_error(exc))
            return None
        if self.basis is None or self.layout is None:
            missing = "no verified basis" if self.basis is None else "no verified chunk layout"
            self._deployment_fail(
                report, check, "genesis model file", "opens genesisModelCommitment()", f"not checkable: {missing}"
            )
        elif not opens(model.values, commitment, self.basis, self.layout):
            expected = f"content opening genesisModelCommitment() {commitment_hex(commitment)[:130]}"
            if self.chunked:
                expected += f"… ({len(commitment)} chunk points, one ezkl commitment per chunk)"
            self._deployment_fail(report, check, "genesis model file", expected, "values that do not open it")
        return model

    def _expected_chunk(self) -> int | None:
        """The ``chunk`` a model file must declare: 0 for one vector, the layout's chunk (None: unknown)."""
        if not self.chunked:
            return 0
        return self.layout.chunk if self.layout is not None else None

    def _lagrange_checks(self, report: AuditReport, path: Path | None, genesis: ModelFile | None) -> None:
        check = "lagrange"
        report.deployment_checks[check] = True
        if self.chunked:
            report.deployment_checks[check] = None
            report.notes.append(
                f"lagrange: not applicable: the model is committed in {self.chunks} chunks and the circuit manifest "
                "has no Lagrange file, by design (its points would take one ezkl commitment per row to publish); "
                "the auditor opens every model file with ezkl, one commitment per chunk, and the web UI does not "
                "check model files against their commitment (it says so)"
            )
            return
        if path is None:
            self._deployment_fail(
                report,
                check,
                "Lagrange points",
                "the published Lagrange file",
                "not fetched (see the circuit manifest findings)",
            )
            return
        try:
            raw = json.loads(path.read_bytes())
            points = [G1Point(int(x, 16), int(y, 16)) for x, y in raw]
        except (ValueError, TypeError, KzgError) as exc:
            self._deployment_fail(report, check, "Lagrange points", "a JSON list of [x, y] hex points", str(exc))
            return
        if len(points) != self.rows:
            self._deployment_fail(
                report, check, "Lagrange points", f"{self.rows} points (model + pad rows)", f"{len(points)} points"
            )
            return
        if self.basis is None:
            self._deployment_fail(
                report, check, "Lagrange points", "a spot check against kzg.commit", "not possible: no verified basis"
            )
            return
        rng = random.Random(0x6C61)  # fixed: the audit is reproducible
        spots: list[tuple[str, Sequence[int]]] = [
            ("a random vector over every row", [rng.randrange(-(2**40), 2**40) for _ in range(self.rows)])
        ]
        if genesis is not None:
            spots.insert(0, ("the genesis model", genesis.values))
        current = self._current_model_values()
        if current is not None:
            spots.insert(1, ("the current model", current))
        for what, values in spots:
            try:
                (expected,) = commit(values, self.basis)
                actual = lagrange_msm(self.zero, points, values)
            except (KzgError, ValueError) as exc:
                self._deployment_fail(report, check, f"Lagrange points / {what}", "K + sum_j S_j L_j", str(exc))
                continue
            if actual != expected:
                self._deployment_fail(
                    report,
                    check,
                    f"Lagrange points / {what}",
                    f"K + sum_j S_j L_j == kzg.commit(S) {_point_text(expected)}",
                    _point_text(actual),
                )

    def _current_model_values(self) -> tuple[int, ...] | None:
        """The current global model's values when it is not the genesis model and its file parses (a missing or
        wrong file is the round checks' finding; the spot check compares two computations over the same values)."""
        try:
            _, cid, model_round = read_current_model(self.rm)
            if model_round == 0:
                return None
            return ModelFile.parse(self.storage.get(cid), expected_size=self.model_size, pad_rows=self.pad_rows).values
        except (ChainError, StorageError, ModelFileError):
            return None

    # --- verifier contracts -------------------------------------------------------------------------

    def _verifier_checks(self, report: AuditReport) -> None:
        check = "verifier"
        report.deployment_checks[check] = True
        contracts = [
            ("normVerifier", self.verifier, self.rm.normVerifier()),
            ("registry", self.registry, self.rm.registry()),
        ]
        if self.median_verifier is not None:
            contracts.append(("medianVerifier", self.median_verifier, self.rm.medianVerifier()))
        for name, contract, pointer in contracts:
            if not _same_address(contract.address, pointer):
                expected = f"{pointer} (RoundManager.{name}())"
                self._deployment_fail(report, check, f"{name} address", expected, str(contract.address))
            if name != "registry" and not self.chain.provider.get_code(contract.address):
                self._deployment_fail(report, check, f"{name} code", f"contract code at {contract.address}", "no code")
        manifest = self.manifest
        if manifest is not None and (self.median_verifier is None) != (manifest.median is None):
            expected = "a median circuit in the manifest exactly when the RoundManager has a median verifier"
            actual = (
                f"manifest median: {manifest.median is not None}, medianVerifier: {self.median_verifier is not None}"
            )
            self._deployment_fail(report, check, "median verifier", expected, actual)
