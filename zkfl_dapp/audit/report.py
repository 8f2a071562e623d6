"""The audit report: findings, per-round results, and their JSON and Markdown renderings."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The per-round checks, in table order.
CHECKS: tuple[str, ...] = (
    "weights",
    "commitment",
    "norm proofs",
    "median proof",
    "model",
    "CIDs",
    "lineage",
    "report",
    "policy",
)


#: Deployment-level checks.
DEPLOYMENT_CHECKS: tuple[str, ...] = (
    "circuit manifest",
    "basis",
    "lagrange",
    "genesis model",
    "verifier",
    "enclave key",
    "receipts",
    "predictions",
)


def _hex(value: int) -> str:
    return f"0x{value:064x}"


def short_commitment(text: str) -> str:
    """A commitment as :func:`~zkfl_dapp.chain.views.commitment_hex` writes it, shortened for prose: the whole
    of a one-point commitment, the first point and the number of points of a chunked one."""
    points = (len(text) - 2) // 128
    return text if points <= 1 else f"{text[:130]}… ({points} chunk points)"


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
    #: the KZG commitment, one point C(u_c) per chunk: "0x" + x_0 + y_0 + x_1 + .. (64 hex digits each)
    commitment: str
    cid: str
    sample_count: int
    excluded: bool = False
    tx: str | None = None  # the submission's transaction (its calldata carries a one-point norm proof)
    #: bounded rounds: which norm proofs of this submission were checked, where (None before the check ran)
    proof: str | None = None
    #: chunked deployments, bounded rounds: the sum of the accepted chunk proofs' sums of squares
    chunk_sum_sq: int | None = None


class RoundAudit(BaseModel):
    """The audit of one round: what the chain says, and the verdict of every check."""

    round_id: int
    phase: Literal["open", "finalized", "aborted", "rolled back", "invalidated"]
    rule: Literal["fedavg", "median"] = "fedavg"
    #: the squared norm bound at scale 2^(2 scale bits); 0: no bound (no norm proofs)
    norm_bound_sq: int = 0
    opened_block: int
    closed_block: int | None = None
    finalize_tx: str | None = None
    #: the round whose model this round starts from (0: the genesis model)
    prev_model_round: int = 0
    prev_model_commitment: str  # "0x" + the 64-byte points of the commitment (x || y each)
    prev_model_cid: str
    new_model_commitment: str | None = None
    new_model_cid: str | None = None
    proof_cid: str | None = None  # median rounds only
    proof_hash: str | None = None  # median rounds only
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

    format: Literal["zkfl-audit/v2"] = "zkfl-audit/v2"
    chain_id: int
    head_block: int
    round_manager: str
    registry: str
    #: the norm circuit's verifier (RoundManager.normVerifier)
    verifier: str
    #: the median circuit's verifier; None where the deployment has none
    median_verifier: str | None = None
    circuit_cid: str
    circuit: dict[str, Any] = Field(default_factory=dict)
    #: points per commitment (RoundManager.chunks()): 1, or the chunks of a model committed chunk by chunk
    chunks: int = 1
    #: RoundManager.challengeWindow(): 0 when norm proofs are verified at submission
    challenge_window: int = 0
    #: what the reader should know about how the deployment was checked (not findings)
    notes: list[str] = Field(default_factory=list)
    membership: list[MembershipEvent] = Field(default_factory=list)
    rounds: list[RoundAudit] = Field(default_factory=list)
    #: check -> passed (True/False), or None where not applicable (e.g. no PredictionRegistry given)
    deployment_checks: dict[str, bool | None] = Field(default_factory=dict)
    #: the registered enclave key's CID, evidence kind, measurement and evidence CID; ``attested`` is True only for
    #: verified vendor evidence (a development enclave is False, ``status`` says so in red); ``keys``: every key
    enclave: dict[str, Any] = Field(default_factory=dict)
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

    def enclave_line(self, *, markdown: bool = False) -> str:
        """The enclave key's attestation in one line: attested (verified vendor evidence) or, in red, why not."""
        e = self.enclave
        if e.get("attested"):
            return (
                f"enclave: key {e['key_cid']}, attested: {e.get('kind')} evidence {e.get('evidence_cid')} verified, "
                f"measurement {e['measurement']}"
            )
        status = e.get("status") or "development enclave: not attested"
        return f"enclave: key {e.get('key_cid')}, " + (f"**{status}**" if markdown else status)

    def table(self) -> list[list[str]]:
        """Header plus one row per round: round, phase, included, then ✓/✗/– per check."""
        mark = {True: "✓", False: "✗", None: "–"}
        rows = [["round", "phase", "included", *CHECKS]]
        for r in self.rounds:
            included = str(r.included_count) if r.phase == "finalized" else "–"
            rows.append([str(r.round_id), r.phase, included, *(mark[r.checks.get(c)] for c in CHECKS)])
        return rows

    def proof_sites(self) -> list[str]:
        """Which proofs and derivations this deployment's rounds rest on, and where each was checked (on-chain, by
        the auditor, or both), one line each."""
        bounded = [r.round_id for r in self.rounds if r.norm_bound_sq and r.phase != "open"]
        median = [r.round_id for r in self.rounds if r.rule == "median" and r.phase in ("finalized", "rolled back")]
        fedavg = [r.round_id for r in self.rounds if r.rule == "fedavg" and r.phase in ("finalized", "rolled back")]
        lines = []
        where = (
            f"posted as hashes with a challenge window of {self.challenge_window} s: verified off-chain by the "
            "auditor from each proof bundle (the aggregator too); a member's `challengeChunk` runs the norm "
            f"verifier `{self.verifier}` on-chain and excludes the submission if it fails (`ChunkProofFaulted`)"
            if self.challenge_window
            else f"verified on-chain by RoundManager in `submitUpdate` with the norm verifier `{self.verifier}`; "
            "re-verified by the auditor from the transaction's calldata"
        )
        lines.append(
            f"norm proofs (rounds {bounded or 'none'}): one per chunk ({self.chunks}) within its budget, {where}; "
            "with ezkl and the published norm circuit, bound to the submission's chunk points, the previous model "
            "and the budgets' sum"
        )
        if median or self.median_verifier:
            lines.append(
                f"median proof (rounds {median or 'none'}): verified on-chain by RoundManager in "
                f"`finalizeMedianRound` with the median verifier `{self.median_verifier}`; re-verified by the auditor "
                "with ezkl and the published median circuit from the published proof file (= the calldata)"
            )
        lines.append(
            f"FedAvg commitments (rounds {fedavg or 'none'}): no proof; derived on-chain by RoundManager at "
            "finalization (K + sum_i w_i (C(u_i) - K)"
            + (", per chunk" if self.chunks > 1 else "")
            + "), re-derived by the auditor from the submitted commitments and expectedWeights"
        )
        lines.append(
            "model files: opened against their on-chain commitment by the auditor (an ezkl commitment"
            + (" per chunk" if self.chunks > 1 else "")
            + "; nobody checks them on-chain)"
        )
        return lines

    def to_markdown(self) -> str:
        verdict = "PASSED" if self.passed else f"FAILED ({len(self.errors)} discrepancies)"
        out = [
            "# zkFL audit report",
            "",
            f"- verdict: **{verdict}**",
            f"- chain id {self.chain_id}, audited up to block {self.head_block}",
            f"- RoundManager `{self.round_manager}`, registry `{self.registry}`, norm verifier `{self.verifier}`"
            + (f", median verifier `{self.median_verifier}`" if self.median_verifier else ""),
            f"- circuit manifest `{self.circuit_cid}`"
            + (
                f" ({self.circuit.get('slots')} slots, d = {self.circuit.get('model_size')}, "
                f"{self.circuit.get('pad_rows')} pad rows"
                + (f", {self.chunks} chunks of {self.circuit.get('chunk')} rows" if self.chunks > 1 else "")
                + f", ezkl {self.circuit.get('ezkl_version')})"
                if self.circuit
                else ""
            ),
            "",
            "## Deployment",
            "",
            *(f"- {name}: {'–' if ok is None else '✓' if ok else '✗'}" for name, ok in self.deployment_checks.items()),
            *([f"- {self.enclave_line(markdown=True)}"] if self.enclave else []),
            *(f"- {note}" for note in self.notes),
            "",
            "## Proofs: where each was checked",
            "",
            *(f"- {line}" for line in self.proof_sites()),
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
            bound = f"norm bound {r.norm_bound_sq} (scale 2^26)" if r.norm_bound_sq else "no norm bound"
            out.append(f"- rule {r.rule}, {bound}")
            start = f"round {r.prev_model_round}'s" if r.prev_model_round else "the genesis"
            prev = short_commitment(r.prev_model_commitment)
            out.append(f"- starts from {start} model `{r.prev_model_cid}` (commitment `{prev}`)")
            if r.phase in ("finalized", "rolled back"):
                new = short_commitment(r.new_model_commitment or "0x")
                out.append(f"- new model `{r.new_model_cid}` (commitment `{new}`)")
                if r.rule == "median":
                    out.append(
                        f"- median proof `{r.proof_cid}` (keccak `{r.proof_hash}`), finalized in `{r.finalize_tx}`"
                    )
                else:
                    out.append(
                        f"- commitment derived on-chain in `{r.finalize_tx}` and re-derived by the auditor "
                        "from the submitted commitments and weights"
                    )
                out.append(f"- {r.included_count} included updates, {r.total_samples} samples")
            for s in r.submissions:
                tag = " **excluded**" if s.excluded else ""
                out.append(f"- slot {s.slot}: `{s.hospital}`, {s.sample_count} samples, `{s.cid}`{tag}")
                if s.proof:
                    out.append(f"  - {s.proof}")
        out += ["", "## Findings", ""]
        out += [f"- {f.line()}" for f in self.findings] or ["none"]
        out += ["", "## Membership", "", "| block | event | account | role | name |", "|---|---|---|---|---|"]
        out += [
            f"| {m.block} | {m.action} | `{m.account}` | {m.role} | {m.name or m.detail} |" for m in self.membership
        ]
        return "\n".join(out) + "\n"
