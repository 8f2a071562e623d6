"""A party's local journal: what it did, one JSON object per line, appended and fsynced.

A hospital records ``sent`` only after its submission's transaction receipt (the chain holds it); the
aggregator records ``finalized`` after its finalization's receipt. Nothing secret is written: round ids,
transaction hashes, CIDs, reasons. A restarted party reads its state from the chain, not from here; the
journal is what it reports (and what the end-to-end test checks against the chain).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl_dapp.exceptions import ConfigError


@dataclass(frozen=True)
class Journal:
    """An append-only JSON-lines file."""

    path: Path

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append ``{"event": event, "time": <unix s>, **fields}`` durably; returns the entry."""
        entry = {"event": event, "time": round(time.time(), 3), **fields}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return entry

    def entries(self, event: str | None = None) -> list[dict[str, Any]]:
        """Every entry (of ``event`` only, when given), oldest first. A torn last line (a crash mid-write) is
        ignored; a malformed line elsewhere is an error.

        Raises:
            ConfigError: a line other than the last is not a JSON object.
        """
        if not self.path.is_file():
            return []
        lines = self.path.read_text().splitlines()
        out: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                if i == len(lines) - 1:
                    break
                raise ConfigError(f"{self.path}, line {i + 1}: not a journal entry ({exc})") from exc
            if event is None or entry.get("event") == event:
                out.append(entry)
        return out


def party_dir(workdir: Path, role: str) -> Path:
    """A party's own folder in a work directory (its lock and journal)."""
    return workdir / "parties" / role


def journal_for(workdir: Path, role: str) -> Journal:
    """``role``'s journal in a work directory."""
    return Journal(party_dir(workdir, role) / "journal.jsonl")
