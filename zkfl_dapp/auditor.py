"""Independent audit of a deployment, from the chain and the content store alone.

The auditor walks a RoundManager's and its registry's events from the first block and re-checks every
round with nothing but what the system itself published: the proof file under the CID in
``RoundFinalized``, the circuit's settings, verifying key and SRS through the manifest CID recorded at
deployment (``CircuitPublished``), the finalization transaction's calldata, and the models and
ciphertexts under the CIDs on-chain. No file from the aggregator's disk is needed.

Checks per finalized round (the table's columns):

* ``proof (off-chain)``: the proof file resolves, parses, and ``ezkl.verify`` accepts it with the
  published settings, verifying key and SRS;
* ``proof (on-chain)``: the proof's keccak equals ``proofHash``, the proof and instances equal those in
  the finalization transaction's calldata, and the verifier contract's ``verifyProof`` returns true;
* ``instances``: the slot hashes equal the on-chain submission commitments (the empty-slot commitment
  for empty or excluded slots), the public weights equal :func:`normalized_weights` of the on-chain
  sample counts, the instance count fits the circuit;
* ``model``: the new model file resolves, parses, its values equal the proven ones and its commitment
  equals ``newModelCommitment`` (which must equal keccak over the model instances);
* ``CIDs``: every submission's ciphertext resolves (a missing ciphertext of an excluded update is only
  a warning: the enclave said so publicly);
* ``lineage``: the round starts from the previous finalized round's model (the genesis model for the
  first), aborted rounds leave it unchanged, and the contract's current model is the last one.

Deployment-level checks: the circuit manifest resolves, its artifacts match their SHA-256, its shape
matches the RoundManager's, and the verifier has code.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import ezkl
from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field

from zkfl_dapp.aggregation import normalized_weights
from zkfl_dapp.chain import Phase, Role
from zkfl_dapp.circuits import AggregationProof, load_proof
from zkfl_dapp.exceptions import (
    ChainError,
    CidMismatchError,
    CidNotFoundError,
    CircuitError,
    CommitmentMismatchError,
    ModelFileError,
    QuantizationError,
    RoundError,
    StorageError,
)
from zkfl_dapp.formats import ModelFile
from zkfl_dapp.publication import CircuitManifest, PublishedCircuit, PublishedFile, fetch_published
from zkfl_dapp.quantization import from_field, model_commitment
from zkfl_dapp.storage import Storage

Progress = Callable[[str], None]

#: The per-round checks, in table order.
CHECKS: tuple[str, ...] = ("proof (off-chain)", "proof (on-chain)", "instances", "model", "CIDs", "lineage")
#: Deployment-level checks.
DEPLOYMENT_CHECKS: tuple[str, ...] = ("circuit manifest", "verifier")


def _quiet(_: str) -> None:
    return None


def _hex(value: int) -> str:
    return f"0x{value:064x}"


class Finding(BaseModel):
    """One discrepancy: where, what, what was expected and what was found."""

    model_config = ConfigDict(frozen=True)

    round_id: int | None  # None for the deployment itself
    check: str  # the table column it fails (one of CHECKS or DEPLOYMENT_CHECKS)
    item: str  # what exactly, e.g. "instances[3]", "submission 2 ciphertext", "circuit manifest / vk"
    expected: str
    actual: str
    severity: Literal["error", "warning"] = "error"

    def line(self) -> str:
        where = f"round {self.round_id}" if self.round_id is not None else "deployment"
        tag = "" if self.severity == "error" else " (warning)"
        return f"{where}: {self.item}{tag}: expected {self.expected}; found {self.actual}"


class MembershipEvent(BaseModel):
    """One registry event, in chain order."""

    model_config = ConfigDict(frozen=True)

    block: int
    action: Literal["admitted", "removed", "enclave key"]
    account: str
    role: str
    name: str = ""
    detail: str = ""


class SubmissionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    slot: int
    hospital: str
    commitment: str
    cid: str
    sample_count: int
    excluded: bool = False


class RoundAudit(BaseModel):
    """The audit of one round: what the chain says, and the verdict of every check."""

    round_id: int
    phase: Literal["open", "finalized", "aborted"]
    opened_block: int
    closed_block: int | None = None
    finalize_tx: str | None = None
    prev_model_commitment: str
    prev_model_cid: str
    new_model_commitment: str | None = None
    new_model_cid: str | None = None
    proof_cid: str | None = None
    proof_hash: str | None = None
    included_count: int = 0
    total_samples: int = 0
    submissions: list[SubmissionRecord] = Field(default_factory=list)
    checks: dict[str, bool | None] = Field(default_factory=dict)  # None: not applicable
    findings: list[Finding] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


class AuditReport(BaseModel):
    """Everything the audit found, JSON- and Markdown-serializable."""

    format: Literal["zkfl-audit/v1"] = "zkfl-audit/v1"
    chain_id: int
    head_block: int
    round_manager: str
    registry: str
    verifier: str
    circuit_cid: str
    circuit: dict[str, Any] = Field(default_factory=dict)
    membership: list[MembershipEvent] = Field(default_factory=list)
    rounds: list[RoundAudit] = Field(default_factory=list)
    deployment_checks: dict[str, bool] = Field(default_factory=dict)
    deployment_findings: list[Finding] = Field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [*self.deployment_findings, *(f for r in self.rounds for f in r.findings)]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def passed(self) -> bool:
        return not self.errors

    def round(self, round_id: int) -> RoundAudit:
        for r in self.rounds:
            if r.round_id == round_id:
                return r
        raise KeyError(round_id)

    def to_json(self) -> str:
        return json.dumps({**self.model_dump(mode="json"), "passed": self.passed}, indent=2)

    def table(self) -> list[list[str]]:
        """Header plus one row per round: round, phase, included, then ✓/✗/– per check."""
        mark = {True: "✓", False: "✗", None: "–"}
        rows = [["round", "phase", "included", *CHECKS]]
        for r in self.rounds:
            included = str(r.included_count) if r.phase == "finalized" else "–"
            rows.append([str(r.round_id), r.phase, included, *(mark[r.checks.get(c)] for c in CHECKS)])
        return rows

    def to_markdown(self) -> str:
        verdict = "PASSED" if self.passed else f"FAILED ({len(self.errors)} discrepancies)"
        out = [
            "# zkFL audit report",
            "",
            f"- verdict: **{verdict}**",
            f"- chain id {self.chain_id}, audited up to block {self.head_block}",
            f"- RoundManager `{self.round_manager}`, registry `{self.registry}`, verifier `{self.verifier}`",
            f"- circuit manifest `{self.circuit_cid}`"
            + (f" ({self.circuit.get('circuit')}, ezkl {self.circuit.get('ezkl_version')})" if self.circuit else ""),
            "",
            "## Deployment",
            "",
            *(f"- {name}: {'✓' if ok else '✗'}" for name, ok in self.deployment_checks.items()),
            "",
            "## Rounds",
            "",
        ]
        rows = self.table()
        out.append("| " + " | ".join(rows[0]) + " |")
        out.append("|" + "---|" * len(rows[0]))
        out += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        for r in self.rounds:
            out += ["", f"### Round {r.round_id} ({r.phase})", ""]
            out.append(f"- starts from model `{r.prev_model_cid}` (commitment `{r.prev_model_commitment}`)")
            if r.phase == "finalized":
                out.append(f"- new model `{r.new_model_cid}` (commitment `{r.new_model_commitment}`)")
                out.append(f"- proof `{r.proof_cid}` (keccak `{r.proof_hash}`), finalized in `{r.finalize_tx}`")
                out.append(f"- {r.included_count} included updates, {r.total_samples} samples")
            for s in r.submissions:
                tag = " **excluded**" if s.excluded else ""
                out.append(f"- slot {s.slot}: `{s.hospital}`, {s.sample_count} samples, `{s.cid}`{tag}")
        out += ["", "## Findings", ""]
        out += [f"- {f.line()}" for f in self.findings] or ["none"]
        out += ["", "## Membership", "", "| block | event | account | role | name |", "|---|---|---|---|---|"]
        out += [
            f"| {m.block} | {m.action} | `{m.account}` | {m.role} | {m.name or m.detail} |" for m in self.membership
        ]
        return "\n".join(out) + "\n"


# --- chain access --------------------------------------------------------------------------------


def _logs(event: Any, head: int) -> list[Any]:
    return sorted(event.range(0, head + 1), key=lambda log: (int(log.block_number), int(log.log_index)))


def _args(log: Any) -> dict[str, Any]:
    return dict(log.event_arguments)


def _same_address(a: Any, b: Any) -> bool:
    return str(a).lower() == str(b).lower()


def _role_name(value: Any) -> str:
    try:
        return Role(int(value)).name.lower()
    except (ValueError, TypeError):
        return str(value)


def membership_history(registry: Any, head: int) -> list[MembershipEvent]:
    """Registry events (admissions, removals, enclave keys) in chain order."""
    events: list[tuple[int, int, MembershipEvent]] = []
    for log in _logs(registry.MemberAdmitted, head):
        a = _args(log)
        ev = MembershipEvent(
            block=int(log.block_number),
            action="admitted",
            account=str(a["account"]),
            role=_role_name(a["role"]),
            name=str(a["name"]),
        )
        events.append((int(log.block_number), int(log.log_index), ev))
    for log in _logs(registry.MemberRemoved, head):
        a = _args(log)
        ev = MembershipEvent(
            block=int(log.block_number), action="removed", account=str(a["account"]), role=_role_name(a["role"])
        )
        events.append((int(log.block_number), int(log.log_index), ev))
    for log in _logs(registry.EnclaveKeyRegistered, head):
        a = _args(log)
        ev = MembershipEvent(
            block=int(log.block_number),
            action="enclave key",
            account=str(a["aggregator"]),
            role="aggregator",
            detail=str(a["keyCid"]),
        )
        events.append((int(log.block_number), int(log.log_index), ev))
    return [e for _, _, e in sorted(events, key=lambda t: (t[0], t[1]))]


# --- the audit -----------------------------------------------------------------------------------


class _Auditor:
    def __init__(
        self,
        chain: Any,
        round_manager: Any,
        registry: Any,
        verifier: Any,
        storage: Storage,
        workdir: Path,
        progress: Progress,
    ) -> None:
        self.chain = chain
        self.rm = round_manager
        self.registry = registry
        self.verifier = verifier
        self.storage = storage
        self.workdir = workdir
        self.progress = progress
        self.slots = int(round_manager.slots())
        self.model_size = int(round_manager.modelSize())
        self.scale_bits = int(round_manager.scaleBits())
        self.empty_slot = int(round_manager.emptySlotCommitment())
        self.artifacts: dict[str, Path] | None = None  # settings, vk, srs fetched from the manifest
        self.median_artifacts: dict[str, Path] | None = None  # the same for the median circuit
        self.median_verifier: Any = None  # the median rule's verifier contract, where the deployment has one

    # deployment ---------------------------------------------------------------------------------

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
                    actual=_describe(exc),
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
        except (StorageError, CommitmentMismatchError) as exc:
            findings.append(
                Finding(
                    round_id=None,
                    check="circuit manifest",
                    item=f"circuit manifest / {name}",
                    expected=f"{item.cid} with SHA-256 {item.sha256}",
                    actual=_describe(exc),
                )
            )
            return None

    # rounds -------------------------------------------------------------------------------------

    def rounds(self, report: AuditReport, head: int) -> None:
        opened = {int(_args(log)["roundId"]): log for log in _logs(self.rm.RoundOpened, head)}
        finalized = {int(_args(log)["roundId"]): log for log in _logs(self.rm.RoundFinalized, head)}
        aborted = {int(_args(log)["roundId"]): log for log in _logs(self.rm.RoundAborted, head)}
        submitted: dict[int, list[Any]] = {}
        for log in _logs(self.rm.UpdateSubmitted, head):
            submitted.setdefault(int(_args(log)["roundId"]), []).append(log)
        excluded: dict[int, set[int]] = {}
        for log in _logs(self.rm.UpdateExcluded, head):
            excluded.setdefault(int(_args(log)["roundId"]), set()).add(int(_args(log)["slot"]))

        lineage: tuple[int, str] | None = None  # the current model as the events tell it
        for round_id in sorted(opened):
            self.progress(f"round {round_id}: auditing")
            ra = self._round(
                round_id, opened[round_id], finalized.get(round_id), aborted.get(round_id), submitted, excluded
            )
            if lineage is None:
                self._genesis(ra)
            else:
                self._lineage(ra, lineage)
            if ra.phase == "finalized" and ra.new_model_commitment is not None and ra.new_model_cid is not None:
                lineage = (int(ra.new_model_commitment, 16), ra.new_model_cid)
            elif lineage is None:
                lineage = (int(ra.prev_model_commitment, 16), ra.prev_model_cid)
            report.rounds.append(ra)
            verdict = "ok" if ra.passed else f"{len([f for f in ra.findings if f.severity == 'error'])} discrepancies"
            self.progress(f"round {round_id}: {ra.phase}, {verdict}")
        expected_rounds = list(range(1, int(self.rm.currentRoundId()) + 1))
        if sorted(opened) != expected_rounds:
            report.deployment_findings.append(
                Finding(
                    round_id=None,
                    check="lineage",
                    item="round numbering",
                    expected=f"RoundOpened events for rounds {expected_rounds}",
                    actual=f"{sorted(opened)}",
                )
            )
        if lineage is not None:
            commitment, cid = self.rm.currentModel()
            if (int(commitment), str(cid)) != lineage:
                last = report.rounds[-1]
                last.findings.append(
                    Finding(
                        round_id=last.round_id,
                        check="lineage",
                        item="current model",
                        expected=f"{_hex(lineage[0])} / {lineage[1]} (the last finalized round's)",
                        actual=f"{_hex(int(commitment))} / {cid} (RoundManager.currentModel())",
                    )
                )
                last.checks["lineage"] = False

    def _round(
        self,
        round_id: int,
        opened: Any,
        fin_log: Any | None,
        abort_log: Any | None,
        submitted: dict[int, list[Any]],
        excluded: dict[int, set[int]],
    ) -> RoundAudit:
        o = _args(opened)
        info = self.rm.getRound(round_id)
        phase = Phase(int(info.phase))
        name = {Phase.OPEN: "open", Phase.FINALIZED: "finalized", Phase.ABORTED: "aborted"}.get(phase, "open")
        ex = excluded.get(round_id, set())
        subs = [
            SubmissionRecord(
                slot=int(_args(log)["slot"]),
                hospital=str(_args(log)["hospital"]),
                commitment=_hex(int(_args(log)["commitment"])),
                cid=str(_args(log)["cid"]),
                sample_count=int(_args(log)["sampleCount"]),
                excluded=int(_args(log)["slot"]) in ex,
            )
            for log in submitted.get(round_id, [])
        ]
        ra = RoundAudit(
            round_id=round_id,
            phase=name,
            opened_block=int(opened.block_number),
            prev_model_commitment=_hex(int(o["prevModelCommitment"])),
            prev_model_cid=str(o["prevModelCid"]),
            submissions=subs,
            checks=dict.fromkeys(CHECKS),
        )
        ra.checks["lineage"] = True
        self._event_vs_state(ra, info, subs)
        if phase == Phase.ABORTED and abort_log is not None:
            ra.closed_block = int(abort_log.block_number)
        if phase == Phase.FINALIZED:
            if fin_log is None:
                self._fail(ra, "lineage", "RoundFinalized event", "an event for a finalized round", "none")
                return ra
            f = _args(fin_log)
            ra.closed_block = int(fin_log.block_number)
            ra.finalize_tx = str(fin_log.transaction_hash)
            ra.new_model_commitment = _hex(int(f["newModelCommitment"]))
            ra.new_model_cid = str(f["newModelCid"])
            ra.proof_cid = str(f["proofCid"])
            ra.proof_hash = "0x" + bytes(f["proofHash"]).hex()
            ra.included_count = int(f["includedCount"])
            ra.total_samples = int(f["totalSamples"])
            self._finalized(ra, info)
        return ra

    def _fail(self, ra: RoundAudit, check: str, item: str, expected: str, actual: str) -> None:
        ra.findings.append(Finding(round_id=ra.round_id, check=check, item=item, expected=expected, actual=actual))
        ra.checks[check] = False

    def _event_vs_state(self, ra: RoundAudit, info: Any, subs: Sequence[SubmissionRecord]) -> None:
        """The events and the contract's state tell the same story."""
        if int(info.submissionCount) != len(subs):
            self._fail(
                ra, "CIDs", "submissions", f"{int(info.submissionCount)} (getRound)", f"{len(subs)} UpdateSubmitted"
            )
        for s in subs:
            st = self.rm.getSubmission(ra.round_id, s.slot)
            state = (str(st.hospital).lower(), _hex(int(st.commitment)), str(st.cid), int(st.sampleCount))
            event = (s.hospital.lower(), s.commitment, s.cid, s.sample_count)
            if state != event:
                self._fail(ra, "instances", f"submission {s.slot}", f"{state} (contract state)", f"{event} (event)")

    def _finalized(self, ra: RoundAudit, info: Any) -> None:
        assert ra.new_model_cid is not None and ra.proof_cid is not None and ra.finalize_tx is not None
        state = (
            _hex(int(info.newModelCommitment)),
            str(info.newModelCid),
            "0x" + bytes(info.proofHash).hex(),
            str(info.proofCid),
        )
        event = (ra.new_model_commitment, ra.new_model_cid, ra.proof_hash, ra.proof_cid)
        if state != event:
            self._fail(ra, "lineage", "RoundFinalized event", f"{state} (getRound)", f"{event} (event)")
        for c in CHECKS[:-1]:
            ra.checks[c] = True

        # what the chain accepted: the finalization's calldata
        calldata = self._calldata(ra)
        # what is published: the proof file
        proof, proof_path = self._proof_file(ra)

        instances: tuple[int, ...] | None = None
        if calldata is not None:
            instances = calldata[1]
            if proof is not None:
                if proof.proof != calldata[0]:
                    self._fail(
                        ra,
                        "proof (on-chain)",
                        "proof bytes",
                        "the proof in the finalization calldata",
                        f"different bytes in the proof file {ra.proof_cid}",
                    )
                if proof.instances != instances:
                    bad = [i for i, (a, b) in enumerate(zip(proof.instances, instances, strict=False)) if a != b]
                    self._fail(
                        ra,
                        "instances",
                        "proof file instances",
                        "the instances in the finalization calldata",
                        f"differences at {bad or 'length'}",
                    )
        elif proof is not None:
            instances = proof.instances

        on_chain_proof = calldata[0] if calldata is not None else (proof.proof if proof is not None else None)
        if on_chain_proof is not None:
            digest = "0x" + keccak(on_chain_proof).hex()
            if digest != ra.proof_hash:
                self._fail(ra, "proof (on-chain)", "proof hash", f"{ra.proof_hash} (proofHash)", digest)
        if proof is not None and "0x" + keccak(proof.proof).hex() != ra.proof_hash:
            self._fail(
                ra,
                "proof (on-chain)",
                "proof file hash",
                f"{ra.proof_hash} (proofHash)",
                "0x" + keccak(proof.proof).hex(),
            )

        median = int(info.rule) == 1
        artifacts = self.median_artifacts if median else self.artifacts
        # off-chain verification with the published artifacts (of the round rule's circuit)
        if proof_path is None:
            ra.checks["proof (off-chain)"] = False
        elif artifacts is None:
            self._fail(
                ra,
                "proof (off-chain)",
                "proof (off-chain)",
                "verification with the published settings, vk and SRS",
                "not possible: the circuit manifest's artifacts did not check out (see deployment findings)",
            )
        else:
            ok, why = self._verify_offchain(proof_path, artifacts)
            if not ok:
                self._fail(ra, "proof (off-chain)", "proof (off-chain)", "ezkl.verify accepts the proof", why)

        # on-chain verification: the verifier contract, on what the chain accepted (else on the file)
        if on_chain_proof is None or instances is None:
            ra.checks["proof (on-chain)"] = False
        else:
            verifier = self.median_verifier if median else self.verifier
            ok, why = self._verify_onchain(verifier, on_chain_proof, instances)
            if not ok:
                self._fail(ra, "proof (on-chain)", "verifyProof", "the verifier contract returns true", why)

        # instances bound to the round
        if instances is None:
            ra.checks["instances"] = False
            ra.checks["model"] = False
        else:
            if median:
                self._median_instances(ra, instances)
            else:
                self._instances(ra, instances)
            self._model(ra, instances)
        self._ciphertexts(ra)

    def _calldata(self, ra: RoundAudit) -> tuple[bytes, tuple[int, ...]] | None:
        try:
            receipt = self.chain.provider.get_receipt(ra.finalize_tx)
            tx = receipt.transaction
            _, args = self.rm.decode_input(bytes(tx.data))
            values = list(args.values())
            round_id, proof, instances, model_cid, proof_cid = values[0], values[1], values[2], values[3], values[4]
        except Exception as exc:
            self._fail(
                ra,
                "proof (on-chain)",
                "finalize calldata",
                f"a finalizeRound transaction {ra.finalize_tx}",
                _describe(exc),
            )
            return None
        if not _same_address(tx.receiver, self.rm.address):
            self._fail(ra, "proof (on-chain)", "finalize calldata", f"a call to {self.rm.address}", str(tx.receiver))
        actual = (int(round_id), str(model_cid), str(proof_cid))
        expected = (ra.round_id, ra.new_model_cid, ra.proof_cid)
        if actual != expected:
            self._fail(ra, "proof (on-chain)", "finalize calldata", f"{expected}", f"{actual}")
        return bytes(proof), tuple(int(v) for v in instances)

    def _proof_file(self, ra: RoundAudit) -> tuple[AggregationProof | None, Path | None]:
        assert ra.proof_cid is not None
        try:
            data = self.storage.get(ra.proof_cid)
        except StorageError as exc:
            self._fail(ra, "CIDs", "proof file", f"the proof file under {ra.proof_cid}", _describe(exc))
            ra.checks["proof (off-chain)"] = False
            return None, None
        path = self.workdir / f"round-{ra.round_id}" / "proof.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        try:
            return load_proof(path), path
        except CircuitError as exc:
            self._fail(ra, "proof (off-chain)", "proof file", "an ezkl proof file", str(exc))
            return None, None

    def _verify_offchain(self, proof_path: Path, a: dict[str, Path]) -> tuple[bool, str]:
        try:
            ok = bool(ezkl.verify(str(proof_path), str(a["settings"]), str(a["vk"]), str(a["srs"])))
        except (RuntimeError, ValueError, OSError) as exc:
            return False, f"ezkl.verify failed: {exc}"
        return ok, "ezkl.verify returned false" if not ok else ""

    def _verify_onchain(self, verifier: Any, proof: bytes, instances: Sequence[int]) -> tuple[bool, str]:
        if verifier is None:
            return False, "the round uses the median rule but the deployment has no median verifier"
        try:
            ok = bool(verifier.verifyProof.call(proof, list(instances)))
        except Exception as exc:
            return False, f"verifyProof reverted: {_describe(exc)}"
        return ok, "verifyProof returned false" if not ok else ""

    def _instances(self, ra: RoundAudit, instances: Sequence[int]) -> None:
        s, d = self.slots, self.model_size
        if len(instances) != 2 * s + 1 + d:
            self._fail(ra, "instances", "instance count", str(2 * s + 1 + d), str(len(instances)))
            return
        by_slot = {sub.slot: sub for sub in ra.submissions}
        counts = []
        for i in range(s):
            sub = by_slot.get(i)
            included = sub is not None and not sub.excluded
            counts.append(sub.sample_count if sub is not None and included else 0)
            expected = int(sub.commitment, 16) if sub is not None and included else self.empty_slot
            what = (
                "the commitment of the submission in this slot"
                if sub is not None and included
                else ("the empty-slot commitment (excluded update)" if sub is not None else "the empty-slot commitment")
            )
            if instances[i] != expected:
                self._fail(ra, "instances", f"instances[{i}]", f"{_hex(expected)} ({what})", _hex(instances[i]))
        try:
            weights: tuple[int, ...] = normalized_weights(counts, self.scale_bits)
        except RoundError:
            weights = (0,) * s
        offset = s + 1 + d
        for i, w in enumerate(weights):
            if instances[offset + i] != w:
                self._fail(
                    ra,
                    "instances",
                    f"instances[{offset + i}]",
                    f"weight {w} of slot {i} (from on-chain sample counts {counts})",
                    str(instances[offset + i]),
                )
        self._counts(ra, sum(1 for w in weights if w), sum(counts))

    def _median_instances(self, ra: RoundAudit, instances: Sequence[int]) -> None:
        """A median round's bindings: included slots carry their commitments, the others hash(g), and g is
        the round's previous model."""
        s, d = self.slots, self.model_size
        if len(instances) != s + 1 + 2 * d:
            self._fail(ra, "instances", "instance count", f"{s + 1 + 2 * d} (median circuit)", str(len(instances)))
            return
        by_slot = {sub.slot: sub for sub in ra.submissions}
        included = 0
        samples = 0
        for i in range(s):
            sub = by_slot.get(i)
            if sub is not None and not sub.excluded:
                included += 1
                samples += sub.sample_count
                expected, what = int(sub.commitment, 16), "the commitment of the submission in this slot"
            else:
                expected, what = instances[s], "hash(g): the previous model fills a slot without an update"
            if instances[i] != expected:
                self._fail(ra, "instances", f"instances[{i}]", f"{_hex(expected)} ({what})", _hex(instances[i]))
        prev = model_commitment([from_field(v) for v in instances[s + 1 + d : s + 1 + 2 * d]])
        if _hex(prev) != ra.prev_model_commitment:
            self._fail(ra, "instances", "previous model (g)", f"{ra.prev_model_commitment} (RoundOpened)", _hex(prev))
        self._counts(ra, included, samples)

    def _counts(self, ra: RoundAudit, included: int, samples: int) -> None:
        """The included count and total samples derived from the submissions match RoundFinalized's."""
        if included != ra.included_count or samples != ra.total_samples:
            self._fail(
                ra,
                "instances",
                "included count / samples",
                f"{included} / {samples} (from the submissions)",
                f"{ra.included_count} / {ra.total_samples} (RoundFinalized)",
            )

    def _model(self, ra: RoundAudit, instances: Sequence[int]) -> None:
        assert ra.new_model_cid is not None and ra.new_model_commitment is not None
        s, d = self.slots, self.model_size
        proven = instances[s + 1 : s + 1 + d]
        on_chain = int(ra.new_model_commitment, 16)
        if len(proven) == d and model_commitment(proven) != on_chain:
            self._fail(
                ra,
                "model",
                "model commitment",
                f"{ra.new_model_commitment} (newModelCommitment)",
                f"{_hex(model_commitment(proven))} (keccak over the proven model instances)",
            )
        try:
            model = ModelFile.parse(self.storage.get(ra.new_model_cid), expected_size=d)
        except (StorageError, ModelFileError) as exc:
            self._fail(ra, "model", "model file", f"the global model under {ra.new_model_cid}", _describe(exc))
            return
        if model.commitment() != on_chain:
            self._fail(
                ra,
                "model",
                "model file",
                f"content with commitment {ra.new_model_commitment}",
                f"content with commitment {_hex(model.commitment())}",
            )
        try:
            proven_values = tuple(from_field(v) for v in proven)
        except QuantizationError as exc:
            self._fail(ra, "model", "model instances", "field elements", str(exc))
            return
        if len(proven) == d and model.values != proven_values:
            self._fail(ra, "model", "model file values", "the proven model instances", "different values")
        if model.scale_bits != self.scale_bits:
            self._fail(ra, "model", "model file scale", f"2^{self.scale_bits}", f"2^{model.scale_bits}")

    def _ciphertexts(self, ra: RoundAudit) -> None:
        for sub in ra.submissions:
            try:
                self.storage.get(sub.cid)
            except StorageError as exc:
                finding = Finding(
                    round_id=ra.round_id,
                    check="CIDs",
                    item=f"submission {sub.slot} ciphertext",
                    expected=f"content under {sub.cid}",
                    actual=_describe(exc) + (" (the update was excluded)" if sub.excluded else ""),
                    severity="warning" if sub.excluded else "error",
                )
                ra.findings.append(finding)
                if not sub.excluded:
                    ra.checks["CIDs"] = False

    # lineage ------------------------------------------------------------------------------------

    def _genesis(self, ra: RoundAudit) -> None:
        """The first round starts from the genesis model: it must resolve and match its commitment."""
        self._check_model_file(ra, ra.prev_model_cid, int(ra.prev_model_commitment, 16), "genesis model file")

    def _check_model_file(self, ra: RoundAudit, cid: str, commitment: int, item: str) -> None:
        try:
            model = ModelFile.parse(self.storage.get(cid), expected_size=self.model_size)
        except (StorageError, ModelFileError) as exc:
            self._fail(ra, "lineage", item, f"a model file under {cid}", _describe(exc))
            return
        if model.commitment() != commitment:
            actual = f"content with commitment {_hex(model.commitment())}"
            self._fail(ra, "lineage", item, f"commitment {_hex(commitment)}", actual)

    def _lineage(self, ra: RoundAudit, current: tuple[int, str]) -> None:
        start = (int(ra.prev_model_commitment, 16), ra.prev_model_cid)
        if start != current:
            self._fail(
                ra,
                "lineage",
                "lineage",
                f"starts from {_hex(current[0])} / {current[1]} (the previous finalized round's model)",
                f"{ra.prev_model_commitment} / {ra.prev_model_cid}",
            )


def _describe(exc: BaseException) -> str:
    kind = {
        CidNotFoundError: "does not resolve",
        CidMismatchError: "content does not match its CID",
        CommitmentMismatchError: "content does not match the manifest's SHA-256",
    }
    for cls, text in kind.items():
        if isinstance(exc, cls):
            return f"{text} ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"


def audit(
    round_manager: Any,
    storage: Storage,
    *,
    registry: Any = None,
    verifier: Any = None,
    chain: Any = None,
    project: Any = None,
    workdir: Path | None = None,
    progress: Progress = _quiet,
) -> AuditReport:
    """Audit the deployment behind ``round_manager`` from its first block to the head.

    ``registry`` and ``verifier`` default to the contracts the RoundManager points at (``project``
    defaults to ``ape.project``, ``chain`` to ``ape.chain``). Artifacts fetched from the store are
    written under ``workdir`` (a temporary directory when None). Never raises for a discrepancy:
    every one is a :class:`Finding` in the report.
    """
    import ape

    chain = chain if chain is not None else ape.chain
    project = project if project is not None else ape.project
    registry = registry if registry is not None else project.ConsortiumRegistry.at(round_manager.registry())
    verifier = verifier if verifier is not None else project.AggregationVerifier.at(round_manager.fedAvgVerifier())
    with tempfile.TemporaryDirectory(prefix="zkfl-audit-") as tmp:
        base = workdir if workdir is not None else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        head = int(chain.blocks.height)
        report = AuditReport(
            chain_id=int(chain.chain_id),
            head_block=head,
            round_manager=str(round_manager.address),
            registry=str(registry.address),
            verifier=str(verifier.address),
            circuit_cid=str(round_manager.circuitCid()),
        )
        progress(f"auditing RoundManager {report.round_manager} on chain {report.chain_id} up to block {head}")
        auditor = _Auditor(chain, round_manager, registry, verifier, storage, base, progress)
        median_address = str(round_manager.medianVerifier())
        if int(median_address, 16) != 0:
            auditor.median_verifier = project.MedianVerifier.at(median_address)
        report.membership = membership_history(registry, head)
        progress(f"membership: {len(report.membership)} registry events")
        progress(f"circuit manifest {report.circuit_cid}: fetching settings, verifying key, SRS")
        auditor.deployment(report, head)
        auditor.rounds(report, head)
    return report


def record_audit(report: AuditReport, round_manager: Any, storage: Storage, auditor: Any) -> dict[int, str]:
    """Publish the JSON report and record the verdict of every closed round on-chain (as ``auditor``).

    A round passes when it and the deployment have no error finding. Returns ``{round_id: report CID}``.
    """
    cid = str(storage.put(report.to_json().encode()))
    deployment_ok = not any(f.severity == "error" for f in report.deployment_findings)
    recorded: dict[int, str] = {}
    for r in report.rounds:
        if r.phase == "open":
            continue
        try:
            round_manager.recordAudit(r.round_id, deployment_ok and r.passed, cid, sender=auditor)
        except Exception as exc:
            raise ChainError(f"recordAudit for round {r.round_id} failed: {exc}") from exc
        recorded[r.round_id] = cid
    return recorded
