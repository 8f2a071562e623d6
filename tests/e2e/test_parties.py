"""The party loops one step at a time, on ape's test chain: what a hospital agent serves, skips (with its
reason) and never sends twice; when the aggregator finalizes, and that it does so once; the admin's guards.
"""

from __future__ import annotations

import dataclasses

import ape
import numpy as np
import pytest
from ape.exceptions import TransactionNotFoundError

from zkfl_dapp.apps.journal import Journal
from zkfl_dapp.apps.parties import (
    AggregatorService,
    AuditFollower,
    Connection,
    HospitalAgent,
    abort_round,
    aggregator_service,
    hospital_agent,
    open_round,
)
from zkfl_dapp.audit.auditor import audit
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.exceptions import ChainError, ConfigError, RoundError, ShardTooSmallError, ZkflError
from zkfl_dapp.protocol.consortium import Consortium, Roles
from zkfl_dapp.protocol.hospital import HospitalClient
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.e2e


@pytest.fixture
def consortium(tmp_path, suite, admin, aggregator, hospitals, auditor) -> Consortium:
    settings = Settings(workdir=tmp_path / "w", hospitals=5, round_seconds=600)
    roles = Roles(admin, aggregator, tuple(hospitals[:5]), auditor)
    return Consortium.bootstrap(settings, ape.project, ape.chain, roles, EmbeddedStore(settings.store_dir), suite)


@pytest.fixture
def conn() -> Connection:
    return Connection(ape.chain, ape.project, local=True)


def _agent(c: Consortium, i: int, tmp_path, **kw) -> HospitalAgent:
    return HospitalAgent(c.hospitals[i], c.deployment, ape.chain, Journal(tmp_path / f"h{i}.jsonl"), **kw)


def _service(c: Consortium, tmp_path) -> AggregatorService:
    return AggregatorService(c.enclave, c.deployment, ape.chain, Journal(tmp_path / "agg.jsonl"))


def test_agents_serve_a_round_once_and_the_aggregator_finalizes_it_once(consortium, conn, tmp_path):
    c = consortium
    service = _service(c, tmp_path)
    assert service.step() is None  # no round yet
    round_id = open_round(c.settings, conn, c.deployment, c.roles.admin)
    agents = [_agent(c, i, tmp_path) for i in range(5)]
    for agent in agents[:4]:
        assert "submitted" in (agent.step() or "")
    assert service.step() is None  # 4 of 5 before the deadline: not finalizable yet
    restarted = _agent(c, 0, tmp_path)  # a restart reads the chain: nothing is sent twice
    assert "already submitted" in (restarted.step() or "")
    assert len(restarted.journal.entries("sent")) == 1
    assert "submitted" in (agents[4].step() or "")
    assert "finalized" in (service.step() or "")
    assert read_round(c.deployment.round_manager, round_id).phase == Phase.FINALIZED
    again = _service(c, tmp_path)  # the service after a crash: the round is finalized, nothing to redo
    assert again.step() is None and len(again.journal.entries("finalized")) == 1
    fresh = AggregatorService(c.enclave, c.deployment, ape.chain, Journal(tmp_path / "lost.jsonl"))
    assert "already finalized" in (fresh.step() or "")  # a crash after the tx, before the journal line
    assert fresh.journal.entries("found-finalized")[0]["round"] == round_id


def test_a_hospital_skips_with_a_reason_what_it_cannot_serve(consortium, conn, tmp_path):
    c = consortium
    round_id = open_round(c.settings, conn, c.deployment, c.roles.admin)
    sitting_out = _agent(c, 0, tmp_path, sit_out=frozenset({round_id}))
    assert "SKIPPING: told to sit this round out" in (sitting_out.step() or "")
    assert sitting_out.step() is None  # decided once
    late = _agent(c, 1, tmp_path, min_seconds_left=c.settings.round_seconds + 60)
    assert "s left before the deadline" in (late.step() or "")
    assert late.journal.entries("skipped")[0]["round"] == round_id
    assert not late.journal.entries("sent")
    c.deployment.registry.removeMember(c.hospitals[2].address, sender=c.roles.admin)
    removed = _agent(c, 2, tmp_path)
    assert "not a member hospital" in (removed.step() or "")


def test_the_aggregator_waits_for_the_deadline_then_needs_a_quorum(consortium, conn, tmp_path):
    c = consortium
    round_id = open_round(c.settings, conn, c.deployment, c.roles.admin)
    for i in range(2):
        _agent(c, i, tmp_path).step()
    service = _service(c, tmp_path)
    assert service.step() is None
    ape.chain.pending_timestamp = read_round(c.deployment.round_manager, round_id).deadline + 1
    ape.chain.mine()
    assert "cannot be finalized" in (service.step() or "")  # 2 < quorum 3
    assert abort_round(conn, c.deployment, c.roles.admin) == round_id
    assert read_round(c.deployment.round_manager, round_id).phase == Phase.ABORTED


def test_the_admin_opens_one_round_at_a_time_and_aborts_only_an_open_one(consortium, conn):
    c = consortium
    with pytest.raises(RoundError, match="no round is open"):
        abort_round(conn, c.deployment, c.roles.admin)
    open_round(c.settings, conn, c.deployment, c.roles.admin, norm_bound=1.5)
    assert read_round(c.deployment.round_manager, 1).norm_bound_sq > 0
    with pytest.raises(RoundError, match="still open"):
        open_round(c.settings, conn, c.deployment, c.roles.admin)
    with pytest.raises(RoundError, match="deadline is"):
        abort_round(Connection(ape.chain, ape.project, local=False), c.deployment, c.roles.admin)


def test_a_party_refuses_a_deployment_it_does_not_belong_to(consortium, conn, hospitals):
    c = consortium
    with pytest.raises(ChainError, match="aggregator is not"):
        aggregator_service(c.settings, conn, hospitals[0], c.storage)
    with pytest.raises(ConfigError, match="hospital index 7"):
        hospital_agent(c.settings, conn, hospitals[0], c.storage, 7)


def test_the_auditor_follows_rounds_as_they_close(consortium, conn, tmp_path):
    c = consortium
    audits: list[object] = []

    def run_audit() -> object:
        report = audit(c.deployment.round_manager, c.storage, chain=ape.chain, project=ape.project)
        audits.append(report)
        return report

    follower = AuditFollower(run_audit, c.deployment)
    assert follower.step() is None  # nothing closed yet
    open_round(c.settings, conn, c.deployment, c.roles.admin)
    for i in range(5):
        _agent(c, i, tmp_path).step()
    assert follower.step() is None  # open: not audited yet
    _service(c, tmp_path).step()
    report = follower.step()
    assert report is not None and report.passed and [r.round_id for r in report.rounds] == [1]
    assert follower.step() is None and len(audits) == 1  # each closed round once


def test_a_hospital_trains_on_its_own_records_file_standardised_by_the_chain(consortium, conn, hospitals):
    """hospital-0's shard as a records file (examples/hospital-data): the agent reads it and standardises it with
    the statistics the deployment published (followed from the circuit manifest on-chain), which gives back
    exactly the shard the simulated consortium trains on."""
    c = consortium
    data = REPO_ROOT / "examples" / "hospital-data"
    settings = c.settings.model_copy(update={"records": data / "records.csv", "records_schema": data / "schema.json"})
    agent = hospital_agent(settings, conn, hospitals[0], c.storage, 0)
    shard = c.split.shards[0]
    assert agent.client.shard.num_samples == shard.num_samples == 91
    assert np.array_equal(agent.client.shard.y, shard.y)
    assert np.allclose(agent.client.shard.x, shard.x, atol=1e-6)
    bad = c.settings.model_copy(update={"records": data / "records.csv", "records_schema": data / "absent.json"})
    with pytest.raises(ZkflError):
        hospital_agent(bad, conn, hospitals[0], c.storage, 0)
    few = settings.model_copy(update={"min_shard_samples": 92})  # the consortium's minimum: 91 records are too few
    with pytest.raises(ShardTooSmallError, match="91 record"):
        hospital_agent(few, conn, hospitals[0], c.storage, 0)


@dataclasses.dataclass(frozen=True)
class _ReceiptLost(HospitalClient):
    """Sends nothing and reports a receipt that never came (a node that dropped the transaction)."""

    def submit(self, round_manager, update):
        raise TransactionNotFoundError("0x" + "00" * 32, "not in the chain after 20 seconds")


def test_a_lost_receipt_is_retried_from_chain_state_not_fatal(consortium, conn, tmp_path):
    c = consortium
    h = c.hospitals[0]
    lost = _ReceiptLost(**{f.name: getattr(h, f.name) for f in dataclasses.fields(h)})
    open_round(c.settings, conn, c.deployment, c.roles.admin)
    agent = HospitalAgent(lost, c.deployment, ape.chain, Journal(tmp_path / "h0.jsonl"))
    assert "waiting: no receipt for the submission" in (agent.step() or "")
    assert not agent.journal.entries()  # neither sent nor skipped
    agent.client = h  # the node answers again: the next poll serves the round
    assert "submitted" in (agent.step() or "")
    assert len(agent.journal.entries("sent")) == 1
