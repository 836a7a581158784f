"""Rendering results: the original's one-line output, JSON, and the explained evidence.

Every output of mdm-watchdog about a diagnosis is rendered here: from an
:class:`~watchdog_mdm.diagnose.Examination` for `-diagnose` and ``analyze``, from a
:class:`~watchdog_mdm.run.HealRun` for `-heal`, so the text line, the JSON object, the
stored result and the system-log line can never disagree.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from watchdog_mdm.config import format_duration
from watchdog_mdm.diagnose import Examination
from watchdog_mdm.evidence import Command, Outcome, Sighting, is_software_update_command
from watchdog_mdm.keys import HealKey, Verdict
from watchdog_mdm.verdicts import Diagnosis

if TYPE_CHECKING:  # only named in annotations: analyze loads neither healing nor state
    from watchdog_mdm.heal import DaemonResult
    from watchdog_mdm.run import HealRun
    from watchdog_mdm.state import Kickstarts

__all__ = [
    "SCHEMA_VERSION",
    "diagnose_line",
    "explain",
    "explain_heal",
    "heal_document",
    "heal_line",
    "healing_lines",
    "judged_line",
    "line_from_document",
    "to_document",
    "to_json",
]

SCHEMA_VERSION = 1


def verdict_keys(examination: Examination) -> dict[Verdict, bool | None]:
    d = examination.diagnosis
    return dict(
        zip(Verdict, (d.enrolled, d.identity_error, d.client_stuck, d.updates_stuck), strict=True)
    )


def _word(value: bool | None) -> str:
    return "unknown" if value is None else str(value).lower()


def diagnose_line(examination: Examination) -> str:
    """``MDMEnrolled: true MDMIdentityError: false MDMClientStuck: ... `` as the original."""
    return " ".join(f"{key}: {_word(value)}" for key, value in verdict_keys(examination).items())


def go_time(value: datetime | None, local: tzinfo | None = None) -> str:
    """A time as the original (Go's ``time.Time.String``) prints it.

    ``2026-11-20 14:30:00.25 +0000 UTC``; trailing zeros of the fraction dropped; the
    zone's abbreviation when it is the Mac's local zone, else the offset again, as Go
    does for a time parsed with a foreign offset; the zero time for never.
    """
    if value is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    fraction = f"{value.microsecond:06d}".rstrip("0")
    # the year always in four digits, as Go prints it: strftime's %Y gives "1" for year
    # 1 on some C libraries
    text = f"{value.year:04d}-{value:%m-%d %H:%M:%S}" + (f".{fraction}" if fraction else "")
    offset = value.strftime("%z")
    if offset == "+0000":
        return f"{text} +0000 UTC"
    name = value.tzname()
    if local is not None and local.utcoffset(value) == value.utcoffset():
        name = local.tzname(value)
    if not name or name.startswith("UTC"):
        name = offset
    return f"{text} {offset} {name}"


def heal_line(run: HealRun, local: tzinfo | None = None) -> str:
    """The original's `-heal` line: eight keys in its order."""
    fields: list[tuple[str, str]] = [
        (k, _word(v)) for k, v in verdict_keys(run.examination).items()
    ]
    fields += [
        (HealKey.MDM_CLIENT_RESTARTED, _word(run.mdm_client_restarted)),
        (HealKey.SOFTWARE_UPDATE_RESTARTED, _word(run.software_update_restarted)),
        (HealKey.LAST_MDM_KICKSTART, go_time(run.kickstarts.mdm_client, local)),
        (HealKey.LAST_SOFTWARE_UPDATE_KICKSTART, go_time(run.kickstarts.software_update, local)),
    ]
    return " ".join(f"{key}: {value}" for key, value in fields)


def line_from_document(document: dict[str, Any], local: tzinfo | None = None) -> str:
    """The -heal line again, from a stored JSON result (state.json's last_run)."""
    # here, not at the top: only `status` reads stored results, and analyze never does
    from watchdog_mdm.state import NEVER, parse_rfc3339  # noqa: PLC0415

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


def judged_line(examination: Examination) -> str:
    d = examination.diagnosis
    return (
        f"Judged as of {_time(d.judged_at)} ({examination.judged_at_source}); "
        f"window {format_duration(d.window)}, history {format_duration(d.history)}."
    )


def span_line(examination: Examination) -> list[str]:
    """Where the span of an export judged starts (docs/detection.md), when offline."""
    if examination.judged_whole:
        return [
            "Judged over all of the export: over its last hours a verdict was stuck that "
            "older log contradicts, and a stuck verdict must hold over all of it."
        ]
    since = examination.judged_since
    if since is None:
        return []
    return [
        f"Judged over the entries from {_time(since)} on: the history, and back to "
        "mdmclient's last exchange and the sleep or wake before it; older ones are not judged."
    ]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _sighting(value: Sighting | Outcome | None) -> dict[str, Any] | None:
    if value is None:
        return None
    shown: dict[str, Any] = {"time": _time(value.time), "message": value.message}
    if isinstance(value, Outcome):
        shown |= {"outcome": value.kind, "code": value.code}
    return shown


def mdm_client(d: Diagnosis) -> dict[str, Any]:
    """The client's state, the rule that reached it, and the lines that prove it."""
    return {
        "state": d.client.state,
        "stuck": d.client.stuck,
        "rule": d.settings.stuck_rule,
        "reason": d.client.reason,
        "proof": [_sighting(p) for p in d.client.proof],
    }


def software_update(d: Diagnosis) -> dict[str, Any]:
    """The update's state, its target and deadline, and what softwareupdated last did."""
    u = d.software_update
    return {
        "channel": u.channel,
        "target_version": u.target_version,
        "target_build": u.target_build,
        "deadline": _time(u.deadline),
        "running_version": u.running_version,
        "phase": u.phase,
        "last_progress_at": _time(u.last_progress_at),
        "state": u.state,
        "reason": u.reason,
    }


def _circumstances(d: Diagnosis) -> dict[str, Any]:
    c = d.circumstances
    power = c.power
    return {
        "power": {
            "source": power.source,
            "boot": _time(power.boot),
            "last_wake": _time(power.last_wake),
            "awake_since": _time(power.awake_start(d.judged_at)),
            "events": len(power.events),
            "detail": power.detail,
        },
        "network": {"online": c.network.online, "detail": c.network.detail},
        "remembered_device_exchange": _sighting(c.remembered_success),
        "quiet_hours_counted": None
        if c.quiet is None
        else round(c.quiet.total_seconds() / 3600, 2),
        "evidence_problem": c.evidence_problem,
    }


def _command(d: Diagnosis, command: Command | None) -> dict[str, Any] | None:
    if command is None:
        return None
    return {
        "time": _time(command.time),
        "request_type": command.request_type,
        "status": command.status,
        "software_update": is_software_update_command(
            command, d.observations, d.judged_at - d.history
        ),
        "message": command.message,
    }


def evidence(examination: Examination) -> dict[str, Any]:
    d = examination.diagnosis
    obs = d.observations
    e = d.enrollment
    log = examination.log
    return {
        "judged_at": _time(d.judged_at),
        "judged_at_source": examination.judged_at_source,
        "judged_since": _time(examination.judged_since),
        "judged_whole": examination.judged_whole,
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
        "last_command": _command(d, obs.last_command),
        "identity_errors": [_sighting(s) for s in obs.identity_errors],
        "last_software_update_progress": _sighting(obs.last_update_progress),
        "last_ddm_update_enforcement": _sighting(obs.last_ddm_enforcement),
        "last_device_request": _sighting(obs.last_device_request),
        "last_device_outcome": _sighting(obs.last_device_outcome),
        "last_push": _sighting(obs.last_push),
        "last_connect": _sighting(obs.last_connect),
        "redacted_pushes": obs.redacted_pushes,
        "last_courier_connection": _sighting(obs.last_courier_connection),
        "circumstances": _circumstances(d),
        "senders": {
            "daemon_entries": obs.daemon_entries,
            "unverified_entries": obs.unverified_entries,
            "ignored_entries": obs.ignored_entries,
        },
        "log": {
            "bytes_read": log.bytes_read,
            "candidate_lines": log.candidate_lines,
            "entries_read": log.entries_read,
            "lines_skipped": log.lines_skipped,
            "timestamps_without_offset": log.naive_timestamps,
            "zone_assumed_for_them": log.naive_zone,
            "utf16_inputs": log.utf16_inputs,
            "relevant_entries": obs.relevant_entries,
            "newest_entry": _time(obs.newest_entry),
            "queries": [list(q) for q in examination.queries],
        },
    }


def _daemon_result(result: DaemonResult) -> dict[str, Any]:
    return {
        "daemon": result.action.daemon.name,
        "decision": result.action.decision,
        "reason": result.action.reason,
        "planned_commands": [list(c) for c in result.action.commands],
        "commands": [
            {"argv": list(c.argv), "returncode": c.returncode, "detail": c.detail}
            for c in result.commands
        ],
        "method": result.method,
        "restarted": result.restarted,
        "verified": result.verified,
        "new_pid": result.new_pid,
        "problem": result.problem,
    }


def _healing(run: HealRun) -> dict[str, Any]:
    return {
        "dry_run": run.dry_run,
        "state_problem": run.state_problem,
        "previous_run": _time(run.previous_run),
        "missed_runs": run.missed_runs,
        "daemons": [_daemon_result(r) for r in run.healing],
    }


def _document(
    examination: Examination,
    restarted: tuple[bool, bool],
    kickstarts: Kickstarts | None,
    heal: dict[str, Any] | None,
) -> dict[str, Any]:
    """The original's eight keys, then ours: schema version, healing, evidence."""
    last = (
        (None, None) if kickstarts is None else (kickstarts.mdm_client, kickstarts.software_update)
    )
    document: dict[str, Any] = dict(verdict_keys(examination).items())
    document |= {
        HealKey.MDM_CLIENT_RESTARTED: restarted[0],
        HealKey.SOFTWARE_UPDATE_RESTARTED: restarted[1],
        HealKey.LAST_MDM_KICKSTART: _time(last[0]),
        HealKey.LAST_SOFTWARE_UPDATE_KICKSTART: _time(last[1]),
        "schema_version": SCHEMA_VERSION,
        "mdm_client": mdm_client(examination.diagnosis),
        "software_update": software_update(examination.diagnosis),
        "heal": heal,
        "evidence": evidence(examination),
    }
    return document


def to_document(examination: Examination, kickstarts: Kickstarts | None = None) -> dict[str, Any]:
    """A diagnosis as JSON: nothing restarted, ``heal`` null; ``kickstarts`` as stored
    on this Mac (`-diagnose`), or None where there is no state (``analyze``)."""
    return _document(examination, (False, False), kickstarts, None)


def heal_document(run: HealRun) -> dict[str, Any]:
    """A `-heal` run as JSON: the eight keys, then what healing did; stored in state.json."""
    return _document(
        run.examination,
        (run.mdm_client_restarted, run.software_update_restarted),
        run.kickstarts,
        _healing(run),
    )


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


def healing_lines(run: HealRun) -> list[str]:
    """One line per daemon: what was done, or would be, or why not."""
    lines = []
    if run.missed_runs:
        lines.append(
            f"{run.missed_runs} scheduled run(s) were missed since the last "
            f"one at {_time(run.previous_run)} (the Mac was asleep or off)"
        )
    for result in run.healing:
        name = result.action.daemon.name
        if not result.action.restarts:
            lines.append(
                f"{name}: not restarted ({result.action.decision}): {result.action.reason}"
            )
        elif run.dry_run:
            commands = "; ".join(" ".join(c) for c in result.action.commands)
            lines.append(f"{name}: dry run, would run: {commands}")
        elif result.restarted:
            confirmed = (
                "a fresh process is running"
                + (f" (pid {result.new_pid})" if result.new_pid else "")
                if result.verified
                else "no fresh process seen yet"
            )
            lines.append(f"{name}: restarted by {result.method}; {confirmed}")
        else:
            lines.append(f"{name}: restart failed: {result.problem}")
    return lines


def _client_lines(d: Diagnosis) -> list[str]:
    """The client's state, what it was judged with, and whose lines were read."""
    obs, c = d.observations, d.circumstances
    lines = [f"MDM client state: {d.client.state} (StuckRule {d.settings.stuck_rule})"]
    lines += [f"  proof: {_time(p.time)}  {p.message}" for p in d.client.proof]
    u = d.software_update
    target = f" {u.target_version}" if u.target_version else ""
    lines.append(f"Software update: {u.state} ({u.channel}{target}): {u.reason}")
    lines.append(f"Sleep: {c.power.source}: {c.power.detail}")
    lines.append(f"Network: {_word(c.network.online)}: {c.network.detail}")
    if obs.ignored_entries:
        lines.append(
            f"Ignored {obs.ignored_entries} entries from other programs claiming to be "
            "mdmclient, softwareupdated or apsd (not from their real paths)."
        )
    if obs.unverified_entries:
        lines.append(
            f"The sender of {obs.unverified_entries} entries could not be verified: this "
            "style does not say which program wrote a line (ndjson and json do)."
        )
    lines.append("")
    return lines


def explain(examination: Examination) -> str:
    """The evidence in words, one verdict per paragraph, for the admin reading it."""
    return _explain(examination, None)


def explain_heal(run: HealRun) -> str:
    """The evidence in words, after what healing did (or would do) and why."""
    return _explain(run.examination, healing_lines(run))


def _explain(examination: Examination, healing: list[str] | None) -> str:
    d = examination.diagnosis
    obs = d.observations
    log = examination.log
    lines = [judged_line(examination), *span_line(examination), ""]
    if healing is not None:
        lines += [*healing, ""]
    for key, value in verdict_keys(examination).items():
        lines.append(f"{key}: {_word(value)}")
        lines.append(f"  because {d.reasons[key]}")
    lines.append("")
    lines += _client_lines(d)
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
        f"Log read: {log.bytes_read} bytes searched, {log.candidate_lines} "
        f"lines with a marker, {log.entries_read} entries parsed, "
        f"{obs.relevant_entries} relevant, {log.lines_skipped} unreadable."
    )
    if log.naive_timestamps:
        lines.append(
            f"{log.naive_timestamps} timestamps had no UTC offset (compact style) and "
            f"were read as {log.naive_zone}; pass --tz to name the Mac's zone."
        )
    return "\n".join(lines)
