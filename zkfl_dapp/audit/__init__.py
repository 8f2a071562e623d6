"""The independent audit of a deployment, from the chain and the content store alone.

:func:`audit` (in :mod:`.auditor`) re-checks every round and returns an :class:`AuditReport`
(:mod:`.report`); :func:`record_audit` publishes it and records the verdicts on-chain. The checks live
in :mod:`.deployment_checks`, :mod:`.round_checks` and :mod:`.proof_checks`; :mod:`.events` reads the
contracts' events.
"""

from zkfl_dapp.audit.auditor import audit, record_audit
from zkfl_dapp.audit.report import AuditReport, Finding, RoundAudit

__all__ = ["AuditReport", "Finding", "RoundAudit", "audit", "record_audit"]
