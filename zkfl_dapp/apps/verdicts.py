"""What ``zkfl auditor`` prints per round: each closed round's verdict once, an open round as open (never as
"audit passed": there is nothing to pass yet), and nothing again after a restart.

Follow mode re-audits the whole deployment each time a round closes; the rounds already shown are kept in
``shown.json`` beside the reports, so a restarted auditor prints only what is new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol


class _RoundAudit(Protocol):
    @property
    def round_id(self) -> int: ...
    @property
    def phase(self) -> str: ...


class _Finding(Protocol):
    @property
    def round_id(self) -> int | None: ...


class RoundVerdicts:
    """The per-round lines of an auditor, remembered in ``state_file`` across restarts."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self._closed: set[int] = set()
        self._open: set[int] = set()
        try:
            saved = json.loads(state_file.read_text())
            self._closed = {int(r) for r in saved.get("closed", [])}
            self._open = {int(r) for r in saved.get("open", [])}
        except FileNotFoundError:
            pass
        except (ValueError, TypeError, AttributeError):
            self._closed, self._open = set(), set()  # unreadable: show everything again, nothing is lost

    def new_lines(self, rounds: Iterable[_RoundAudit], errors: Iterable[_Finding]) -> list[str]:
        """The lines to print now: a round that closed since the last call with its verdict, a newly opened round
        as open; then remembers them."""
        failed = {f.round_id for f in errors}
        lines: list[str] = []
        for ra in rounds:
            if ra.round_id in self._closed:
                continue
            if ra.phase == "open":
                if ra.round_id not in self._open:
                    self._open.add(ra.round_id)
                    lines.append(f"round {ra.round_id}: open (audited once it closes)")
                continue
            self._closed.add(ra.round_id)
            verdict = "FAILED" if ra.round_id in failed else "passed"
            lines.append(f"round {ra.round_id}: {ra.phase}: audit {verdict}")
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"closed": sorted(self._closed), "open": sorted(self._open)}))
        return lines
