"""The state file shared with the original tool and the tools that read it.

``/Library/Application Support/mdm-watchdog/state.json`` holds ``last_mdm_kickstart``
and ``last_software_update_kickstart`` as RFC 3339 strings; Go's zero time
(``0001-01-01T00:00:00Z``) means "never". MunkiReport's ``mdm_status`` module and
Watchman's plugin read exactly these keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from watchdog_mdm.system import System

__all__ = ["STATE_PATH", "Kickstarts", "load_kickstarts", "parse_rfc3339"]

STATE_DIR = "/Library/Application Support/mdm-watchdog"
STATE_PATH = f"{STATE_DIR}/state.json"
NEVER = "0001-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class Kickstarts:
    """When each daemon was last restarted by mdm-watchdog (None: never)."""

    mdm_client: datetime | None = None
    software_update: datetime | None = None


def parse_rfc3339(value: object) -> datetime | None:
    """A stored time, or None for the zero time, a missing value or an unreadable one."""
    if not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def load_kickstarts(system: System) -> Kickstarts:
    """Read the kickstart times; a missing or unreadable state file means "never"."""
    data = system.read_bytes(STATE_PATH)
    if data is None:
        return Kickstarts()
    try:
        state = json.loads(data)
    except ValueError:
        return Kickstarts()
    if not isinstance(state, dict):
        return Kickstarts()
    return Kickstarts(
        mdm_client=parse_rfc3339(state.get("last_mdm_kickstart")),
        software_update=parse_rfc3339(state.get("last_software_update_kickstart")),
    )
