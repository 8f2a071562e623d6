"""`zkfl auditor`'s per-round lines: an open round is never "audit passed", each closed round's verdict is
printed once, and a restarted auditor does not print the old rounds again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from zkfl_dapp.apps.verdicts import RoundVerdicts


def _r(round_id: int, phase: str) -> SimpleNamespace:
    return SimpleNamespace(round_id=round_id, phase=phase)


def test_an_open_round_is_shown_as_open_once_then_its_verdict_once(tmp_path: Path) -> None:
    v = RoundVerdicts(tmp_path / "shown.json")
    assert v.new_lines([_r(1, "open")], []) == ["round 1: open (audited once it closes)"]
    assert v.new_lines([_r(1, "open")], []) == []
    assert v.new_lines([_r(1, "finalized")], []) == ["round 1: finalized: audit passed"]
    assert v.new_lines([_r(1, "finalized")], []) == []


def test_a_failed_round_says_failed(tmp_path: Path) -> None:
    v = RoundVerdicts(tmp_path / "shown.json")
    lines = v.new_lines([_r(1, "finalized"), _r(2, "aborted")], [SimpleNamespace(round_id=2)])
    assert lines == ["round 1: finalized: audit passed", "round 2: aborted: audit FAILED"]


def test_a_restarted_auditor_prints_only_what_is_new(tmp_path: Path) -> None:
    state = tmp_path / "shown.json"
    RoundVerdicts(state).new_lines([_r(1, "finalized"), _r(2, "open")], [])
    again = RoundVerdicts(state)
    assert again.new_lines([_r(1, "finalized"), _r(2, "open")], []) == []
    assert again.new_lines([_r(1, "finalized"), _r(2, "finalized")], []) == ["round 2: finalized: audit passed"]


def test_an_unreadable_state_file_shows_everything_again(tmp_path: Path) -> None:
    state = tmp_path / "shown.json"
    state.write_text("{not json")
    assert RoundVerdicts(state).new_lines([_r(1, "finalized")], []) == ["round 1: finalized: audit passed"]
