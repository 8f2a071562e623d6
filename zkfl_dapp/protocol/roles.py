"""The accounts that act in a consortium: the admin, the aggregator (enclave), the hospitals, the auditor.

A module of its own because both the consortium's bootstrap (:mod:`.consortium`) and the round driver
(:mod:`.rounds`) take them: the round driver runs rounds for any consortium and must not depend on the
module that deploys one (the two used to import each other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Roles:
    """The accounts that act in the consortium."""

    admin: Any
    aggregator: Any
    hospitals: tuple[Any, ...]
    auditor: Any | None = None  # admitted as the consortium's auditor when given
