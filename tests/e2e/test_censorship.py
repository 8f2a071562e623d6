"""The censorship attack of issue 18, end to end (real chain, store, ML-KEM envelopes, enclave, audit): an
aggregator that leaves out a valid, opening update must declare it with evidence; that evidence fails when anyone
re-checks it, the audit names the aggregator, and the excluded hospital's dispute, supported by a majority of the
members, invalidates the round. An honest exclusion's evidence holds: no finding, no dispute."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import ape
import pytest

from zkfl_dapp.apps.journal import Journal
from zkfl_dapp.apps.parties import HospitalAgent
from zkfl_dapp.audit.auditor import audit
from zkfl_dapp.chain.enums import ExclusionReason, Phase
from zkfl_dapp.chain.views import commitment_bytes, read_submissions
from zkfl_dapp.config import Settings
from zkfl_dapp.core.formats import ModelFile, UpdatePayload
from zkfl_dapp.crypto.envelope import associated_data, seal
from zkfl_dapp.protocol.consortium import Consortium, Roles
from zkfl_dapp.protocol.disputes import review_exclusions
from zkfl_dapp.protocol.exclusions import build_evidence, declare_exclusions
from zkfl_dapp.storage.embedded import EmbeddedStore

from .rounds import open_round, submit_honestly

pytestmark = pytest.mark.e2e
VICTIM = 2


@pytest.fixture
def consortium(tmp_path, suite, admin, aggregator, hospitals, auditor) -> Consortium:
    settings = Settings(workdir=tmp_path / "consortium", hospitals=5, rounds=2)
    roles = Roles(admin, aggregator, tuple(hospitals[:5]), auditor)
    return Consortium.bootstrap(settings, ape.project, ape.chain, roles, EmbeddedStore(settings.store_dir), suite)


def _review(c: Consortium, index: int, round_id: int) -> list[str]:
    h = c.hospitals[index]
    return review_exclusions(
        c.deployment.round_manager, c.deployment.registry, h.account, c.storage, c.enclave.circuits, round_id
    )


def _exclusion_findings(c: Consortium, round_id: int, tmp_path: Path):
    report = audit(c.deployment.round_manager, c.storage, workdir=tmp_path / "audit")
    return [f for f in report.round(round_id).findings if f.item.startswith("exclusion of submission")]


def _censor(c: Consortium, round_id: int, slot: int, reason: ExclusionReason) -> None:
    """The aggregator opens every update honestly, then leaves out ``slot``'s valid one, declaring it with the
    strongest evidence it can make (the genuine m' of that envelope) and a false reason."""
    rm, enclave = c.deployment.round_manager, c.enclave
    outcomes = enclave.open_submissions(rm, round_id)
    assert all(o.included for o in outcomes)
    sub = read_submissions(rm, round_id)[slot]
    kp = enclave._key_pair
    kind = "undecryptable" if reason == ExclusionReason.UNDECRYPTABLE else "invalid_content"
    evidence = build_evidence(kp.private_key, kp.public_key, round_id, sub, c.storage.get(sub.cid), kind, "made up")
    outcomes[slot] = dataclasses.replace(
        outcomes[slot], values=None, reason="made up", code=int(reason), evidence=evidence
    )
    values, mask = enclave.aggregate(round_id, outcomes, c.settings.quorum)
    model = ModelFile.of_layout(
        enclave.circuits.layout,
        model_kind=enclave.spec.kind,
        num_features=enclave.spec.num_features,
        scale_bits=enclave.scale_bits,
        values=values,
    )
    declare_exclusions(rm, enclave.account, c.storage, round_id, outcomes)
    # the contract cannot run ML-KEM: it accepts the declared exclusion, and opens the dispute window
    rm.finalizeRound(round_id, str(c.storage.put(model.to_bytes())), mask, sender=enclave.account)


@pytest.mark.parametrize("reason", [ExclusionReason.INVALID_CONTENT, ExclusionReason.UNDECRYPTABLE])
def test_censored_valid_update_evidence_fails_audit_names_aggregator_and_majority_dispute_invalidates_round(
    consortium, tmp_path, reason
):
    c = consortium
    rm = c.deployment.round_manager
    round_id, model, key = open_round(c)
    submit_honestly(c, round_id, model, key, skip=-1)
    _censor(c, round_id, VICTIM, reason)
    assert rm.getRound(round_id).phase == Phase.FINALIZED

    (finding,) = _exclusion_findings(c, round_id, tmp_path)
    assert finding.severity == "error" and finding.check == "weights"
    assert c.roles.aggregator.address in finding.actual and "without evidence that holds" in finding.actual

    assert _review(c, 0, round_id) == []  # nobody else opens a dispute for the victim
    (note,) = _review(c, VICTIM, round_id)
    assert note.startswith(f"disputed the exclusion of its update (slot {VICTIM})")
    assert _review(c, VICTIM, round_id) == []  # idempotent: already disputed and supported
    (note,) = _review(c, 0, round_id)
    assert note.startswith(f"supported the dispute of slot {VICTIM}") and rm.getRound(round_id).phase == Phase.FINALIZED
    (note,) = _review(c, 4, round_id)  # the third of five members: a majority
    record = rm.getExclusion(round_id, VICTIM)
    assert record.upheld and record.aggregator == c.roles.aggregator.address
    assert rm.getRound(round_id).phase == Phase.INVALIDATED
    assert tuple(rm.currentModel())[1] == round_id - 1  # the previous model is current again
    findings = _exclusion_findings(c, round_id, tmp_path / "again")
    assert any("upheld by a majority" in f.actual and c.roles.aggregator.address in f.actual for f in findings)


def test_honest_exclusion_evidence_holds_no_finding_no_dispute(consortium, tmp_path):
    c = consortium
    rm = c.deployment.round_manager
    round_id, model, key = open_round(c)
    submit_honestly(c, round_id, model, key, skip=VICTIM)
    cheat = c.hospitals[VICTIM]
    honest = cheat.prepare_update(round_id, model, key)
    payload = UpdatePayload(
        round_id=round_id,
        hospital=cheat.address,
        sample_count=honest.sample_count,
        scale_bits=c.enclave.scale_bits,
        values=tuple(v + 1 for v in c.enclave.open_submissions(rm, round_id)[0].values or ()),
    )  # another hospital's values (plus one): does not open the cheat's commitment
    points = tuple(p.as_uint256() for p in honest.commitment)
    key_hash = hashlib.sha256(key).digest()
    ad = associated_data(round_id, cheat.address, commitment_bytes(points), enclave_key_hash=key_hash)
    envelope = seal(key, payload.to_bytes(), ad)
    cheat.submit(rm, dataclasses.replace(honest, cid=str(c.storage.put(envelope))))
    final = c.enclave.finalize(rm, round_id)
    (bad,) = [o for o in final.outcomes if not o.included]
    assert bad.code == ExclusionReason.INVALID_CONTENT and bad.evidence is not None
    assert int(rm.getExclusion(round_id, bad.slot).reason) == ExclusionReason.INVALID_CONTENT
    assert _exclusion_findings(c, round_id, tmp_path) == []
    assert _review(c, VICTIM, round_id) == []  # the evidence holds: the cheat has nothing to dispute
    assert not rm.getExclusion(round_id, bad.slot).disputed


def test_hospital_agents_dispute_and_uphold_on_their_next_poll(consortium, tmp_path):
    """The agents' loop (apps/parties.py HospitalAgent.step) runs the review: the victim disputes, the others
    support, and the dispute is upheld without anyone acting by hand."""
    c = consortium
    rm = c.deployment.round_manager
    round_id, model, key = open_round(c)
    submit_honestly(c, round_id, model, key, skip=-1)
    _censor(c, round_id, VICTIM, ExclusionReason.INVALID_CONTENT)
    open_round(c)  # the admin already opened the next round: the agents still look at the finalized one
    said: list[str] = []
    agents = [
        HospitalAgent(
            c.hospitals[i],
            c.deployment,
            ape.chain,
            Journal(tmp_path / f"h{i}.jsonl"),
            progress=said.append,
            sit_out=frozenset({round_id + 1}),
        )
        for i in (VICTIM, 0, 1)
    ]
    for agent in agents:
        agent.step()
    assert any("disputed the exclusion of its update" in s for s in said)
    assert rm.getExclusion(round_id, VICTIM).upheld and rm.getRound(round_id).phase == Phase.INVALIDATED
