"""The stored result, summed up for inventory: Jamf Pro extension attributes and kin.

Inventory runs often; it must never scan logs. `mdm-watchdog status` reads the last
`-heal` result from state.json and turns it into one overall status string for smart
groups, a one-line summary of the software update, and dates in the form Jamf Pro's
Date attributes take.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from watchdog_mdm.keys import RunKey, StateKey, Verdict

__all__ = [
    "FIELDS",
    "OVERALL",
    "SOFTWARE_UPDATE",
    "UPDATE_STATUSES",
    "VERDICT_STATUSES",
    "field_value",
    "last_result",
    "overall_status",
    "software_update_status",
]

# Three missed 95-minute runs in a row is normal sleep; two days is a Mac whose daemon
# is not running, whatever its last result said.
STALE_AFTER = timedelta(days=2)
JAMF_DATE = "%Y-%m-%d %H:%M:%S"

HEALTHY = "Healthy"
EVIDENCE_UNAVAILABLE = "Evidence unavailable"
NEVER_RUN = "Never run"
OVERALL = "overall"  # the field holding the overall status
SOFTWARE_UPDATE = "software-update"  # the update's one-line summary; the others are dates
JAMF_DAY = "%Y-%m-%d"


def _time(value: object) -> datetime | None:
    # here, not at the top: the command line needs FIELDS to start, not state.json's code
    from watchdog_mdm.state import parse_rfc3339  # noqa: PLC0415

    try:
        parsed = parse_rfc3339(value) if value is not None else None
        if parsed is not None:
            parsed.astimezone(UTC)  # an instant before the year 1 (0001-01-01T00:00+01:00)
    except (OverflowError, ValueError):
        return None
    return parsed


# Worst first: the first verdict that holds names the Mac's state.
VERDICT_STATUSES: tuple[tuple[Verdict, bool, str], ...] = (
    (Verdict.ENROLLED, False, "Not enrolled"),
    (Verdict.IDENTITY_ERROR, True, "Identity error"),
    (Verdict.UPDATES_STUCK, True, "Software updates stuck"),
    (Verdict.CLIENT_STUCK, True, "MDM client stuck"),
)


def overall_status(last_run: dict[str, Any] | None, now: datetime, local: tzinfo) -> str:
    """One string per state of the Mac, worst first, for smart groups."""
    started = _time((last_run or {}).get(RunKey.STARTED_AT))
    if last_run is None or started is None:
        return NEVER_RUN
    if now - started > STALE_AFTER:
        return f"Not run since {_jamf_date(started, local) or _strftime(started, JAMF_DATE)}"
    result = last_run.get(RunKey.RESULT)
    if not isinstance(result, dict):
        return EVIDENCE_UNAVAILABLE
    for key, value, status in VERDICT_STATUSES:
        if result.get(key) is value:
            return status
    # Healthy only when every verdict was reached: an unknown one (the log proved
    # nothing) is not a healthy Mac.
    if any(result.get(key) is None for key in Verdict) or last_run.get(RunKey.ERROR):
        return EVIDENCE_UNAVAILABLE
    return HEALTHY


def _strftime(value: datetime, form: str) -> str:
    # %Y is "1", not "0001", for the year 1 on some C libraries
    return value.strftime(form.replace("%Y", f"{value.year:04d}"))


def _jamf_date(value: object, local: tzinfo, form: str = JAMF_DATE) -> str:
    parsed = value if isinstance(value, datetime) else _time(value)
    if parsed is None:
        return ""
    try:
        return _strftime(parsed.astimezone(local), form)
    except (OverflowError, ValueError):  # a stored year 9999 with an offset, and kin
        return ""


# The summary of `software_update.state`, for an extension attribute and its smart
# groups ("like Overdue"): the label, then what the state says more.
UP_TO_DATE = "Up to date"
UNKNOWN = "Unknown"
UPDATE_STATUSES: dict[str, str] = {
    "overdue": "Overdue",
    "stalled": "Stalled",
    "looping": "Looping",
    "downloading": "Downloading",
    "preparing": "Preparing",
    "installing": "Installing",
    "pending": "Pending",
    "done": UP_TO_DATE,
    "none": UP_TO_DATE,
    "unknown": UNKNOWN,
}
# What of another program's strings may reach an inventory line: a version such as
# `26.1`, `26.1.1` or `13.3.1 (a)`, a phase such as `DOWNLOADING_UPDATE`; never a
# newline or markup that would break `<result>…</result>`. Compiled on first use (and
# kept by `re`): the command line imports this module, and most commands never use them.
_VERSION = r"[0-9A-Za-z][0-9A-Za-z.()_ -]{0,39}"
_PHASE = r"[A-Za-z][A-Za-z0-9_]{0,63}"


def _shown(value: object, pattern: str) -> str | None:
    if isinstance(value, str) and re.fullmatch(pattern, value):
        return value.strip()
    return None


def software_update_status(result: object, local: tzinfo) -> str:
    """One line for inventory from a stored result's `software_update`:
    ``Overdue: 26.1 since 2026-11-20``, ``Stalled: 26.1 in DOWNLOADING_UPDATE since
    2026-11-20 14:30:00``, ``Pending: 26.1 by 2026-11-20 18:00:00``, ``Up to date``,
    ``Unknown`` for anything unreadable. Dates in local time."""
    update = _dict(_dict(result).get("software_update"))
    state = update.get("state")
    label = UPDATE_STATUSES.get(state) if isinstance(state, str) else None
    if label is None or label in (UP_TO_DATE, UNKNOWN):
        return label or UNKNOWN
    line = label
    version = _shown(update.get("target_version"), _VERSION)
    if version:
        line += f": {version}"
    if state == "overdue":
        since = _jamf_date(update.get("deadline"), local, JAMF_DAY)
        return f"{line} since {since}" if since else line
    if state == "pending":
        by = _jamf_date(update.get("deadline"), local)
        return f"{line} by {by}" if by else line
    if state == "stalled":
        phase = _shown(update.get("phase"), _PHASE)
        since = _jamf_date(update.get("last_progress_at"), local)
        return line + (f" in {phase}" if phase else "") + (f" since {since}" if since else "")
    return line


def last_result(state: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result of the last -heal run, if it has the shape of one."""
    result = (_last_run(state) or {}).get(RunKey.RESULT)
    return result if isinstance(result, dict) else None


def _last_checkin(state: dict[str, Any]) -> object:
    """The newest device-channel exchange any run has seen: remembered across runs, so
    a Mac quiet for a week still shows when it last checked in; the last run's own
    evidence for a state written before runs remembered it."""
    # state.json is data another program may have written: any level may be any shape
    remembered = _dict(_dict(state.get(StateKey.MDM_CLIENT)).get("last_exchange")).get("time")
    if _time(remembered) is not None:
        return remembered
    evidence = _dict((last_result(state) or {}).get("evidence"))
    return _dict(evidence.get("last_device_exchange")).get("time")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _last_run(state: dict[str, Any]) -> dict[str, Any] | None:
    last_run = state.get(StateKey.LAST_RUN)
    return last_run if isinstance(last_run, dict) else None


_DATES: dict[str, Callable[[dict[str, Any]], object]] = {
    "last-mdm-kickstart": lambda state: state.get(StateKey.LAST_MDM_KICKSTART),
    "last-software-update-kickstart": lambda state: state.get(
        StateKey.LAST_SOFTWARE_UPDATE_KICKSTART
    ),
    "last-mdm-checkin": _last_checkin,
    "last-run": lambda state: (_last_run(state) or {}).get(RunKey.STARTED_AT),
}
FIELDS = (OVERALL, SOFTWARE_UPDATE, *_DATES)


def field_value(field: str, state: dict[str, Any], now: datetime, local: tzinfo) -> str:
    """One value for an extension attribute; dates as ``YYYY-MM-DD hh:mm:ss`` local time,
    empty when there is none (Jamf Pro stores an empty Date as no value)."""
    if field == OVERALL:
        return overall_status(_last_run(state), now, local)
    if field == SOFTWARE_UPDATE:
        return software_update_status(last_result(state), local)
    return _jamf_date(_DATES[field](state), local)
