"""A round interrupted mid-way (a crash, Ctrl-C while proving, anvil gone) is resumed or aborted from chain
state, and nothing reported as submitted is lost or sent twice."""

from __future__ import annotations

import ape
import pytest

from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round, read_submissions
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import RoundError
from zkfl_dapp.protocol.consortium import Consortium, Roles
from zkfl_dapp.protocol.hospital import fetch_enclave_key, fetch_global_model
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.e2e


@pytest.fixture
def journal() -> list[str]:
    return []


@pytest.fixture
def consortium(tmp_path, suite, admin, aggregator, hospitals, auditor, journal) -> Consortium:
    settings = Settings(workdir=tmp_path / "consortium", hospitals=5, norm_bound="off")
    roles = Roles(admin, aggregator, tuple(hospitals[:5]), auditor)
    return Consortium.bootstrap(
        settings,
        ape.project,
        ape.chain,
        roles,
        EmbeddedStore(settings.store_dir),
        suite,
        progress=journal.append,
        checkpoint=lambda: journal.append("<checkpoint>"),
    )


def _interrupted_round(c: Consortium, submitting: int) -> int:
    """Open a round and let the first ``submitting`` hospitals submit, then 'crash' (stop driving it)."""
    round_id = c._open_round(None, None)
    rm = c.deployment.round_manager
    info = read_round(rm, round_id)
    model = fetch_global_model(
        c.storage, c.spec, info.prev_model_commitment, info.prev_model_cid, suite=c.enclave.circuits
    )
    key = fetch_enclave_key(c.storage, c.deployment.registry)
    for h in c.hospitals[:submitting]:
        h.submit(rm, h.prepare_update(round_id, model, key))
    return round_id


def test_a_new_round_is_refused_while_one_is_open_and_says_what_to_run(consortium):
    _interrupted_round(consortium, 2)
    with pytest.raises(RoundError, match=r"still open .* `ape run round --resume`"):
        consortium.run_round()


def test_an_interrupted_round_resumes_without_sending_anything_twice(consortium):
    round_id = _interrupted_round(consortium, 2)
    rm = consortium.deployment.round_manager
    before = [(s.hospital, s.commitment, s.cid) for s in read_submissions(rm, round_id)]
    report = consortium.resume_round()
    assert report.round_id == round_id
    info = read_round(rm, round_id)
    assert info.phase == Phase.FINALIZED
    subs = read_submissions(rm, round_id)
    assert len(subs) == 5 and len({s.hospital for s in subs}) == 5  # each hospital exactly once
    assert [(s.hospital, s.commitment, s.cid) for s in subs[:2]] == before  # kept, not resent
    assert report.excluded == []
    with pytest.raises(RoundError, match="already finalized"):
        consortium.resume_round()  # idempotent: nothing left to do is said, not redone
    consortium.run_round()  # and the consortium goes on


def test_an_open_round_can_be_aborted_after_its_deadline(consortium):
    rm = consortium.deployment.round_manager
    model_before = rm.currentModel()
    round_id = _interrupted_round(consortium, 1)
    assert consortium.abort_open_round() == round_id
    assert read_round(rm, round_id).phase == Phase.ABORTED
    assert tuple(rm.currentModel()) == tuple(model_before)
    with pytest.raises(RoundError, match="already aborted"):
        consortium.abort_open_round()
    assert consortium.run_round().round_id == round_id + 1


def test_submitted_is_reported_only_after_the_chain_state_is_saved(consortium, journal):
    consortium.run_round()
    submitted = [i for i, line in enumerate(journal) if " submitted " in line]
    assert len(submitted) == 5
    assert all(journal[i - 1] == "<checkpoint>" for i in submitted)
    assert journal[-1] == "<checkpoint>"  # the finalization and its report are saved too


def test_a_lost_model_file_is_reported_rolled_back_and_the_consortium_goes_on(consortium, journal):
    """The enclave (or the store) loses the finalized model file: no single party can stall the consortium.
    The hospitals report it, a quorum rolls the round back on-chain, and the next round starts from the
    previous model and finalizes."""
    rm = consortium.deployment.round_manager
    first = consortium.run_round()
    before = read_round(rm, first.round_id)
    second = consortium.run_round()
    lost = consortium.settings.store_dir / "blocks" / second.model_cid
    assert lost.is_file()
    lost.unlink()  # the published model is gone

    third = consortium.run_round()

    assert read_round(rm, second.round_id).phase == Phase.ROLLED_BACK
    assert any("rolled back" in line for line in journal)
    info = read_round(rm, third.round_id)
    assert info.phase == Phase.FINALIZED
    assert (info.prev_model_commitment, info.prev_model_cid) == (before.new_model_commitment, before.new_model_cid)
