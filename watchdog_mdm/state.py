"""The state file shared with the original tool and the tools that read it.

``/Library/Application Support/mdm-watchdog/state.json`` keeps ``last_mdm_kickstart``
and ``last_software_update_kickstart`` exactly as the original wrote them: RFC 3339 with
microseconds and a ``+hh:mm`` offset, Go's zero time ``0001-01-01T00:00:00Z`` for
"never". MunkiReport's ``mdm_status`` module and Watchman's plugin read these keys. Our
own keys sit beside them: ``schema_version`` and ``last_run`` (the last `-heal` run's
times, error and full result), so inventory scripts never re-run checks or scrape logs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from watchdog_mdm.awake import QuietLedger
from watchdog_mdm.client_state import Memory
from watchdog_mdm.evidence import Progress, Sighting
from watchdog_mdm.keys import StateKey

if TYPE_CHECKING:  # only named in annotations: the seam's machinery is not loaded
    from watchdog_mdm.system import System

__all__ = [
    "LOCK_PATH",
    "NEVER",
    "STATE_DIR",
    "STATE_PATH",
    "Kickstarts",
    "State",
    "StateError",
    "load_kickstarts",
    "load_memory",
    "load_state",
    "parse_rfc3339",
    "read_state_document",
    "save_state",
]

STATE_DIR = "/Library/Application Support/mdm-watchdog"
STATE_PATH = f"{STATE_DIR}/state.json"
LOCK_PATH = f"{STATE_DIR}/.lock"
NEVER = "0001-01-01T00:00:00Z"
# The zero time as the original writes it, and as Go's RFC 3339 may spell it: the only
# values meaning "never". Anything else starting with the year 1 is read as a time.
NEVER_VALUES = frozenset({NEVER, "0001-01-01T00:00:00+00:00"})
SCHEMA_VERSION = 1
KICKSTART_KEYS = (StateKey.LAST_MDM_KICKSTART, StateKey.LAST_SOFTWARE_UPDATE_KICKSTART)


class StateError(Exception):
    """The state could not be saved; the message is one line."""


@dataclass(frozen=True, slots=True)
class Kickstarts:
    """When each daemon was last restarted by mdm-watchdog (None: never)."""

    mdm_client: datetime | None = None
    software_update: datetime | None = None


@dataclass(frozen=True, slots=True)
class State:
    """Everything in state.json."""

    kickstarts: Kickstarts = Kickstarts()
    last_run: dict[str, Any] | None = None
    memory: Memory = field(default_factory=Memory)
    # Keys written by someone else (the original, a newer version) are kept as they were.
    other: dict[str, Any] = field(default_factory=dict)

    def with_kickstarts(self, kickstarts: Kickstarts) -> State:
        return replace(self, kickstarts=kickstarts)


def parse_rfc3339(value: object) -> datetime | None:
    """A stored time, or None for the zero time. Raises ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    if value in NEVER_VALUES:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without an offset: {value!r}")
    return parsed


def format_rfc3339(value: datetime | None) -> str:
    """``2026-11-20T14:30:00.250000+00:00``, or the zero time for never."""
    return NEVER if value is None else value.isoformat(timespec="microseconds")


def _document(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def _decode(document: dict[str, Any], now: datetime) -> tuple[State, list[str]]:
    """The state in a JSON object. A kickstart time that cannot be read counts as now:
    the daemon then waits one cooldown, rather than being restarted too soon."""
    times: list[datetime | None] = []
    problems: list[str] = []
    for key in KICKSTART_KEYS:
        try:
            times.append(parse_rfc3339(document.get(key, NEVER)))
        except ValueError:
            times.append(now)
            problems.append(
                f"{STATE_PATH}: {key} {document.get(key)!r} is not a time; counting it as now"
            )
    last_run = document.get(StateKey.LAST_RUN)
    other = {k: v for k, v in document.items() if k not in tuple(StateKey)}
    stored = document.get(StateKey.MDM_CLIENT)
    memory = read_memory(stored)
    if stored is not None and memory == Memory():
        other[StateKey.MDM_CLIENT] = stored  # a shape this version cannot read: kept as it was
    state = State(
        Kickstarts(*times),
        last_run if isinstance(last_run, dict) else None,
        memory,
        other,
    )
    return state, problems


def read_memory(stored: object) -> Memory:
    """What earlier runs remembered of mdmclient; any part that cannot be read is
    forgotten (the next run reads the log for it again), never guessed."""
    if not isinstance(stored, dict):
        return Memory()
    exchange = stored.get("last_exchange")
    success = None
    if isinstance(exchange, dict) and isinstance(exchange.get("message"), str):
        time = _reported(exchange.get("time"))
        success = None if time is None else Sighting(time, exchange["message"])
    return Memory(
        success,
        _read_ledger(stored.get("quiet")),
        _reported(stored.get("quiet_restart_for")),
        _read_progress(stored.get("last_update_progress")),
    )


def _read_progress(stored: object) -> Progress | None:
    if not isinstance(stored, dict):
        return None
    time = _reported(stored.get("time"))
    phase, edge, portion = stored.get("phase"), stored.get("edge"), stored.get("portion")
    if time is None or not isinstance(phase, str) or not isinstance(edge, str):
        return None
    if not (phase.replace("_", "").isalnum() and phase.isupper() and edge.isalpha()):
        return None
    number = (
        float(portion)
        if isinstance(portion, int | float)
        and not isinstance(portion, bool)
        and math.isfinite(portion)
        else None
    )
    return Progress(time, phase[:64], edge[:16], number)


def _read_ledger(stored: object) -> QuietLedger | None:
    if not isinstance(stored, dict):
        return None
    since = _reported(stored.get("since"))
    until = _reported(stored.get("accounted_until"))
    seconds = stored.get("seconds")
    online = stored.get("online")
    if (
        since is None
        or until is None
        or isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds < 1e9
        or not (online is None or isinstance(online, bool))
    ):
        return None
    return QuietLedger(since, timedelta(seconds=seconds), until, online)


def memory_document(memory: Memory) -> dict[str, Any]:
    success, ledger, progress = memory.last_success, memory.quiet, memory.last_update_progress
    return {
        "last_exchange": None
        if success is None
        else {"time": format_rfc3339(success.time), "message": success.message},
        "quiet": None
        if ledger is None
        else {
            "since": format_rfc3339(ledger.since),
            "seconds": round(ledger.quiet.total_seconds(), 3),
            "accounted_until": format_rfc3339(ledger.accounted_until),
            "online": ledger.online,
        },
        "quiet_restart_for": None
        if memory.quiet_restart_for is None
        else format_rfc3339(memory.quiet_restart_for),
        "last_update_progress": None
        if progress is None
        else {
            "time": format_rfc3339(progress.time),
            "phase": progress.phase,
            "edge": progress.edge,
            "portion": progress.portion,
        },
    }


def load_state(system: System, now: datetime, *, repair: bool = True) -> tuple[State, list[str]]:
    """Read the state; an empty, corrupt or unreadable file is not fatal.

    With ``repair`` such a file is moved aside (the next save starts fresh); without it
    (dry runs) nothing is touched. Returns the state and warnings for the admin.
    """
    try:
        data = system.read_bytes(STATE_PATH)
    except OSError as exc:
        data, problem = b"", f"unreadable ({exc.strerror or exc})"
    else:
        problem = "empty"
    if data is None:
        return State(), []
    if data.strip():
        try:
            return _decode(_document(data), now)
        except ValueError as exc:
            problem = f"corrupt ({exc})"
    if not repair:
        return State(), [f"{STATE_PATH} is {problem}; a real run would move it aside"]
    suffix = ".corrupt-" + now.strftime("%Y%m%dT%H%M%S")
    try:
        moved = system.move_aside(STATE_PATH, suffix)
    except OSError as exc:
        return State(), [
            f"{STATE_PATH} is {problem} and could not be moved aside "
            f"({exc.strerror or exc}); starting fresh"
        ]
    return State(), [f"{STATE_PATH} was {problem}; moved aside to {moved}; starting fresh"]


def read_state_document(system: System) -> dict[str, Any] | None:
    """state.json as stored, for reading only (inventory): None when missing.

    Raises ValueError when it cannot be read as a JSON object; never changes anything.
    """
    try:
        data = system.read_bytes(STATE_PATH)
    except OSError as exc:
        raise ValueError(f"{STATE_PATH} is unreadable ({exc.strerror or exc})") from exc
    if data is None:
        return None
    try:
        return _document(data)
    except ValueError as exc:
        raise ValueError(f"{STATE_PATH} is corrupt ({exc})") from exc


def load_kickstarts(system: System) -> Kickstarts:
    """The kickstart times for reporting; anything unreadable reads as "never"."""
    try:
        data = system.read_bytes(STATE_PATH)
        if not data:
            return Kickstarts()
        document = _document(data)
        return Kickstarts(*(_reported(document.get(key, NEVER)) for key in KICKSTART_KEYS))
    except (OSError, ValueError):
        return Kickstarts()


def load_memory(system: System) -> Memory:
    """What earlier runs remembered of mdmclient, for a run that saves nothing."""
    try:
        data = system.read_bytes(STATE_PATH)
        return read_memory(_document(data).get(StateKey.MDM_CLIENT)) if data else Memory()
    except (OSError, ValueError):
        return Memory()


def _reported(value: object) -> datetime | None:
    """A stored time, or None for never and for anything that is not a time."""
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def encode_state(state: State) -> bytes:
    document: dict[str, Any] = dict(state.other)
    document |= {
        StateKey.LAST_MDM_KICKSTART: format_rfc3339(state.kickstarts.mdm_client),
        StateKey.LAST_SOFTWARE_UPDATE_KICKSTART: format_rfc3339(state.kickstarts.software_update),
        StateKey.SCHEMA_VERSION: SCHEMA_VERSION,
    }
    if state.last_run is not None:
        document[StateKey.LAST_RUN] = state.last_run
    if state.memory != Memory():
        document[StateKey.MDM_CLIENT] = memory_document(state.memory)
    try:
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a foreign NaN or Infinity: strict JSON has no such numbers
        text = json.dumps(_finite(document), indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode()


def _finite(value: Any) -> Any:
    """``value`` with every NaN and infinity replaced by null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def save_state(system: System, state: State) -> None:
    """Write the state atomically and durably, or raise :class:`StateError`."""
    try:
        system.write_file(STATE_PATH, encode_state(state))
    except OSError as exc:
        raise StateError(f"could not save {STATE_PATH}: {exc.strerror or exc}") from exc
