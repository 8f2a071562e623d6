"""Deployment-level checks: the circuit manifest resolves, its artifacts match their SHA-256, its shape
matches the RoundManager's, and the verifier has code."""

from __future__ import annotations

from pathlib import Path

from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.events import _args, _logs, _same_address
from zkfl_dapp.audit.report import AuditReport, Finding
from zkfl_dapp.exceptions import (
    DigestMismatchError,
    ModelFileError,
    StorageError,
)
from zkfl_dapp.protocol.publication import CircuitManifest, PublishedCircuit, PublishedFile, fetch_published


class DeploymentChecks(AuditContext):
    """Checks of the deployment as a whole; fetches the circuit artifacts the round checks use."""

    def deployment(self, report: AuditReport, head: int) -> None:
        findings = report.deployment_findings
        published = [str(_args(log)["circuitCid"]) for log in _logs(self.rm.CircuitPublished, head)]
        manifest_ok = True
        if published != [report.circuit_cid]:
            manifest_ok = False
            findings.append(
                Finding(
                    round_id=None,
                    check="circuit manifest",
                    item="CircuitPublished event",
                    expected=f"one event naming circuitCid() {report.circuit_cid}",
                    actual=f"{published}",
                )
            )
        manifest = self._manifest(report, findings)
        if manifest is None:
            manifest_ok = False
        else:
            report.circuit = manifest.model_dump(mode="json")
            shape = (manifest.slots, manifest.model_size, manifest.scale_bits)
            on_chain = (self.slots, self.model_size, self.scale_bits)
            if shape != on_chain:
                manifest_ok = False
                findings.append(
                    Finding(
                        round_id=None,
                        check="circuit manifest",
                        item="circuit manifest / shape",
                        expected=f"slots, model size, scale bits {on_chain} (RoundManager)",
                        actual=f"{shape}",
                    )
                )
            self.artifacts = self._fetch_circuit("", manifest, "AggregationVerifier.sol", findings)
            manifest_ok = manifest_ok and self.artifacts is not None
            if manifest.median is not None:
                self.median_artifacts = self._fetch_circuit("median ", manifest.median, "MedianVerifier.sol", findings)
                manifest_ok = manifest_ok and self.median_artifacts is not None
        report.deployment_checks["circuit manifest"] = manifest_ok

        verifier_ok = True
        code = self.chain.provider.get_code(self.verifier.address)
        if not code:
            verifier_ok = False
            findings.append(
                Finding(
                    round_id=None,
                    check="verifier",
                    item="verifier contract code",
                    expected=f"contract code at {self.verifier.address}",
                    actual="no code",
                )
            )
        for name, contract, pointer in (
            ("fedAvgVerifier", self.verifier, self.rm.fedAvgVerifier()),
            ("registry", self.registry, self.rm.registry()),
        ):
            if not _same_address(contract.address, pointer):
                verifier_ok = False
                findings.append(
                    Finding(
                        round_id=None,
                        check="verifier",
                        item=f"{name} address",
                        expected=f"{pointer} (RoundManager.{name}())",
                        actual=str(contract.address),
                    )
                )
        report.deployment_checks["verifier"] = verifier_ok

    def _manifest(self, report: AuditReport, findings: list[Finding]) -> CircuitManifest | None:
        try:
            return CircuitManifest.parse(self.storage.get(report.circuit_cid))
        except (StorageError, ModelFileError) as exc:
            findings.append(
                Finding(
                    round_id=None,
                    check="circuit manifest",
                    item="circuit manifest",
                    expected=f"a circuit manifest under {report.circuit_cid}",
                    actual=describe_error(exc),
                )
            )
            return None

    def _fetch_circuit(
        self, prefix: str, entry: CircuitManifest | PublishedCircuit, verifier_file: str, findings: list[Finding]
    ) -> dict[str, Path] | None:
        """Fetch one circuit's settings, vk, SRS and verifier source, each checked against its SHA-256."""
        fetched: dict[str, Path] = {}
        folder = self.workdir / ((prefix.strip() or "circuit").replace(" ", "-"))
        for name, item, filename in (
            ("settings", entry.settings, "settings.json"),
            ("vk", entry.vk, "vk.key"),
            ("srs", entry.srs, f"kzg{entry.logrows}.srs"),
            ("verifier_sol", entry.verifier_sol, verifier_file),
        ):
            path = self._fetch_artifact(f"{prefix}{name}", item, folder / filename, findings)
            if path is not None:
                fetched[name] = path
        return fetched if len(fetched) == 4 else None

    def _fetch_artifact(self, name: str, item: PublishedFile, dest: Path, findings: list[Finding]) -> Path | None:
        try:
            return fetch_published(self.storage, item, dest)
        except (StorageError, DigestMismatchError) as exc:
            findings.append(
                Finding(
                    round_id=None,
                    check="circuit manifest",
                    item=f"circuit manifest / {name}",
                    expected=f"{item.cid} with SHA-256 {item.sha256}",
                    actual=describe_error(exc),
                )
            )
            return None
