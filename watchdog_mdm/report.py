"""Rendering results: the original's one-line output, JSON, and the explained evidence.

Every output of mdm-watchdog about a diagnosis is rendered here, from one
:class:`~watchdog_mdm.diagnose.Outcome`, so the text line, the JSON object and the
system-log line can never disagree.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from watchdog_mdm.config import format_duration
from watchdog_mdm.diagnose import Outcome
from watchdog_mdm.evidence import Command, Sighting, is_software_update_command

__all__ = ["SCHEMA_VERSION", "diagnose_line", "explain", "to_json", "verdict_keys"]

SCHEMA_VERSION = 1

VERDICT_KEYS = ("MDMEnrolled", "MDMIdentityError", "MDMClientStuck", "MDMSoftwareUpdatesStuck")


def verdict_keys(outcome: Outcome) -> dict[str, bool | None]:
    d = outcome.diagnosis
    return dict(zip(VERDICT_KEYS, (d.enrolled, d.identity_error, d.client_stuck,
                                   d.updates_stuck), strict=True))


def _word(value: bool | None) -> str:
    return "unknown" if value is None else str(value).lower()


def diagnose_line(outcome: Outcome) -> str:
    """``MDMEnrolled: true MDMIdentityError: false MDMClientStuck: ... `` as the original."""
    return " ".join(f"{key}: {_word(value)}" for key, value in verdict_keys(outcome).items())


def judged_line(outcome: Outcome) -> str:
    d = outcome.diagnosis
    return (f"Judged as of {_time(d.judged_at)} ({outcome.judged_at_source}); "
            f"window {format_duration(d.window)}, history {format_duration(d.history)}.")


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _sighting(value: Sighting | None) -> dict[str, Any] | None:
    return None if value is None else {"time": _time(value.time), "message": value.message}


def _command(outcome: Outcome, command: Command | None) -> dict[str, Any] | None:
    if command is None:
        return None
    d = outcome.diagnosis
    return {
        "time": _time(command.time),
        "request_type": command.request_type,
        "status": command.status,
        "software_update": is_software_update_command(
            command, d.observations, d.judged_at - d.history),
        "message": command.message,
    }


def evidence(outcome: Outcome) -> dict[str, Any]:
    d = outcome.diagnosis
    obs = d.observations
    e = d.enrollment
    return {
        "judged_at": _time(d.judged_at),
        "judged_at_source": outcome.judged_at_source,
        "window_minutes": int(d.window.total_seconds() // 60),
        "history_hours": round(d.history.total_seconds() / 3600, 2),
        "reasons": dict(d.reasons),
        "enrollment": {
            "source": e.source,
            "enrolled": e.enrolled,
            "enrolled_via_dep": e.enrolled_via_dep,
            "mdm_enrollment": e.mdm_enrollment,
            "mdm_server": e.mdm_server,
        },
        "last_device_exchange": _sighting(obs.last_device_success),
        "last_failed_device_exchange": _sighting(obs.last_device_failure),
        "last_user_channel_exchange": _sighting(obs.last_user_success),
        "last_command": _command(outcome, obs.last_command),
        "identity_errors": [_sighting(s) for s in obs.identity_errors],
        "last_software_update_progress": _sighting(obs.last_update_progress),
        "last_ddm_update_enforcement": _sighting(obs.last_ddm_enforcement),
        "log": {
            "lines_read": outcome.log.lines_read,
            "entries_read": outcome.log.entries_read,
            "lines_skipped": outcome.log.lines_skipped,
            "timestamps_without_offset": outcome.log.naive_timestamps,
            "zone_assumed_for_them": outcome.log.naive_zone,
            "relevant_entries": obs.relevant_entries,
            "newest_entry": _time(obs.newest_entry),
            "queries": [list(q) for q in outcome.queries],
        },
    }


def to_json(outcome: Outcome) -> str:
    """The original's eight keys, then ours: schema version and evidence."""
    document: dict[str, Any] = dict(verdict_keys(outcome))
    document |= {
        "MDMClientRestarted": outcome.mdm_client_restarted,
        "SoftwareUpdateDaemonRestarted": outcome.software_update_restarted,
        "LastMDMKickstart": _time(outcome.kickstarts.mdm_client),
        "LastSoftwareUpdateDaemonKickstart": _time(outcome.kickstarts.software_update),
        "schema_version": SCHEMA_VERSION,
        "evidence": evidence(outcome),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def explain(outcome: Outcome) -> str:
    """The evidence in words, one verdict per paragraph, for the admin reading it."""
    d = outcome.diagnosis
    obs = d.observations
    lines = [judged_line(outcome), ""]
    for key, value in verdict_keys(outcome).items():
        lines.append(f"{key}: {_word(value)}")
        lines.append(f"  because {d.reasons[key]}")
    lines.append("")
    facts = (
        ("Last device-channel HTTP 200", obs.last_device_success),
        ("Last failed device-channel response", obs.last_device_failure),
        ("Last user-channel HTTP 200", obs.last_user_success),
        ("Last softwareupdated progress", obs.last_update_progress),
    )
    for label, sighting in facts:
        if sighting is not None:
            lines.append(f"{label}: {_time(sighting.time)}  {sighting.message}")
    if obs.last_command is not None:
        c = obs.last_command
        status = f" ({c.status})" if c.status else ""
        lines.append(f"Last MDM command: {c.request_type}{status} at {_time(c.time)}")
    for sighting in obs.identity_errors:
        lines.append(f"Identity error: {_time(sighting.time)}  {sighting.message}")
    lines.append(
        f"Log read: {outcome.log.lines_read} lines, {outcome.log.entries_read} entries, "
        f"{obs.relevant_entries} relevant, {outcome.log.lines_skipped} lines skipped."
    )
    if outcome.log.naive_timestamps:
        lines.append(
            f"{outcome.log.naive_timestamps} timestamps had no UTC offset (compact style) and "
            f"were read as {outcome.log.naive_zone}; pass --tz to name the Mac's zone."
        )
    return "\n".join(lines)
