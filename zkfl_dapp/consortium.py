"""A whole consortium on one network: bootstrap it, then run verifiable rounds.

This is the library behind ``ape run deploy``, ``ape run round`` and ``ape run demo``. One round:

1. the admin opens it on top of the current global model;
2. every participating hospital fetches the model, checks it against the chain, trains, commits,
   encrypts to the enclave's registered key and submits;
3. once every member submitted (or the deadline passed with a quorum) the enclave decrypts, checks,
   proves the weighted average and finalizes; the contract accepts only a proof bound to the round.

Beside the proven federation it runs plain floating-point FedAvg on the same splits and participants
(the baseline), so every report shows what the proofs and the quantization cost in accuracy.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from ape.exceptions import ContractLogicError

from zkfl_dapp.chain import Deployment, Role, Rule, deploy_contracts
from zkfl_dapp.circuits import AggregationCircuitSpec, CircuitArtifacts
from zkfl_dapp.config import Settings
from zkfl_dapp.crypto import EnclaveKeyPair, load_key_pair, save_key_pair
from zkfl_dapp.data import FederatedSplit, load_federated
from zkfl_dapp.enclave import AggregatorEnclave, Finalization
from zkfl_dapp.exceptions import ChainError, ConfigError, NormBoundError, QuantizationError
from zkfl_dapp.formats import ModelFile
from zkfl_dapp.hospital import HospitalClient, PreparedUpdate, fetch_enclave_key, fetch_global_model
from zkfl_dapp.model import ModelSpec, accuracy, num_params
from zkfl_dapp.publication import publish_circuit
from zkfl_dapp.quantization import dequantize, poseidon_commitment, quantize
from zkfl_dapp.robust import NormBoundPolicy, bound_from_quantized, bound_sq_quantized, median_norm
from zkfl_dapp.robust_circuits import DefenceCircuits, ensure_defence_circuits
from zkfl_dapp.storage import Storage
from zkfl_dapp.training import TrainConfig, fedavg_float, train_local

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Roles:
    """The accounts that act in the consortium."""

    admin: Any
    aggregator: Any
    hospitals: tuple[Any, ...]
    auditor: Any | None = None  # admitted as the consortium's auditor when given


@dataclass(frozen=True)
class RoundReport:
    """Everything the demo prints about one round (and writes to the reports folder)."""

    round_id: int
    participants: list[str]
    excluded: list[dict[str, str]]
    accuracy: float
    baseline_accuracy: float
    train_seconds: float
    commit_seconds: float
    encrypt_seconds: float
    prove_seconds: float
    verify_seconds: float
    finalize_gas: int
    finalize_tx: str
    model_cid: str
    model_commitment: str
    proof_bytes: int
    proof_cid: str
    wall_seconds: float
    extras: dict[str, Any] = field(default_factory=dict)
    #: "fedavg" or "median"
    rule: str = "fedavg"
    #: the round's L2 norm bound (None: no bound)
    norm_bound: float | None = None
    #: median L2 distance of the included updates to the previous model (the enclave's statistic)
    update_norm_median: float | None = None
    #: hospitals whose update did not go in: beyond the bound, not quantizable, or reverted on-chain
    norm_refused: list[dict[str, str]] = field(default_factory=list)
    #: total norm-proving time of the submitted updates (divide by the participants for a per-client figure)
    norm_prove_seconds: float = 0.0
    #: mean gas of the round's submissions (submitBoundedUpdate verifies a norm proof; submitUpdate does not)
    submit_gas_mean: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def model_spec_for(settings: Settings, split: FederatedSplit) -> ModelSpec:
    if settings.model == "mlp":
        return ModelSpec(num_features=split.num_features, kind="mlp", hidden=settings.mlp_hidden)
    return ModelSpec(num_features=split.num_features)


def circuit_spec_for(settings: Settings, model: ModelSpec) -> AggregationCircuitSpec:
    return AggregationCircuitSpec(
        slots=settings.hospitals, model_size=num_params(model), scale_bits=settings.scale_bits
    )


def defence_for(settings: Settings, art: CircuitArtifacts, progress: Progress = _quiet) -> DefenceCircuits:
    """The norm (and, for 5 slots, median) circuits that fit the aggregation circuit ``art``."""
    s = art.spec
    root, srs = settings.artifacts_dir, settings.ceremony_srs
    return ensure_defence_circuits(s.slots, s.model_size, s.scale_bits, root, ceremony_srs=srs, progress=progress)


def load_split(settings: Settings) -> FederatedSplit:
    return load_federated(settings.hospitals, split=settings.split, alpha=settings.dirichlet_alpha, seed=settings.seed)


class Consortium:
    """A deployed consortium and the parties acting in it."""

    def __init__(
        self,
        settings: Settings,
        chain: Any,
        deployment: Deployment,
        storage: Storage,
        roles: Roles,
        enclave: AggregatorEnclave,
        hospitals: Sequence[HospitalClient],
        split: FederatedSplit,
        progress: Progress = _quiet,
    ) -> None:
        self.policy = NormBoundPolicy(settings.norm_bound_initial, settings.norm_bound_kappa, settings.norm_bound_floor)
        self.settings = settings
        self.chain = chain
        self.deployment = deployment
        self.storage = storage
        self.roles = roles
        self.enclave = enclave
        self.hospitals = list(hospitals)
        self.split = split
        self.spec = enclave.spec
        self.progress = progress
        self._baseline: np.ndarray | None = None
        # the previous round's bound and median update norm, from which the next bound is derived
        self._last_bound, self._last_median_norm = _last_norm_statistics(settings)

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def _parties(
        cls,
        settings: Settings,
        roles: Roles,
        storage: Storage,
        artifacts: CircuitArtifacts,
        defence: DefenceCircuits,
        key_pair: EnclaveKeyPair,
        split: FederatedSplit,
    ) -> tuple[AggregatorEnclave, list[HospitalClient]]:
        if len(roles.hospitals) != settings.hospitals:
            raise ConfigError(f"{settings.hospitals} hospitals configured but {len(roles.hospitals)} accounts given")
        spec = model_spec_for(settings, split)
        enclave = AggregatorEnclave(
            roles.aggregator,
            key_pair,
            storage,
            artifacts,
            spec,
            settings.workdir / "enclave" / "proofs",
            median_artifacts=defence.median,
        )
        cfg = TrainConfig(
            local_epochs=settings.local_epochs,
            batch_size=settings.batch_size,
            lr=settings.learning_rate,
            seed=settings.seed,
        )
        hospitals = [
            HospitalClient(
                f"hospital-{i}",
                acct,
                shard,
                spec,
                cfg,
                storage,
                settings.scale_bits,
                defence.norm,
                settings.workdir,
                index=i,
            )
            for i, (acct, shard) in enumerate(zip(roles.hospitals, split.shards, strict=True))
        ]
        return enclave, hospitals

    @classmethod
    def bootstrap(
        cls,
        settings: Settings,
        project: Any,
        chain: Any,
        roles: Roles,
        storage: Storage,
        artifacts: CircuitArtifacts,
        progress: Progress = _quiet,
        defence: DefenceCircuits | None = None,
    ) -> Consortium:
        """Deploy the contracts, admit every party, publish the enclave key and the genesis model.

        ``defence`` (the norm and median circuits) is built from the cache when not given.
        """
        split = load_split(settings)
        spec = model_spec_for(settings, split)
        if artifacts.spec != circuit_spec_for(settings, spec):
            raise ConfigError(f"circuit {artifacts.spec.name} does not fit {settings.hospitals} hospitals x {spec}")
        defence = defence or defence_for(settings, artifacts, progress)
        genesis = ModelFile(
            model_kind=spec.kind,
            num_features=spec.num_features,
            scale_bits=settings.scale_bits,
            values=quantize(spec.initial_params(settings.seed), settings.scale_bits),
        )
        genesis_cid = str(storage.put(genesis.to_bytes()))
        circuit_cid = publish_circuit(artifacts, storage, defence.median)
        progress(f"deploying contracts (genesis model {genesis_cid}, circuit manifest {circuit_cid})")
        deployment = deploy_contracts(
            project,
            roles.admin,
            slots=artifacts.spec.slots,
            model_size=artifacts.spec.model_size,
            scale_bits=artifacts.spec.scale_bits,
            empty_slot_commitment=poseidon_commitment((0,) * artifacts.spec.model_size),
            genesis_commitment=genesis.commitment(),
            genesis_cid=genesis_cid,
            circuit_cid=circuit_cid,
            with_median=defence.median is not None,
        )
        registry = deployment.registry
        registry.admitMember(roles.aggregator, int(Role.AGGREGATOR), "aggregator-enclave", sender=roles.admin)
        for i, acct in enumerate(roles.hospitals):
            registry.admitMember(acct, int(Role.HOSPITAL), f"hospital-{i}", sender=roles.admin)
        if roles.auditor is not None:
            registry.admitMember(roles.auditor, int(Role.AUDITOR), "auditor-0", sender=roles.admin)
        key_pair = EnclaveKeyPair.generate()
        settings.enclave_key_file.parent.mkdir(parents=True, exist_ok=True)
        save_key_pair(key_pair, settings.enclave_key_file)
        enclave, hospitals = cls._parties(settings, roles, storage, artifacts, defence, key_pair, split)
        key_cid = enclave.publish_key(registry)
        progress(f"admitted {len(hospitals)} hospitals and the aggregator; enclave key {key_cid}")
        deployment.save(settings.deployment_file, chain_id=chain.chain_id, circuit=artifacts.spec.name)
        consortium = cls(settings, chain, deployment, storage, roles, enclave, hospitals, split, progress)
        consortium._last_bound = consortium._last_median_norm = None  # a new consortium: old reports do not count
        return consortium

    @classmethod
    def attach(
        cls,
        settings: Settings,
        project: Any,
        chain: Any,
        roles: Roles,
        storage: Storage,
        artifacts: CircuitArtifacts,
        progress: Progress = _quiet,
        defence: DefenceCircuits | None = None,
    ) -> Consortium:
        """Attach to a deployment made earlier by :meth:`bootstrap` (its record and enclave key file)."""
        deployment = Deployment.load(settings.deployment_file, project)
        split = load_split(settings)
        key_pair = load_key_pair(settings.enclave_key_file)
        defence = defence or defence_for(settings, artifacts, progress)
        enclave, hospitals = cls._parties(settings, roles, storage, artifacts, defence, key_pair, split)
        if str(deployment.registry.aggregator()).lower() != str(roles.aggregator.address).lower():
            raise ChainError("the deployment's aggregator is not this enclave's account")
        return cls(settings, chain, deployment, storage, roles, enclave, hospitals, split, progress)

    # --- rounds -------------------------------------------------------------------------------

    def current_model(self) -> ModelFile:
        commitment, cid = self.deployment.round_manager.currentModel()
        return fetch_global_model(self.storage, self.spec, int(commitment), str(cid))

    def _wait_for_deadline(self, deadline: int) -> None:
        """Past the deadline: warp time on a local dev chain, wait for it elsewhere."""
        if self.chain.provider.network.is_local:
            self.chain.pending_timestamp = deadline + 1
            self.chain.mine()
            return
        while self.chain.blocks.head.timestamp <= deadline:
            self.progress(f"waiting for the deadline ({deadline - self.chain.blocks.head.timestamp} s)")
            time.sleep(min(30, max(1, deadline - self.chain.blocks.head.timestamp)))

    def next_norm_bound(self) -> float | None:
        """The L2 bound the next round gets under the configured policy (None: norm bounds are off)."""
        if self.settings.norm_bound == "off":
            return None
        return self.policy.next_bound(self._last_bound, self._last_median_norm)

    def run_round(
        self, *, absent: frozenset[int] = frozenset(), rule: str | None = None, norm_bound: float | None = None
    ) -> RoundReport:
        """Run one full round; hospitals whose index is in ``absent`` sit it out.

        ``rule`` ("fedavg" or "median") and ``norm_bound`` (an L2 bound) default to the settings' rule and
        the bound policy (:meth:`next_norm_bound`).
        """
        started = time.perf_counter()
        rm = self.deployment.round_manager
        rule = rule or self.settings.rule
        if rule not in ("fedavg", "median"):
            raise ConfigError(f"unknown aggregation rule {rule!r}: use fedavg or median")
        bound = norm_bound if norm_bound is not None else self.next_norm_bound()
        bound_sq = bound_sq_quantized(bound, self.settings.scale_bits) if bound is not None else 0
        deadline = self.chain.pending_timestamp + self.settings.round_seconds
        rule_id = Rule.MEDIAN if rule == "median" else Rule.FEDAVG
        rm.openRoundWithPolicy(deadline, self.settings.quorum, int(rule_id), bound_sq, sender=self.roles.admin)
        round_id = int(rm.currentRoundId())
        info = rm.getRound(round_id)
        bound_text = f"norm bound {bound:.4g}" if bound_sq else "no norm bound"
        self.progress(
            f"round {round_id}: opened ({rule}, {bound_text}, quorum {self.settings.quorum}, deadline {deadline})"
        )

        global_model = fetch_global_model(self.storage, self.spec, int(info.prevModelCommitment), info.prevModelCid)
        enclave_key = fetch_enclave_key(self.storage, self.deployment.registry)
        participants = [h for i, h in enumerate(self.hospitals) if i not in absent]
        updates: list[PreparedUpdate] = []
        refused: list[dict[str, str]] = []
        submit_gas: list[int] = []
        for h in participants:
            try:
                update = h.prepare_update(round_id, global_model, enclave_key, norm_bound_sq=bound_sq)
            except (NormBoundError, QuantizationError) as exc:  # nothing leaves the hospital
                refused.append({"hospital": h.name, "reason": str(exc)})
                self.progress(f"round {round_id}: {h.name} NOT submitting: {exc}")
                continue
            try:
                submit_gas.append(int(h.submit(rm, update).gas_used))
            except ContractLogicError as exc:  # an attacker's proof showing a violated bound, for one
                why = f"{type(exc).__name__}({exc})"  # ape names the class after the custom error
                refused.append({"hospital": h.name, "reason": f"rejected on-chain: {why}"})
                self.progress(f"round {round_id}: {h.name}'s submission REVERTED: {why}")
                continue
            updates.append(update)
            self.progress(f"round {round_id}: {h.name} submitted {update.cid[:16]}... ({update.sample_count} samples)")
        if absent or refused:
            self._wait_for_deadline(deadline)

        self.progress(f"round {round_id}: enclave decrypting, checking and proving ({rule})")
        final = self.enclave.finalize(rm, round_id)
        for o in final.outcomes:
            if not o.included:
                self.progress(f"round {round_id}: EXCLUDED slot {o.slot} ({o.hospital}): {o.reason}")
        used_bound = bound_from_quantized(bound_sq, self.settings.scale_bits) if bound_sq else None
        norm_median = median_norm(final.update_norms) if final.update_norms else None
        if used_bound is not None:
            self._last_bound, self._last_median_norm = used_bound, norm_median
        refused_names = {r["hospital"] for r in refused}
        report = self._report(round_id, final, global_model, participants, updates, started)
        report = dataclasses.replace(
            report,
            participants=[h.name for h in participants if h.name not in refused_names],
            rule=final.rule,
            norm_bound=used_bound,
            update_norm_median=norm_median,
            norm_refused=refused,
            norm_prove_seconds=sum(u.norm_proof.prove_seconds for u in updates if u.norm_proof is not None),
            submit_gas_mean=sum(submit_gas) / len(submit_gas) if submit_gas else 0.0,
        )
        self._publish_report(report)
        return report

    def _report(
        self,
        round_id: int,
        final: Finalization,
        start: ModelFile,
        participants: list[HospitalClient],
        updates: list[PreparedUpdate],
        started: float,
    ) -> RoundReport:
        # Baseline: plain float FedAvg over the same participants, continuing its own trajectory from the
        # first round this process runs (which starts from that round's global model: the genesis model's
        # initial parameters for a new consortium).
        base_start = self._baseline if self._baseline is not None else dequantize(start.values, start.scale_bits)
        base_locals = [
            train_local(self.spec, base_start, h.shard, h.train_config, round_id=round_id) for h in participants
        ]
        self._baseline = fedavg_float(base_locals, [h.shard.num_samples for h in participants])
        proven = dequantize(final.model.values, final.model.scale_bits)
        report = RoundReport(
            round_id=round_id,
            participants=[h.name for h in participants],
            excluded=[{"hospital": o.hospital, "reason": o.reason or ""} for o in final.outcomes if not o.included],
            accuracy=accuracy(self.spec, proven, self.split.test),
            baseline_accuracy=accuracy(self.spec, self._baseline, self.split.test),
            train_seconds=sum(u.train_seconds for u in updates),
            commit_seconds=sum(u.commit_seconds for u in updates),
            encrypt_seconds=sum(u.encrypt_seconds for u in updates),
            prove_seconds=final.proof.prove_seconds,
            verify_seconds=final.verify_seconds,
            finalize_gas=final.gas_used,
            finalize_tx=final.tx_hash,
            model_cid=final.model_cid,
            model_commitment=hex(final.model.commitment()),
            proof_bytes=len(final.proof.proof),
            proof_cid=final.proof_cid,
            wall_seconds=time.perf_counter() - started,
        )
        return report

    def _publish_report(self, report: RoundReport) -> None:
        """Write the report to the reports folder and publish it (held-out accuracy, timings, gas, the norm
        statistic) for the audit trail and the web UI."""
        self.settings.reports_dir.mkdir(parents=True, exist_ok=True)
        (self.settings.reports_dir / f"round-{report.round_id}.json").write_text(report.to_json())
        report_cid = str(self.storage.put(report.to_json().encode()))
        self.deployment.round_manager.publishRoundReport(report.round_id, report_cid, sender=self.roles.admin)


def _last_norm_statistics(settings: Settings) -> tuple[float | None, float | None]:
    """The latest bounded round's L2 bound and median update norm, from the reports folder (a consortium
    that another process ran continues the bound policy where it stopped)."""
    latest: tuple[int, float | None, float | None] = (0, None, None)
    for path in settings.reports_dir.glob("round-*.json") if settings.reports_dir.exists() else ():
        try:
            data = json.loads(path.read_text())
            round_id, bound, norm = int(data["round_id"]), data.get("norm_bound"), data.get("update_norm_median")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if bound is not None and norm is not None and round_id > latest[0]:
            latest = (round_id, float(bound), float(norm))
    return latest[1], latest[2]
