"""Gathering the evidence and reaching a diagnosis, live on this Mac or from an export.

Live: ``profiles status -type enrollment`` for enrollment, then one ``log show`` over
the look-back window. Only when that window shows a stuck client with no MDM command
in it does a second, narrower ``log show`` reach back over the history (24 h by
default) to name the last command, so a healthy Mac never pays for a day of log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from watchdog_mdm import patterns
from watchdog_mdm.config import Settings
from watchdog_mdm.enrollment import (
    EnrollmentUnreadable,
    enrollment_from_log,
    parse_profiles_status,
)
from watchdog_mdm.evidence import (
    Collector,
    Diagnosis,
    Enrollment,
    Observations,
    judge,
)
from watchdog_mdm.scan import Buffer, LogReader
from watchdog_mdm.system import CommandError, System
from watchdog_mdm.text import one_line

__all__ = [
    "HISTORY_PREDICATE",
    "LOG",
    "WINDOW_PREDICATE",
    "EvidenceError",
    "Examination",
    "LogStats",
    "analyze_export",
    "diagnose_live",
]

LOG = "/usr/bin/log"
PROFILES = "/usr/bin/profiles"

WINDOW_PREDICATE = (
    f'process == "{patterns.MDM_PROCESS}" OR subsystem == "{patterns.MDM_SUBSYSTEM}" '
    f'OR process == "{patterns.SOFTWARE_UPDATE_PROCESS}"'
)


def _contains_any(field: str, texts: Iterable[str]) -> str:
    return " OR ".join(f'{field} CONTAINS "{text}"' for text in texts)


# Only the lines that name commands or prove an exchange: the history query must stay
# cheap to print even over a day.
HISTORY_PREDICATE = (
    f'(process == "{patterns.MDM_PROCESS}" AND ('
    + _contains_any("eventMessage", patterns.EXCHANGE_AND_COMMAND_WORDINGS)
    + f')) OR (process == "{patterns.SOFTWARE_UPDATE_PROCESS}" AND ('
    + _contains_any("eventMessage", patterns.DDM_UPDATE_ENFORCEMENT)
    + "))"
)


class EvidenceError(Exception):
    """The evidence could not be gathered; the message is one line for the admin."""


@dataclass(frozen=True, slots=True)
class LogStats:
    """How much log was searched and read, and how much of it could not be."""

    bytes_read: int = 0
    candidate_lines: int = 0  # lines (or JSON records) holding a marker
    entries_read: int = 0  # entries parsed: the candidates, and each block's last
    lines_skipped: int = 0  # candidates that could not be read
    naive_timestamps: int = 0
    naive_zone: str = "UTC"
    utf16_inputs: int = 0

    @classmethod
    def of(cls, reader: LogReader) -> LogStats:
        return cls(
            reader.bytes_read,
            reader.candidates,
            reader.entries,
            reader.lines_skipped,
            reader.naive_timestamps,
            str(reader.naive_tz),
            reader.utf16_inputs,
        )


@dataclass(frozen=True, slots=True)
class Examination:
    """A diagnosis and how it was reached: the log read, the instant judged, the queries.

    What `-diagnose` and ``analyze`` report; a `-heal` run wraps one
    (:class:`watchdog_mdm.run.HealRun`) with what healing did.
    """

    diagnosis: Diagnosis
    log: LogStats
    judged_at_source: str  # why this instant: "clock", "--at", "newest entry", ...
    queries: tuple[tuple[str, ...], ...] = ()  # the `log show` commands run, live


def _minutes(seconds: float) -> str:
    return f"{max(1, int(-(-seconds // 60)))}m"


def window_query(settings: Settings) -> tuple[str, ...]:
    # One spare minute so the window is whole even if `log` starts a little late.
    last = _minutes(settings.window.total_seconds() + 60)
    return (
        LOG,
        "show",
        "--style",
        "ndjson",
        "--info",
        "--last",
        last,
        "--predicate",
        WINDOW_PREDICATE,
    )


def history_query(settings: Settings) -> tuple[str, ...]:
    return (
        LOG,
        "show",
        "--style",
        "ndjson",
        "--last",
        _minutes(settings.history.total_seconds()),
        "--predicate",
        HISTORY_PREDICATE,
    )


def read_enrollment(system: System, settings: Settings) -> tuple[Enrollment | None, str]:
    """Ask ``profiles``; on failure return None and why, so the log may decide instead."""
    try:
        result = system.run(
            [PROFILES, "status", "-type", "enrollment"], timeout=settings.profiles_timeout_seconds
        )
    except CommandError as exc:
        return None, str(exc)
    text = result.stdout.decode("utf-8", "replace")
    if result.returncode != 0:
        detail = one_line(result.stderr.decode("utf-8", "replace"), 200)
        return None, f"{PROFILES} exited with status {result.returncode}" + (
            f": {detail}" if detail else ""
        )
    try:
        return parse_profiles_status(text), ""
    except EnrollmentUnreadable as exc:
        return None, f"{PROFILES}: {exc}"


def _needs_history(obs: Observations, enrollment: Enrollment | None, start: datetime) -> bool:
    if enrollment is not None and enrollment.enrolled is False:
        return False
    success = obs.last_device_success
    command = obs.last_command
    quiet = success is None or success.time < start
    return quiet and (command is None or command.time < start)


def _stream_into(
    system: System,
    query: tuple[str, ...],
    reader: LogReader,
    collector: Collector,
    settings: Settings,
) -> None:
    try:
        collector.add_all(
            reader.scan(
                system.stream(query, timeout=settings.log_timeout_seconds),
                patterns.RELEVANT_MARKERS,
            )
        )
    except CommandError as exc:
        raise EvidenceError(f"could not read the unified log: {exc}") from exc


def diagnose_live(system: System, settings: Settings) -> Examination:
    """Diagnose this Mac as of now."""
    at = system.now()
    enrollment, enrollment_problem = read_enrollment(system, settings)
    reader = LogReader(naive_tz=at.tzinfo or UTC)
    collector = Collector()
    queries = [window_query(settings)]
    _stream_into(system, queries[0], reader, collector, settings)
    if _needs_history(collector.observations(), enrollment, at - settings.window):
        queries.append(history_query(settings))
        _stream_into(system, queries[1], reader, collector, settings)
    obs = collector.observations()
    if enrollment is None:
        enrollment = enrollment_from_log(obs)
        if enrollment.enrolled is None:
            raise EvidenceError(
                f"could not tell whether this Mac is enrolled: {enrollment_problem}"
            )
    return Examination(
        diagnosis=judge(obs, at, settings.window, settings.history, enrollment),
        log=LogStats.of(reader),
        judged_at_source="clock",
        queries=tuple(queries),
    )


def analyze_export(
    sources: Iterable[Iterable[Buffer]],
    *,
    settings: Settings,
    at: datetime | None,
    naive_tz: tzinfo,
    clock: datetime,
) -> Examination:
    """Diagnose from saved ``log show`` output, as of ``at`` or its newest entry.

    Enrollment comes from the log alone: any device-channel exchange proves it;
    without one it is unknown. ``clock`` is only used when the input has no entry.
    """
    reader = LogReader(naive_tz=naive_tz)
    collector = Collector(until=at)
    try:
        for source in sources:
            collector.add_all(reader.scan(source, patterns.RELEVANT_MARKERS))
    except OSError as exc:
        name = f"{exc.filename}: " if exc.filename else ""
        raise EvidenceError(f"cannot read {name}{exc.strerror or exc}") from exc
    except CommandError as exc:
        raise EvidenceError(f"could not read the log archive: {exc}") from exc
    obs = collector.observations()
    if at is not None:
        judged_at, how = at, "--at"
    elif obs.newest_entry is not None:
        judged_at, how = obs.newest_entry, "newest entry"
    else:
        judged_at, how = clock, "the clock: no readable entry in the input"
    return Examination(
        diagnosis=judge(
            obs, judged_at, settings.window, settings.history, enrollment_from_log(obs)
        ),
        log=LogStats.of(reader),
        judged_at_source=how,
    )
