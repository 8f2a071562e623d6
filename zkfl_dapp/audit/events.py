"""Reading the contracts' events and the registry's membership history for the audit."""

from __future__ import annotations

from typing import Any

from zkfl_dapp.audit.report import MembershipEvent
from zkfl_dapp.chain.enums import Role

# --- chain access --------------------------------------------------------------------------------


def _logs(event: Any, head: int) -> list[Any]:
    return sorted(event.range(0, head + 1), key=lambda log: (int(log.block_number), int(log.log_index)))


def _args(log: Any) -> dict[str, Any]:
    return dict(log.event_arguments)


def _same_address(a: Any, b: Any) -> bool:
    return str(a).lower() == str(b).lower()


def _role_name(value: Any) -> str:
    try:
        return Role(int(value)).name.lower()
    except (ValueError, TypeError):
        return str(value)


def membership_history(registry: Any, head: int) -> list[MembershipEvent]:
    """Registry events (admissions, removals, enclave keys) in chain order."""
    events: list[tuple[int, int, MembershipEvent]] = []
    for log in _logs(registry.MemberAdmitted, head):
        a = _args(log)
        ev = MembershipEvent(
            block=int(log.block_number),
            action="admitted",
            account=str(a["account"]),
            role=_role_name(a["role"]),
            name=str(a["name"]),
        )
        events.append((int(log.block_number), int(log.log_index), ev))
    for log in _logs(registry.MemberRemoved, head):
        a = _args(log)
        ev = MembershipEvent(
            block=int(log.block_number), action="removed", account=str(a["account"]), role=_role_name(a["role"])
        )
        events.append((int(log.block_number), int(log.log_index), ev))
    for log in _logs(registry.EnclaveKeyRegistered, head):
        a = _args(log)
        ev = MembershipEvent(
            block=int(log.block_number),
            action="enclave key",
            account=str(a["aggregator"]),
            role="aggregator",
            detail=str(a["keyCid"]),
        )
        events.append((int(log.block_number), int(log.log_index), ev))
    return [e for _, _, e in sorted(events, key=lambda t: (t[0], t[1]))]
