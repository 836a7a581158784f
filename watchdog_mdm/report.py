"""Rendering results: the original's one-line output, JSON, and the explained evidence.

Every output of mdm-watchdog about a diagnosis is rendered here, from one
:class:`~watchdog_mdm.diagnose.Outcome`, so the text line, the JSON object and the
system-log line can never disagree.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from watchdog_mdm.config import format_duration
from watchdog_mdm.diagnose import Outcome
from watchdog_mdm.evidence import Command, Sighting, is_software_update_command
from watchdog_mdm.keys import HealKey, Verdict
from watchdog_mdm.state import NEVER, parse_rfc3339

if TYPE_CHECKING:
    from watchdog_mdm.heal import DaemonResult

__all__ = [
    "SCHEMA_VERSION",
    "diagnose_line",
    "explain",
    "go_time",
    "heal_line",
    "to_document",
    "to_json",
    "verdict_keys",
]

SCHEMA_VERSION = 1

def verdict_keys(outcome: Outcome) -> dict[Verdict, bool | None]:
    d = outcome.diagnosis
    return dict(zip(Verdict, (d.enrolled, d.identity_error, d.client_stuck, d.updates_stuck),
                    strict=True))


def _word(value: bool | None) -> str:
    return "unknown" if value is None else str(value).lower()


def diagnose_line(outcome: Outcome) -> str:
    """``MDMEnrolled: true MDMIdentityError: false MDMClientStuck: ... `` as the original."""
    return " ".join(f"{key}: {_word(value)}" for key, value in verdict_keys(outcome).items())


def go_time(value: datetime | None, local: tzinfo | None = None) -> str:
    """A time as the original (Go's ``time.Time.String``) prints it.

    ``2026-11-20 14:30:00.25 +0000 UTC``; trailing zeros of the fraction dropped; the
    zone's abbreviation when it is the Mac's local zone, else the offset again, as Go
    does for a time parsed with a foreign offset; the zero time for never.
    """
    if value is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    fraction = f"{value.microsecond:06d}".rstrip("0")
    text = value.strftime("%Y-%m-%d %H:%M:%S") + (f".{fraction}" if fraction else "")
    offset = value.strftime("%z")
    if offset == "+0000":
        return f"{text} +0000 UTC"
    name = value.tzname()
    if local is not None and local.utcoffset(value) == value.utcoffset():
        name = local.tzname(value)
    if not name or name.startswith("UTC"):
        name = offset
    return f"{text} {offset} {name}"


def heal_line(outcome: Outcome, local: tzinfo | None = None) -> str:
    """The original's `-heal` line: eight keys in its order."""
    fields: list[tuple[str, str]] = [(k, _word(v)) for k, v in verdict_keys(outcome).items()]
    fields += [
        (HealKey.MDM_CLIENT_RESTARTED, _word(outcome.mdm_client_restarted)),
        (HealKey.SOFTWARE_UPDATE_RESTARTED, _word(outcome.software_update_restarted)),
        (HealKey.LAST_MDM_KICKSTART, go_time(outcome.kickstarts.mdm_client, local)),
        (HealKey.LAST_SOFTWARE_UPDATE_KICKSTART, go_time(outcome.kickstarts.software_update,
                                                         local)),
    ]
    return " ".join(f"{key}: {value}" for key, value in fields)


def line_from_document(document: dict[str, Any], local: tzinfo | None = None) -> str:
    """The -heal line again, from a stored JSON result (state.json's last_run)."""
    fields = []
    for key in (*Verdict, HealKey.MDM_CLIENT_RESTARTED, HealKey.SOFTWARE_UPDATE_RESTARTED):
        value = document.get(key)
        fields.append(f"{key}: {_word(value if isinstance(value, bool) else None)}")
    for key in (HealKey.LAST_MDM_KICKSTART, HealKey.LAST_SOFTWARE_UPDATE_KICKSTART):
        try:
            when = parse_rfc3339(document.get(key) or NEVER)
        except ValueError:
            when = None
        fields.append(f"{key}: {go_time(when, local)}")
    return " ".join(fields)


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
            "bytes_read": outcome.log.bytes_read,
            "candidate_lines": outcome.log.candidate_lines,
            "entries_read": outcome.log.entries_read,
            "lines_skipped": outcome.log.lines_skipped,
            "timestamps_without_offset": outcome.log.naive_timestamps,
            "zone_assumed_for_them": outcome.log.naive_zone,
            "utf16_inputs": outcome.log.utf16_inputs,
            "relevant_entries": obs.relevant_entries,
            "newest_entry": _time(obs.newest_entry),
            "queries": [list(q) for q in outcome.queries],
        },
    }


def _daemon_result(result: DaemonResult) -> dict[str, Any]:
    return {
        "daemon": result.action.daemon.name,
        "decision": result.action.decision,
        "reason": result.action.reason,
        "planned_commands": [list(c) for c in result.action.commands],
        "commands": [{"argv": list(c.argv), "returncode": c.returncode, "detail": c.detail}
                     for c in result.commands],
        "method": result.method,
        "restarted": result.restarted,
        "verified": result.verified,
        "new_pid": result.new_pid,
        "problem": result.problem,
    }


def healing(outcome: Outcome) -> dict[str, Any] | None:
    if outcome.healing is None:
        return None
    return {
        "dry_run": outcome.dry_run,
        "state_problem": outcome.state_problem,
        "previous_run": _time(outcome.previous_run),
        "missed_runs": outcome.missed_runs,
        "daemons": [_daemon_result(r) for r in outcome.healing],
    }


def to_document(outcome: Outcome) -> dict[str, Any]:
    """The original's eight keys, then ours: schema version, healing, evidence."""
    document: dict[str, Any] = dict(verdict_keys(outcome).items())
    document |= {
        HealKey.MDM_CLIENT_RESTARTED: outcome.mdm_client_restarted,
        HealKey.SOFTWARE_UPDATE_RESTARTED: outcome.software_update_restarted,
        HealKey.LAST_MDM_KICKSTART: _time(outcome.kickstarts.mdm_client),
        HealKey.LAST_SOFTWARE_UPDATE_KICKSTART: _time(outcome.kickstarts.software_update),
        "schema_version": SCHEMA_VERSION,
        "heal": healing(outcome),
        "evidence": evidence(outcome),
    }
    return document


def to_json(outcome: Outcome) -> str:
    return json.dumps(to_document(outcome), indent=2, ensure_ascii=False)


def healing_lines(outcome: Outcome) -> list[str]:
    """One line per daemon: what was done, or would be, or why not."""
    lines = []
    if outcome.missed_runs:
        lines.append(f"{outcome.missed_runs} scheduled run(s) were missed since the last "
                     f"one at {_time(outcome.previous_run)} (the Mac was asleep or off)")
    for result in outcome.healing or ():
        name = result.action.daemon.name
        if not result.action.restarts:
            lines.append(f"{name}: not restarted ({result.action.decision}): "
                         f"{result.action.reason}")
        elif outcome.dry_run:
            commands = "; ".join(" ".join(c) for c in result.action.commands)
            lines.append(f"{name}: dry run, would run: {commands}")
        elif result.restarted:
            confirmed = ("a fresh process is running" + (f" (pid {result.new_pid})"
                         if result.new_pid else "") if result.verified
                         else "no fresh process seen yet")
            lines.append(f"{name}: restarted by {result.method}; {confirmed}")
        else:
            lines.append(f"{name}: restart failed: {result.problem}")
    return lines


def explain(outcome: Outcome) -> str:
    """The evidence in words, one verdict per paragraph, for the admin reading it."""
    d = outcome.diagnosis
    obs = d.observations
    lines = [judged_line(outcome), ""]
    if outcome.healing is not None:
        lines += [*healing_lines(outcome), ""]
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
        f"Log read: {outcome.log.bytes_read} bytes searched, {outcome.log.candidate_lines} "
        f"lines with a marker, {outcome.log.entries_read} entries parsed, "
        f"{obs.relevant_entries} relevant, {outcome.log.lines_skipped} unreadable."
    )
    if outcome.log.naive_timestamps:
        lines.append(
            f"{outcome.log.naive_timestamps} timestamps had no UTC offset (compact style) and "
            f"were read as {outcome.log.naive_zone}; pass --tz to name the Mac's zone."
        )
    return "\n".join(lines)
