"""The auditor's follow mode: audits the deployment each time a round closes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zkfl_dapp.apps.parties.context import CLOSED, Progress, _quiet
from zkfl_dapp.chain.deployment import Deployment
from zkfl_dapp.chain.views import read_round


@dataclass
class AuditFollower:
    """Audits each round as it closes (the whole deployment each time: the checks chain round to round)."""

    run_audit: Callable[[], Any]
    deployment: Deployment
    progress: Progress = _quiet
    audited: int = 0

    def step(self) -> Any | None:
        """Audit once a round closed since the last audit; returns the report (None: nothing new)."""
        rm = self.deployment.round_manager
        latest = int(rm.currentRoundId())
        closed = latest if latest and read_round(rm, latest).phase in CLOSED else latest - 1
        if closed <= self.audited:
            return None
        report = self.run_audit()
        self.audited = closed
        return report
