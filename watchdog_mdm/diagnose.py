"""Gathering the evidence and reaching a diagnosis, live on this Mac or from an export.

Live: ``profiles status -type enrollment`` for enrollment, ``sysctl`` for the last wake
and boot, ``route`` for a network, then one ``log show`` over the look-back window,
selecting Apple's daemons by their program's path. A second, narrower ``log show``
reaches back only when needed: to find the newest exchange when the window has none and
no earlier run remembers one (over QuietHours or the history, whichever is longer), and
to name the last command when the client looks stuck (over the history). A window that
proves nothing makes every verdict but enrollment unknown. Offline (``analyze``), the
export alone, with its sleep and wake events when it holds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import partial
from typing import cast

from watchdog_mdm import patterns
from watchdog_mdm.awake import Power, PowerEvent, PowerSource, account_quiet, parse_sysctl_times
from watchdog_mdm.client_state import Circumstances, Memory, Network, newest_success
from watchdog_mdm.config import Settings, StuckRule
from watchdog_mdm.enrollment import (
    EnrollmentUnreadable,
    enrollment_from_log,
    parse_profiles_status,
)
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.evidence import Collector, Enrollment, Observations
from watchdog_mdm.scan import Buffer, Found, LogReader, ProgressRun
from watchdog_mdm.software_update import (
    DDM_STATE_PATH,
    SYSTEM_VERSION_PATH,
    UpdateChannel,
    UpdateFacts,
    UpdateState,
    UpdateUnreadable,
    declaration_from_log,
    read_ddm_state,
    read_running,
)
from watchdog_mdm.span import judged_since, mdmclient_sighted, whole_span_start
from watchdog_mdm.splitting import read_whole
from watchdog_mdm.system import CommandError, System
from watchdog_mdm.tail import BLOCK as TAIL_BLOCK
from watchdog_mdm.tail import (
    content_start,
    entry_time_around,
    last_block,
    last_marker_before,
    span_start,
)
from watchdog_mdm.text import one_line
from watchdog_mdm.verdicts import Diagnosis, judge, with_remembered

__all__ = [
    "EXPORT_PREDICATE",
    "HISTORY_PREDICATE",
    "LOG",
    "WINDOW_PREDICATE",
    "EvidenceError",
    "Examination",
    "LogStats",
    "analyze_end",
    "analyze_export",
    "diagnose_live",
]

LOG = "/usr/bin/log"
PROFILES = "/usr/bin/profiles"
SYSCTL = "/usr/sbin/sysctl"
ROUTE = "/sbin/route"


def _any_path(paths: Iterable[str]) -> str:
    return " OR ".join(f'processImagePath == "{path}"' for path in paths)


def _contains_any(field: str, texts: Iterable[str]) -> str:
    return " OR ".join(f'{field} CONTAINS "{text}"' for text in texts)


# Selected by the sender's image path, which the kernel records and no other program
# can claim (a process named mdmclient elsewhere, or one logging under mdmclient's
# subsystem, is not selected). apsd only for its pushes and its APNs connection (its
# "courier" category, [com.apple.apsd:courier] in a macOS 27 capture, research in
# docs/detection.md): enough that a Mac with push service logs something in the
# window, so an empty window means the log could not be read, not a quiet Mac.
WINDOW_PREDICATE = (
    f"{_any_path(patterns.MDM_PATHS)} OR {_any_path(patterns.SOFTWARE_UPDATE_PATHS)} OR "
    f"(({_any_path(patterns.PUSH_PATHS)}) AND ("
    + _contains_any("eventMessage", (patterns.PUSH_WORDING, *patterns.COURIER_CONNECTED))
    + f' OR category == "{patterns.PUSH_COURIER_CATEGORY}"))'
)

# Only the lines that name commands or prove an exchange: the history query must stay
# cheap to print even over days.
HISTORY_PREDICATE = (
    f"(({_any_path(patterns.MDM_PATHS)}) AND ("
    + _contains_any(
        "eventMessage",
        (
            *patterns.EXCHANGE_AND_COMMAND_WORDINGS,
            *patterns.MDM_CONNECT_WORDINGS,
            *patterns.IDENTITY_ERRORS,
            patterns.URL_ERROR_WORDING,
        ),
    )
    + f")) OR (({_any_path(patterns.SOFTWARE_UPDATE_PATHS)}) AND ("
    + _contains_any(
        "eventMessage", (*patterns.DDM_UPDATE_ENFORCEMENT, patterns.UPDATE_PROGRESS_WORDING)
    )
    + f")) OR (({_any_path(patterns.PUSH_PATHS)}) AND "
    + _contains_any("eventMessage", (patterns.PUSH_WORDING,))
    + ")"
)

# What an export needs for `analyze` to account for sleep as well: the window's
# predicate and powerd's sleep and wake events (docs/offline-analysis.md).
EXPORT_PREDICATE = (
    f'{WINDOW_PREDICATE} OR (subsystem == "{patterns.POWER_SUBSYSTEM}" AND '
    f'category == "{patterns.POWER_CATEGORY}")'
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
    (:class:`watchdog_mdm.run.HealRun`) with what healing did. ``memory`` is what a
    `-heal` run remembers for the next (the newest exchange, the quiet time counted).
    """

    diagnosis: Diagnosis
    log: LogStats
    judged_at_source: str  # why this instant: "clock", "--at", "newest entry", ...
    queries: tuple[tuple[str, ...], ...] = ()  # the `log show` commands run, live
    memory: Memory = field(default_factory=Memory)
    # offline: the start of the span of the export judged (watchdog_mdm/span.py); or
    # judged_whole: all of it, for a stuck verdict over the span did not hold over all
    judged_since: datetime | None = None
    judged_whole: bool = False

    @property
    def evidence_problem(self) -> str | None:
        """Why the log could not be read, when it could not (exit 3, nothing restarted)."""
        return self.diagnosis.circumstances.evidence_problem


def _minutes(seconds: float) -> str:
    return f"{max(1, int(-(-seconds // 60)))}m"


def _window_span(settings: Settings) -> timedelta:
    # One spare minute so the window is whole even if `log` starts a little late.
    return timedelta(minutes=int(-(-(settings.window.total_seconds() + 60) // 60)))


def window_query(settings: Settings) -> tuple[str, ...]:
    last = _minutes(_window_span(settings).total_seconds())
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


def history_query(span: timedelta) -> tuple[str, ...]:
    return (
        LOG,
        "show",
        "--style",
        "ndjson",
        "--last",
        _minutes(span.total_seconds()),
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


def read_update(system: System) -> UpdateFacts:
    """The declared update (SoftwareUpdateDDMStatePersistence.plist) and the running
    version (SystemVersion.plist); a file that cannot be read makes the state unknown."""
    try:
        declaration = read_ddm_state(system.read_bytes(DDM_STATE_PATH), system.local_time)
        running, build = read_running(system.read_bytes(SYSTEM_VERSION_PATH))
    except UpdateUnreadable as exc:
        return UpdateFacts(problem=str(exc))
    except OSError as exc:
        name = exc.filename or "a software update file"
        return UpdateFacts(problem=f"{name}: {exc.strerror or exc}")
    return UpdateFacts(declaration, running, build)


def read_power(system: System, settings: Settings) -> Power:
    """When the Mac last woke and booted, from the kernel; nothing known on failure."""
    argv = (SYSCTL, "-n", "kern.waketime", "kern.boottime")
    try:
        result = system.run(argv, timeout=settings.command_timeout_seconds)
        if result.returncode != 0:
            raise CommandError(f"{SYSCTL} exited with status {result.returncode}")
        times = parse_sysctl_times(result.stdout.decode("utf-8", "replace"))
        if len(times) != 2:
            raise ValueError(f"printed {len(times)} times, not the wake and boot times")
        wake, boot = times
    except (CommandError, ValueError) as exc:
        return Power(PowerSource.NONE, detail=f"{SYSCTL}: {one_line(str(exc), 200)}")
    return Power(PowerSource.SYSCTL, boot=boot, last_wake=wake, detail="kern.waketime/boottime")


def read_network(system: System, settings: Settings) -> Network:
    """Whether there is a default route: "not in table" for IPv4 and IPv6 alike is no
    network; a gateway or an interface is one; anything else (a failing probe) is not
    known, never offline."""
    ipv4 = _route(system, "-n", "get", "default", settings=settings)
    if ipv4.online is not False:
        return ipv4
    # No IPv4 route: an IPv6-only network (NAT64) still reaches the server.
    ipv6 = _route(system, "-n", "get", "-inet6", "default", settings=settings)
    if ipv6.online is False:
        return Network(False, f"no default route, IPv4 or IPv6: {patterns.NO_ROUTE}")
    return ipv6 if ipv6.online else Network(None, f"no IPv4 default route; {ipv6.detail}")


def _route(system: System, *args: str, settings: Settings) -> Network:
    """What one `route get` says of a default route."""
    argv = (ROUTE, *args)
    try:
        result = system.run(argv, timeout=settings.command_timeout_seconds)
    except CommandError as exc:
        return Network(None, f"{ROUTE}: {one_line(str(exc), 200)}")
    output = (result.stdout + b"\n" + result.stderr).decode("utf-8", "replace")
    route = patterns.DEFAULT_ROUTE.search(output)
    if route is not None and result.returncode == 0:
        return Network(True, f"default route {one_line(route[0], 120)}")
    if patterns.NO_ROUTE in output:
        return Network(False, f"no default route: {patterns.NO_ROUTE}")
    return Network(None, f"{' '.join(argv)} said nothing readable (status {result.returncode})")


def _stream_into(
    system: System,
    query: tuple[str, ...],
    reader: LogReader,
    collector: Collector,
    settings: Settings,
) -> None:
    try:
        collector.add_all(
            reader.scan_runs(
                system.stream(query, timeout=settings.log_timeout_seconds),
                patterns.RELEVANT_MARKERS,
                alike=collector.takes_every_entry,
            )
        )
    except CommandError as exc:
        raise EvidenceError(f"could not read the unified log: {exc}") from exc


def unreadable(reader: LogReader, obs: Observations, source: str) -> str | None:
    """Why the log read proves nothing, or None when it is evidence.

    Empty output, output with no readable entry, or entries none of which come from
    Apple's daemons: a silent or broken `log` must never look like a quiet mdmclient.
    """
    if reader.bytes_read == 0:
        return f"{source} printed nothing"
    if reader.entries == 0:
        return f"{source} printed {reader.bytes_read} bytes with no readable log entry"
    if obs.daemon_entries == 0:
        ignored = f" ({obs.ignored_entries} from other programs ignored)"
        return f"{source} printed no entry from mdmclient, softwareupdated or apsd" + (
            ignored if obs.ignored_entries else ""
        )
    return None


def _history_span(diagnosis: Diagnosis, memory: Memory, settings: Settings) -> timedelta | None:
    """How far back the narrow history query must reach, or None when it is not needed:
    to find the newest exchange when none is in the window and none is remembered; the
    last command when the client looks stuck and the window names none. Never when the
    window proved nothing: what it would have shown cannot be read from older log."""
    obs = diagnosis.observations
    start = diagnosis.judged_at - settings.window
    if diagnosis.enrolled is False or diagnosis.circumstances.evidence_problem:
        return None  # an unreadable window is not made good by older log: unknown
    seen = obs.last_device_success is not None and obs.last_device_success.time >= start
    if not seen and memory.last_success is None:
        if settings.stuck_rule is StuckRule.QUIET:  # quiet time is not counted
            return settings.history
        return max(settings.history, settings.quiet_after)
    command = obs.last_command
    if diagnosis.client_stuck and (command is None or command.time < start):
        return settings.history
    if _update_needs_history(diagnosis, start):
        return settings.history
    return None


def _update_needs_history(diagnosis: Diagnosis, start: datetime) -> bool:
    """An update is declared and not done, and the window shows none of softwareupdated's
    progress: whether it stalled is in the older log. (An MDM-scheduled one is looked
    for when the client looks stuck, with its last command.)"""
    update = diagnosis.software_update
    progress = diagnosis.observations.update_progress
    if progress and progress[-1].time >= start:
        return False
    return update.channel is UpdateChannel.DDM and update.state not in (
        UpdateState.DONE,
        UpdateState.UNKNOWN,
    )


def diagnose_live(system: System, settings: Settings, memory: Memory | None = None) -> Examination:
    """Diagnose this Mac as of now; ``memory`` is what earlier runs remembered."""
    memory = memory or Memory()
    at = system.now()
    enrollment, enrollment_problem = read_enrollment(system, settings)
    power = read_power(system, settings)
    network = read_network(system, settings)
    update = read_update(system)
    reader = LogReader(naive_tz=at.tzinfo or UTC)
    collector = Collector(verified_only=True)
    queries = [window_query(settings)]
    _stream_into(system, queries[0], reader, collector, settings)
    if enrollment is None:
        enrollment = enrollment_from_log(collector.observations())
        if enrollment.enrolled is None:
            raise EvidenceError(
                f"could not tell whether this Mac is enrolled: {enrollment_problem}"
            )

    def judged() -> tuple[Diagnosis, Memory]:
        obs = collector.observations()
        # not enrolled: there is nothing in the log to judge, so nothing to read
        problem = None if enrollment.enrolled is False else unreadable(reader, obs, f"{LOG} show")
        remembered = newest_success(memory.last_success, obs.last_device_success)
        ledger = account_quiet(memory.quiet, obs.last_device_life, at, power, network.online)
        restarted_for = (
            memory.quiet_restart_for if memory.quiet_restart_for == ledger.since else None
        )
        circumstances = Circumstances(
            power=power,
            network=network,
            remembered_success=remembered,
            quiet=ledger.quiet,
            quiet_restarted=restarted_for is not None,
            evidence_problem=problem,
            update=update,
            remembered_progress=memory.last_update_progress,
        )
        diagnosis = judge(obs, at, settings, enrollment, circumstances)
        newest = with_remembered(obs.update_progress, memory.last_update_progress)
        kept = (
            memory
            if problem
            else Memory(remembered, ledger, restarted_for, newest[-1] if newest else None)
        )
        return diagnosis, kept

    diagnosis, kept = judged()
    span = _history_span(diagnosis, memory, settings)
    if span is not None:
        queries.append(history_query(span))
        # what the window query printed was read already: counted once, not twice
        collector.read_only_before(at - _window_span(settings))
        _stream_into(system, queries[1], reader, collector, settings)
        diagnosis, kept = judged()
    return Examination(
        diagnosis=diagnosis,
        log=LogStats.of(reader),
        judged_at_source="clock",
        queries=tuple(queries),
        memory=kept,
    )


def analyze_export(
    sources: Iterable[Iterable[Buffer]],
    *,
    settings: Settings,
    at: datetime | None,
    naive_tz: tzinfo,
    clock: datetime,
) -> Examination:
    """Diagnose from saved ``log show`` output, as of ``at`` or its newest entry, over
    the span :func:`watchdog_mdm.span.judged_since` sets, reading all of it.

    Enrollment comes from the log alone: any device-channel exchange proves it;
    without one it is unknown. Sleep is accounted for where the export holds powerd's
    sleep and wake events. ``clock`` is only used when the input has no entry.
    """
    reader = LogReader(naive_tz=naive_tz)
    collector = Collector(until=at)
    _read_exports(reader, collector, sources)
    return _examined(reader, collector.observations(), settings, at, clock)


def analyze_end(
    system: System,
    path: str,
    *,
    settings: Settings,
    naive_tz: tzinfo,
    clock: datetime,
    at: datetime | None = None,
    block: int = TAIL_BLOCK,
) -> Examination | None:
    """:func:`analyze_export` of one file as of ``at`` (None: its newest entry), reading
    only its end where that settles the span judged: the entries from HistoryHours (and
    an eighth) before the instant on, then further back, until
    :func:`watchdog_mdm.span.judged_since` is settled by what was read (the result is
    then the whole read's: docs/performance.md), or all of it when the end cannot settle
    it (entries out of order: :func:`watchdog_mdm.tail.span_start`; ``at`` before the
    newest entry), or a stuck verdict needs confirming. None when the file cannot be
    mapped (not a regular file): read it as a stream. ``block``: how far one step back
    goes (and how much of the end gives the newest entry)."""
    try:
        return _read_end(system, path, settings, naive_tz, clock, at, block)
    except OSError as exc:  # mapping it; reading it is _read_from's to report
        raise EvidenceError(f"cannot read {exc.filename or path}: {exc.strerror or exc}") from exc


def _read_end(
    system: System,
    path: str,
    settings: Settings,
    naive_tz: tzinfo,
    clock: datetime,
    at: datetime | None,
    block: int,
) -> Examination | None:
    reader = LogReader(naive_tz=naive_tz)
    with system.map_export(path) as data:
        if data is None:
            return None
        settled = _span_from_end(system, path, data, reader, settings, at, block)
        if settled is not None:
            examination = _examined(reader, settled[0], settings, at, clock, settled[1])
            if not _stuck(examination.diagnosis):
                return examination
            # Stuck, from the end alone: the whole read must say so too, for an export
            # whose order the steps back could not check throughout (joined out of order)
            # might have hidden what ends it, and a stuck verdict must hold over it all.
        collector = _read_from(system, path, data, reader, at)
    return _examined(reader, collector.observations(), settings, at, clock)


def _read_from(
    system: System,
    path: str,
    data: Buffer,
    reader: LogReader,
    at: datetime | None,
    start: int = 0,
) -> Collector:
    """What a read of the file from ``start`` to its end gathers of the entries until
    ``at``: in two processes, where what is read is large (splitting.py)."""
    try:
        return read_whole(system, path, data, reader, partial(Collector, until=at), start)
    except OSError as exc:
        raise _unreadable(exc) from exc


SPAN_MARGIN = 8


def _span_from_end(
    system: System,
    path: str,
    data: Buffer,
    reader: LogReader,
    settings: Settings,
    at: datetime | None,
    block: int,
) -> tuple[Observations, datetime] | None:
    """The facts of a read of the end of ``data`` that settles the span judged as of
    ``at`` (None: the newest entry), and the span's start; None when only a read of all
    of it will do (``at`` before the newest entry among them)."""
    last = last_block(data, block)
    if last is None:
        return None
    # The history and an eighth more: the sleep or wake before the history's start is
    # usually in that eighth (a laptop sleeps several times a day), and found there it
    # settles the span at once, where finding it just before the read meant reading it
    # all again from there.
    reach = settings.history + settings.history / SPAN_MARGIN
    if _begins_within_reach(data, reader.naive_tz, reach, at, block):
        return None  # all of it is read, its last block not read first
    probe = LogReader(reader.naive_tz)  # the last block is read again, and counted then
    newest = _newest_entry(probe, data[last:])
    if newest is None or _clock_may_go_back(probe) or (at is not None and at < newest):
        return None
    instant = (at or newest).astimezone(UTC)  # the steps back are in elapsed time
    read: tuple[int, Observations] | None = None  # where the last read began, its facts
    no_power_before = False  # no sleep or wake can be before the last read
    power_searches = 0
    before: datetime | None = None  # the last read's since: each goes further back
    while True:
        since = _further_back(instant, reach, before)
        start = None if since is None else span_start(data, since, reader.naive_tz, block)
        if since is None or start is None or start <= content_start(data):
            return None  # something unusual, or back at the start: all of it
        if read is None or read[0] != start:  # else the same bytes: the same facts
            collector = _read_from(system, path, data, reader, at, start)
            read = (start, collector.observations())
        obs = read[1]
        if obs.newest_entry is None:
            return None
        judged = judged_since(
            obs, at or obs.newest_entry, settings, read_from=since, no_power_before=no_power_before
        )
        if judged is not None and judged >= since:
            return obs, judged
        if judged is None and mdmclient_sighted(obs) and not no_power_before:
            # Only the Mac's sleep state at the span's start is missing: the last sleep or
            # wake before what was read, found by its bytes alone.
            found = last_marker_before(data, patterns.POWER_MARKERS, start, block)
            if found is None:
                no_power_before = True  # judged again from the same read
                continue
            power_searches += 1
            judged = entry_time_around(data, found, reader.naive_tz)
            if judged is not None and power_searches > 1:
                # another program's line with those words: never step back by one such
                # line at a time
                judged = min(judged, instant - reach * 2)
        # Back to where what was read says the span starts (what lies before it may yet
        # move it), or, when something it needs was not read, twice as far.
        before = since
        reach = instant - judged if judged is not None and judged < since else reach * 2


# What of the last block is glanced at first (_begins_within_reach): 64 KB of 4 MB.
GLANCE_SHARE = 64


def _begins_within_reach(
    data: Buffer, naive_tz: tzinfo, reach: timedelta, at: datetime | None, block: int
) -> bool:
    """Whether the export's first entry is within ``reach`` of ``at``, or of the newest
    entry of its last 1/GLANCE_SHARE block: then all of it is read (the span reaches
    its start), found without reading its last block for its newest entry first (an
    eighth more than the read itself, on a 32 MB export). The last block's newest is no
    older than the glance's, so it puts the span's start no earlier: it reads all of it
    too, or, where entries out of order make it newer, reads the end, which gives what
    reading all of it gives."""
    glance = last_block(data, block // GLANCE_SHARE)
    if glance is None:
        return False
    first = entry_time_around(data, content_start(data), naive_tz)
    newest = _newest_entry(LogReader(naive_tz), data[glance:])
    if first is None or newest is None:
        return False
    since = _further_back((at or newest).astimezone(UTC), reach, None)
    return since is not None and first >= since


def _further_back(instant: datetime, reach: timedelta, before: datetime | None) -> datetime | None:
    """``reach`` before ``instant``, if that is further back than the read before; None
    when it is not (times that do not add up) or would be before the year 1."""
    try:
        since = instant - reach
    except OverflowError:
        return None
    return None if before is not None and since >= before else since


def _clock_may_go_back(reader: LogReader) -> bool:
    """Whether the export's times may run backwards in file order: timestamps without an
    offset (compact style) read in a zone with daylight saving, whose clocks go back an
    hour once a year (the steps back take the export to be in time order)."""
    return reader.naive_timestamps > 0 and not isinstance(reader.naive_tz, timezone)


def _stuck(diagnosis: Diagnosis) -> bool:
    return diagnosis.client_stuck is True or diagnosis.updates_stuck is True


def _newest_entry(reader: LogReader, end: Buffer) -> datetime | None:
    """The newest time among the entries of an export's last block that are read, as the
    collector takes it: a run of progress lines by its last, the newest of its lines
    (read in runs, an updating Mac's thousands of progress lines cost little here too)."""
    return max(map(_newest_of, reader.scan_runs([end], patterns.RELEVANT_MARKERS)), default=None)


def _newest_of(found: Found) -> datetime:
    return found.last[0] if isinstance(found, ProgressRun) else cast(LogEntry, found).timestamp


def _read_exports(
    reader: LogReader, collector: Collector, sources: Iterable[Iterable[Buffer]]
) -> None:
    try:
        for source in sources:
            collector.add_all(
                reader.scan_runs(
                    source, patterns.RELEVANT_MARKERS, alike=collector.takes_every_entry
                )
            )
    except OSError as exc:
        raise _unreadable(exc) from exc
    except CommandError as exc:
        raise EvidenceError(f"could not read the log archive: {exc}") from exc


def _unreadable(exc: OSError) -> EvidenceError:
    name = f"{exc.filename}: " if exc.filename else ""
    return EvidenceError(f"cannot read {name}{exc.strerror or exc}")


def _examined(
    reader: LogReader,
    obs: Observations,
    settings: Settings,
    at: datetime | None,
    clock: datetime,
    since: datetime | None = None,
) -> Examination:
    """The judgement of an export's observations over its span: ``since``, as a read of
    its end settled it; else set by these observations, of all of it. Over all of it, a
    stuck verdict must hold when all of it is judged too: where older log says otherwise
    (a command mdmclient was still carrying out, a declaration), all of it is judged."""
    if at is not None:
        judged_at, how = at, "--at"
    elif obs.newest_entry is not None:
        judged_at, how = obs.newest_entry, "newest entry"
    else:
        return _judged(reader, obs, settings, clock, "the clock: no readable entry in the input")
    whole = since is None
    if since is None:
        since = whole_span_start(obs, judged_at, settings)
    examination = _judged(reader, obs.since(since), settings, judged_at, how, since)
    if whole and _stuck(examination.diagnosis):
        over_all = _judged(reader, obs, settings, judged_at, how)
        if _unstuck(examination.diagnosis, over_all.diagnosis):
            return replace(over_all, judged_whole=True)
    return examination


def _unstuck(span: Diagnosis, whole: Diagnosis) -> bool:
    """Whether a verdict stuck over the span is not over all of the export."""
    return (span.client_stuck is True and whole.client_stuck is not True) or (
        span.updates_stuck is True and whole.updates_stuck is not True
    )


def _judged(
    reader: LogReader,
    obs: Observations,
    settings: Settings,
    judged_at: datetime,
    how: str,
    since: datetime | None = None,
) -> Examination:
    circumstances = Circumstances(
        power=power_from_log(obs.power_events),
        network=Network(None, "not known offline: an export holds no network probe"),
        evidence_problem=unreadable(reader, obs, "the input"),
        # no files: the declaration as softwareupdated named it; the running version
        # is not in a log
        update=UpdateFacts(declaration_from_log(obs.last_ddm_declaration, reader.naive_tz)),
    )
    return Examination(
        diagnosis=judge(obs, judged_at, settings, enrollment_from_log(obs), circumstances),
        log=LogStats.of(reader),
        judged_at_source=how,
        judged_since=since,
    )


def power_from_log(events: tuple[PowerEvent, ...]) -> Power:
    """Sleep as an export shows it: its powerd events, or nothing known without them."""
    if not events:
        return Power(
            PowerSource.NONE,
            detail="no sleep or wake events in the input; export with the predicate "
            "in docs/offline-analysis.md to include them",
        )
    return Power(PowerSource.LOG, events=events, detail=f"{len(events)} sleep/wake events")
