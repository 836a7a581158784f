"""Evidence: what the log shows about mdmclient, softwareupdated and apsd.

:class:`Collector` folds log entries into the few facts the checks need
(newest successful device-channel exchange, newest request and outcome, pushes, MDM
commands, identity errors, sleeps and wakes...), so a day of log costs constant memory.
Only entries that Apple's daemons wrote count (patterns.DAEMON_PATHS); the rest are
counted and ignored. Verdicts are reached from these facts by verdicts.py. Pure: no
clock, no files, no processes.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache, wraps
from typing import Any, NamedTuple, TypeVar

from watchdog_mdm import patterns
from watchdog_mdm.awake import PowerEvent
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.runs import AlikeLines, ProgressRun
from watchdog_mdm.text import one_line

__all__ = [
    "POWER_EVENTS_KEPT",
    "Collector",
    "Command",
    "Enrollment",
    "EnrollmentSource",
    "Observations",
    "Outcome",
    "OutcomeKind",
    "Progress",
    "Sighting",
    "ago",
    "is_software_update_command",
    "window_text",
]

EXCERPT_CHARS = 240
IDENTITY_ERRORS_KEPT = 5


@dataclass(frozen=True, slots=True)
class Sighting:
    """A log line that matters: when it was written, and what it said."""

    time: datetime
    text: str  # as logged: untrusted; show .message

    @property
    def message(self) -> str:
        """The text, safe to show and cut to an excerpt (made only when shown)."""
        return _excerpt(self.text)


@dataclass(frozen=True, slots=True)
class Command:
    """An MDM command the device channel processed or answered."""

    time: datetime
    request_type: str
    status: str | None  # Acknowledged, NotNow, Error...; None for "Processing server request"
    text: str

    @property
    def message(self) -> str:
        return _excerpt(self.text)


class EnrollmentSource(StrEnum):
    """Where an enrollment reading came from."""

    PROFILES = "profiles"  # `profiles status -type enrollment`, live
    LOG = "log"  # device-channel traffic in the log, offline


@dataclass(frozen=True, slots=True)
class Enrollment:
    """Whether the Mac is enrolled, and how we know."""

    enrolled: bool | None
    source: EnrollmentSource
    enrolled_via_dep: bool | None = None
    mdm_enrollment: str | None = None  # "Yes (User Approved)", "Yes", "No"
    mdm_server: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """softwareupdated reporting progress of an update (not of a catalog scan)."""

    time: datetime
    phase: str
    edge: str  # start, inter or end
    portion: float | None  # portionComplete, 0 to 1


class OutcomeKind(StrEnum):
    """How a device-channel exchange ended."""

    SUCCESS = "success"  # HTTP 200
    REJECTED = "rejected"  # 401/403: the server no longer accepts this Mac
    SERVER_ERROR = "server-error"  # any other status, or the server could not be reached
    OFFLINE = "offline"  # the Mac had no network to try with


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of a device-channel exchange: a response of any status, or a failure."""

    time: datetime
    kind: OutcomeKind
    text: str
    code: str | None = None  # the HTTP status, when a response was received

    @property
    def message(self) -> str:
        return _excerpt(self.text)


# what Observations.since() keeps or drops by its time
_Dated = TypeVar("_Dated", Sighting, Command, Outcome)


@dataclass(frozen=True, slots=True)
class Observations:
    """Everything the verdicts are reached from, distilled from the log."""

    newest_entry: datetime | None = None
    last_device_success: Sighting | None = None
    last_device_failure: Sighting | None = None
    last_user_success: Sighting | None = None
    last_device_activity: Sighting | None = None
    last_command: Command | None = None
    identity_errors: tuple[Sighting, ...] = ()
    last_update_progress: Sighting | None = None
    last_ddm_enforcement: Sighting | None = None
    relevant_entries: int = 0
    last_device_request: Sighting | None = None  # "Sending HTTP request" on the device channel
    last_device_outcome: Outcome | None = None  # newest response or failed connection
    last_push: Sighting | None = None  # apsd received a push on an MDM topic
    last_connect: Sighting | None = None  # mdmclient's device channel set out to connect
    # mdmclient's newest HTTP exchange or server request on any channel: a push on an MDM
    # topic may be the user channel's, answered by the user's mdmclient
    last_exchange_any_channel: Sighting | None = None
    redacted_pushes: int = 0  # pushes whose topic the log hid (<private>), in the log read
    last_redacted_push: Sighting | None = None  # the newest of them
    last_courier_connection: Sighting | None = None  # apsd connected to APNs
    power_events: tuple[PowerEvent, ...] = ()  # sleeps and wakes, in time order
    update_progress: tuple[Progress, ...] = ()  # the newest update progress, oldest first
    last_ddm_declaration: Sighting | None = None  # softwareupdated naming what it enforces
    # counts of the log read (not of the judged span: see since())
    daemon_entries: int = 0  # entries from Apple's daemons (verified or not)
    unverified_entries: int = 0  # of those, entries whose sender the style does not name
    ignored_entries: int = 0  # entries claiming to be a daemon's from another program

    @property
    def last_device_life(self) -> datetime | None:
        """mdmclient's newest sign of life on the device channel: a request it sent, a
        response it received, or a connection it failed to make."""
        times = [
            s.time for s in (self.last_device_request, self.last_device_outcome) if s is not None
        ]
        return max(times, default=None)

    def since(self, start: datetime) -> Observations:
        """These facts as a read of only the entries from ``start`` on would give them:
        each newest sighting kept if it is that recent, the kept series cut there. The
        newest-first facts and the newest-N series make this exact (an older sighting
        is never the newest of a span it is not in); the counts stay those of the log
        read. docs/detection.md, "The span an export is judged over"."""

        def kept(sighting: _Dated | None) -> _Dated | None:
            return sighting if sighting is not None and sighting.time >= start else None

        return replace(
            self,
            last_device_success=kept(self.last_device_success),
            last_device_failure=kept(self.last_device_failure),
            last_user_success=kept(self.last_user_success),
            last_device_activity=kept(self.last_device_activity),
            last_command=kept(self.last_command),
            identity_errors=tuple(s for s in self.identity_errors if s.time >= start),
            last_update_progress=kept(self.last_update_progress),
            last_ddm_enforcement=kept(self.last_ddm_enforcement),
            last_device_request=kept(self.last_device_request),
            last_device_outcome=kept(self.last_device_outcome),
            last_push=kept(self.last_push),
            last_connect=kept(self.last_connect),
            last_exchange_any_channel=kept(self.last_exchange_any_channel),
            last_redacted_push=kept(self.last_redacted_push),
            last_courier_connection=kept(self.last_courier_connection),
            power_events=tuple(e for e in self.power_events if e.time >= start),
            update_progress=tuple(p for p in self.update_progress if p.time >= start),
            last_ddm_declaration=kept(self.last_ddm_declaration),
        )


def _excerpt(message: str) -> str:
    message = one_line(message, len(message))
    if len(message) <= EXCERPT_CHARS:
        return message
    return message[: EXCERPT_CHARS - 1] + "…"


class MdmReading(NamedTuple):
    """What one mdmclient message says, as the rules in :mod:`patterns` read it."""

    identity_error: bool
    exchange_or_request: bool  # an HTTP exchange or a server request: neither, no more
    channel: str  # patterns.DEVICE, USER or UNKNOWN, as the line's tag says
    received: bool = False
    success: bool = False
    request_type: str | None = None  # the command handled, if the line names one
    status: str | None = None  # Acknowledged, NotNow, Error...; None while processing
    code: str | None = None  # the HTTP status of a response
    sent: bool = False  # an HTTP request sent
    failure: OutcomeKind | None = None  # a connection that failed, and why
    connect: bool = False  # mdmclient starting to connect after a push


# Memoized: mdmclient repeats the same few lines all day (every exchange of a process
# is "[0:MDMDaemon:HTTPUtil:<0x2fdb>] <<<<< Received HTTP response (200) [Idle] <<<<<"),
# so each distinct message is read by the regexes once. Only short messages (real ones
# are 60-250 characters), and only so many: a few MB at worst, whatever the input.
MEMO_ENTRIES, MEMO_CHARS = 1024, 512
_Reading = TypeVar("_Reading")


def _memoized_when_short(read: Callable[[str], _Reading]) -> Callable[[str], _Reading]:
    memo = lru_cache(maxsize=MEMO_ENTRIES)(read)

    @wraps(read)
    def reading(message: str) -> _Reading:
        return memo(message) if len(message) <= MEMO_CHARS else read(message)

    return reading


@_memoized_when_short
def read_mdm_message(message: str) -> MdmReading:
    """What an mdmclient message says."""
    identity_error = any(text in message for text in patterns.IDENTITY_ERRORS)
    exchange = patterns.HTTP_EXCHANGE.search(message)
    if exchange is not None:
        received = exchange["direction"].startswith("Received")
        bracket = patterns.COMMAND_BRACKET.fullmatch(exchange["bracket"] or "")
        code = exchange["code"] if received else None
        return MdmReading(
            identity_error,
            True,
            patterns.exchange_channel(message),
            received,
            code == patterns.SUCCESS_CODE,
            bracket["request_type"] if bracket else None,
            bracket["status"] if bracket else None,
            code,
            sent=not received,
        )
    request = patterns.SERVER_REQUEST.search(message)
    if request is not None:
        return MdmReading(
            identity_error,
            True,
            patterns.request_channel(request["target"]),
            request_type=request["request_type"],
        )
    failure = patterns.connection_failure(message)
    connect = any(text in message for text in patterns.MDM_CONNECT_WORDINGS)
    return MdmReading(
        identity_error,
        False,
        patterns.exchange_channel(message),
        failure=None if failure is None else OutcomeKind(failure),
        connect=connect,
    )


def outcome_of(code: str) -> OutcomeKind:
    """What an HTTP status on the device channel means for the client."""
    if code == patterns.SUCCESS_CODE:
        return OutcomeKind.SUCCESS
    if code in patterns.REJECTED_CODES:
        return OutcomeKind.REJECTED
    return OutcomeKind.SERVER_ERROR


@_memoized_when_short
def read_update_message(message: str) -> tuple[bool, bool]:
    """Whether a softwareupdated message reports progress, and DDM update enforcement."""
    return (
        patterns.UPDATE_PROGRESS.search(message) is not None,
        any(text in message for text in patterns.DDM_UPDATE_ENFORCEMENT),
    )


def update_progress(message: str) -> tuple[str, str, float | None] | None:
    """(phase, edge, portion) of an update's progress line; None for a catalog scan's
    progress and for anything else."""
    if patterns.UPDATE_PROGRESS_LINE.match(message) is None:
        return None
    match = patterns.UPDATE_PROGRESS.search(message)
    if match is None or match["scan"] == "Scan r":
        return None
    return _progress_of(match)


def _progress_at_start(message: str) -> tuple[str, str, float | None] | None:
    """update_progress() of a message that starts with the progress manager's wording,
    read as the collector reads such a line (_add_software_update); None otherwise."""
    if not message.startswith(patterns.UPDATE_PROGRESS_START):
        return None
    start = patterns.UPDATE_PROGRESS_AFTER_START.match(message, len(patterns.UPDATE_PROGRESS_START))
    return None if start is None else _progress_of(start)


def _portion_after_phase(message: str, at: int) -> float | None:
    """The portion _progress_at_start reads of a message whose phase ends at ``at``."""
    match = patterns.UPDATE_PROGRESS_AFTER_PHASE.match(message, at)  # (all optional: it matches)
    return _portion(match["portion"] if match else None)


def _progress_of(match: re.Match[str]) -> tuple[str, str, float | None]:
    phase, edge, portion = match.group("phase", "edge", "portion")
    return phase, edge, _portion(portion)


def _portion(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:  # "1.2.3"
        return None


# (time, text) of a sighting, and (time, request type, status, text) of a command, as
# the collector keeps them: made into frozen results only once, by observations().
_Seen = tuple[datetime, str]
_Handled = tuple[datetime, str, str | None, str]
_Ended = tuple[datetime, OutcomeKind, str, str | None]
# (phase, edge, portion) of an update's progress, and (time, arrival, phase, edge,
# portion) of a report of it
_Update = tuple[str, str, float | None]
_Reported = tuple[datetime, int, str, str, float | None]

POWER_EVENTS_KEPT = 512
# Prefixes of runs' messages whose phase and edge are remembered: one per making of
# progress lines (runs.py keeps 16), and more, lest damaged input grow it.
_RUN_PREFIXES_KEPT = 64
PROGRESS_EVENTS_KEPT = 512


def _newer(current: _Seen | None, time: datetime, text: str) -> _Seen:
    return (time, text) if current is None or time >= current[0] else current


def _sighting(seen: _Seen | None) -> Sighting | None:
    return None if seen is None else Sighting(*seen)


class Collector:
    """Folds log entries into :class:`Observations`. Their order does not matter but to
    update progress, kept by runs in the order read (_add_report): of a log read in time
    order, what the checks read of it is what reading it in any order would give.

    An entry counts only if it comes from one of Apple's daemons: its process image is
    the daemon's real path (:data:`patterns.DAEMON_PATHS`). Entries that claim to be a
    daemon's (by process name or mdmclient's subsystem) from another program are ignored
    and counted. Text styles do not name the image: their entries are taken by process
    name and counted as unverified, unless ``verified_only`` (live runs, which always
    read a style that names it).

    ``until`` drops entries written after the instant being judged, so judging an
    export "as of" an earlier time ignores what came later.
    """

    def __init__(self, until: datetime | None = None, *, verified_only: bool = False) -> None:
        self.until = until
        self.verified_only = verified_only
        self._read_from: datetime | None = None  # entries from then on were read already
        self.newest_entry: datetime | None = None
        self.last_device_success: _Seen | None = None
        self.last_device_failure: _Seen | None = None
        self.last_user_success: _Seen | None = None
        self.last_device_activity: _Seen | None = None
        self.last_command: _Handled | None = None
        self.last_update_progress: _Seen | None = None
        self.last_ddm_enforcement: _Seen | None = None
        self.last_device_request: _Seen | None = None
        self.last_device_outcome: _Ended | None = None
        self.last_push: _Seen | None = None
        self.last_connect: _Seen | None = None
        self.last_exchange_any_channel: _Seen | None = None
        self.last_courier_connection: _Seen | None = None
        self.redacted_pushes = 0
        self.last_redacted_push: _Seen | None = None
        self.relevant_entries = 0
        self.daemon_entries = 0
        self.unverified_entries = 0
        self.ignored_entries = 0
        # min-heaps by time: the newest few, whatever order they came in; entries of
        # the same time are told apart by their arrival (_arrived), so a read of the
        # end of an export keeps and orders them as a read of all of it does
        self._arrived = 0
        self._identity: list[tuple[datetime, int, str]] = []
        self._power: list[tuple[datetime, int, bool, str]] = []
        self._progress: list[_Reported] = []
        # the run of progress being read: its first and last report (see _add_progress)
        self._run: tuple[_Reported, _Reported] | None = None
        # the sender of the last run of lines added, and whether it counts (add_run)
        self._run_sender: tuple[LogEntry | None, bool | None] = (None, None)
        # the phase and edge of runs' lines by their messages' prefix (_run_update)
        self._run_updates: dict[str, tuple[str, str] | None] = {}
        self.last_ddm_declaration: _Seen | None = None

    def read_only_before(self, instant: datetime) -> None:
        """From now on, take only entries written before ``instant``: a second query
        that overlaps a first must not count the same entries twice."""
        self._read_from = instant

    @property
    def takes_every_entry(self) -> bool:
        """Whether every entry is taken, whatever its time (no instant bounds them): then
        lines alike may come as one (runs.AlikeLines)."""
        return self.until is None and self._read_from is None

    def takes_whole(self, found: ProgressRun | AlikeLines) -> bool:
        """Whether a run of progress lines or lines alike is taken whole (add_run,
        add_alike), not line by line: then its lines need not be at hand."""
        if isinstance(found, AlikeLines):
            return self.takes_every_entry
        return self._run_reading(found) is not None

    def add_all(self, entries: Iterable[LogEntry | ProgressRun | AlikeLines]) -> Collector:
        for entry in entries:
            # a class compared, not isinstance(): this runs for every entry read
            if entry.__class__ is LogEntry:
                self.add(entry)
            elif entry.__class__ is ProgressRun:
                self.add_run(entry)
            else:
                self.add_alike(entry)  # type: ignore[arg-type]
        return self

    def add_run(self, run: ProgressRun) -> None:
        """A run of progress lines alike (runs.py), as adding each of its lines would:
        when all of them count alike (softwareupdated's progress of one phase and edge,
        within the instants taken), from its first and last line and its count; else
        line by line."""
        reading = self._run_reading(run)
        if reading is None:
            for entry in run.entries():
                self.add(entry)
            return
        verified, first, last = reading
        time = run.last[0]
        if self.newest_entry is None or time > self.newest_entry:
            self.newest_entry = time
        count = run.count
        self.daemon_entries += count
        self.relevant_entries += count
        if not verified:
            self.unverified_entries += count
        newest = self.last_update_progress
        if newest is None or time >= newest[0]:
            self.last_update_progress = run.last
        self._add_report(run.first[0], first)
        if count > 1:
            self._arrived += count - 2  # the reports between, each as it arrived
            self._add_report(time, last)

    def add_alike(self, alike: AlikeLines) -> None:
        """Lines alike (runs.py), as adding each would: the newest, and what each other
        adds to the counts; line by line when entries are taken only from or until an
        instant, or when the lines are of a kind that counts each apart."""
        if not self.takes_every_entry:
            for entry in alike.entries():
                self.add(entry)
            return
        before = self._counts()
        self.add(alike.newest)
        after = self._counts()
        if after[-1] != before[-1]:  # (never: such lines are read one by one)
            raise ValueError("lines alike of a kind that counts each apart")
        others = alike.count - 1
        (
            self.relevant_entries,
            self.daemon_entries,
            self.unverified_entries,
            self.ignored_entries,
            self.redacted_pushes,
        ) = (now + (now - then) * others for now, then in zip(after[:-1], before, strict=False))

    def _counts(self) -> tuple[int, int, int, int, int, int]:
        return (
            self.relevant_entries,
            self.daemon_entries,
            self.unverified_entries,
            self.ignored_entries,
            self.redacted_pushes,
            self._arrived,
        )

    def _run_reading(self, run: ProgressRun) -> tuple[bool, _Update, _Update] | None:
        """Whether the run's lines are softwareupdated's by its path (False: by its
        name), and its first and last progress, when each line counts as every other
        does: an update's progress of one phase and edge, taken whatever the instants
        from and until which entries are taken; None otherwise."""
        time = run.last[0]
        if (self.until is not None and time > self.until) or (
            self._read_from is not None and time >= self._read_from
        ):
            return None
        sender = run.sender
        if sender is not self._run_sender[0]:  # runs of two or three makings take turns
            claimed, verified = self._claim(sender)
            taken = claimed == patterns.SOFTWARE_UPDATE_PROCESS and (
                verified or not self.verified_only
            )
            self._run_sender = (sender, verified if taken else None)
        counts = self._run_sender[1]
        if counts is None:
            return None
        # (its lines name no enforcement: they hold no marker but the progress one)
        update = self._run_update(run.prefix, run.first[1])
        if update is None:
            return None
        after_phase = len(run.prefix) - 1
        first = (*update, _portion_after_phase(run.first[1], after_phase))
        last = (*update, _portion_after_phase(run.last[1], after_phase))
        return counts, first, last

    def _run_update(self, prefix: str, message: str) -> tuple[str, str] | None:
        """The phase and edge of every line of runs whose messages start with
        ``prefix`` (runs.ProgressRun), as _progress_at_start reads them: there, they
        are what ``message``, one of them, says; None when it reads no progress."""
        if prefix not in self._run_updates:
            if len(self._run_updates) >= _RUN_PREFIXES_KEPT:
                self._run_updates.clear()
            read = _progress_at_start(message)
            self._run_updates[prefix] = None if read is None else (read[0], read[1])
        return self._run_updates[prefix]

    def add(self, entry: LogEntry) -> None:
        time = entry.timestamp
        if self.until is not None and time > self.until:
            return
        if self._read_from is not None and time >= self._read_from:
            return
        if self.newest_entry is None or time > self.newest_entry:
            self.newest_entry = time
        claimed, verified = self._claim(entry)
        if claimed is None:
            return
        if not verified and (self.verified_only or claimed == _FOREIGN):
            if _would_matter(entry):
                self.ignored_entries += 1
            return
        if claimed == patterns.POWER:  # the system's own, not a daemon's
            self._add_power(time, entry.message)
            return
        self.daemon_entries += 1
        before = self.relevant_entries
        if claimed == patterns.MDM_PROCESS:
            self._add_mdm(time, entry.message, entry.user_id)
        elif claimed == patterns.SOFTWARE_UPDATE_PROCESS:
            self._add_software_update(time, entry.message)
        else:
            self._add_push_service(time, entry.message)
        if not verified and self.relevant_entries > before:
            self.unverified_entries += 1

    @staticmethod
    def _claim(entry: LogEntry) -> tuple[str | None, bool]:
        """Which daemon (or the power manager) the entry is from, and whether its image
        path proves it; _FOREIGN for another program claiming a daemon's name or
        mdmclient's subsystem; None for anything else."""
        claimed = _by_path(entry) if entry.image_path else _by_name(entry)
        if claimed[0] is not None:
            return claimed
        if entry.process in patterns.DAEMON_NAMES or entry.subsystem.startswith(
            patterns.MDM_SUBSYSTEM
        ):
            return _FOREIGN, False
        return None, False

    def _add_mdm(self, time: datetime, message: str, user_id: int | None) -> None:
        reading = read_mdm_message(message)
        channel = patterns.channel_of(reading.channel, user_id)
        if reading.identity_error and channel != patterns.USER:
            self.relevant_entries += 1
            self._add_identity_error(time, message)
        if reading.exchange_or_request:
            self.relevant_entries += 1
            self.last_exchange_any_channel = _newer(self.last_exchange_any_channel, time, message)
            self._add_exchange(time, message, reading, channel)
        elif reading.failure is not None and channel != patterns.USER:
            # a failure only ever stops a restart: an untagged one counts as the device's
            self.relevant_entries += 1
            self._add_outcome((time, reading.failure, message, None))
        elif reading.connect and channel == patterns.DEVICE:
            self.relevant_entries += 1
            self.last_connect = _newer(self.last_connect, time, message)

    def _add_exchange(
        self, time: datetime, message: str, reading: MdmReading, channel: str
    ) -> None:
        if channel == patterns.DEVICE:
            self.last_device_activity = _newer(self.last_device_activity, time, message)
            if reading.success:
                self.last_device_success = _newer(self.last_device_success, time, message)
            elif reading.received:
                self.last_device_failure = _newer(self.last_device_failure, time, message)
            if reading.code is not None:
                self._add_outcome((time, outcome_of(reading.code), message, reading.code))
            elif reading.sent:
                self.last_device_request = _newer(self.last_device_request, time, message)
            if reading.request_type is not None:
                self._add_command((time, reading.request_type, reading.status, message))
        elif channel == patterns.USER and reading.success:
            self.last_user_success = _newer(self.last_user_success, time, message)

    def _add_outcome(self, outcome: _Ended) -> None:
        if self.last_device_outcome is None or outcome[0] >= self.last_device_outcome[0]:
            self.last_device_outcome = outcome

    def _add_command(self, command: _Handled) -> None:
        if self.last_command is None or command[0] >= self.last_command[0]:
            self.last_command = command

    def _add_identity_error(self, time: datetime, message: str) -> None:
        _keep_newest(self._identity, (time, self._arrival(), message), IDENTITY_ERRORS_KEPT)

    def _add_software_update(self, time: datetime, message: str) -> None:
        # Nearly every progress line is read whole by one match where it starts: what
        # the general reading below makes of it, at a third of the cost (an updating
        # Mac writes thousands an hour). It cannot also be a declaration, which starts
        # otherwise; it may still name an enforcement. No generator or helper more than
        # needed: a quarter of an updating Mac's lines come this way, and each costs
        # about a tenth of a microsecond.
        start = (
            patterns.UPDATE_PROGRESS_AFTER_START.match(message, len(patterns.UPDATE_PROGRESS_START))
            if message.startswith(patterns.UPDATE_PROGRESS_START)
            else None
        )  # patterns.UPDATE_PROGRESS_AT_START.match(message), at half the cost
        if start is not None:
            self._add_progress(time, message, _progress_of(start))
            for text in patterns.DDM_UPDATE_ENFORCEMENT:
                if text in message:
                    self.relevant_entries += 1
                    self.last_ddm_enforcement = _newer(self.last_ddm_enforcement, time, message)
                    break
            return
        if patterns.DDM_DECLARATION_LINE.match(message):
            self.relevant_entries += 1
            self.last_ddm_declaration = _newer(self.last_ddm_declaration, time, message)
        progress, enforcement = read_update_message(message)
        if progress:
            self._add_progress(time, message, update_progress(message))
        if enforcement:
            self.relevant_entries += 1
            self.last_ddm_enforcement = _newer(self.last_ddm_enforcement, time, message)

    def _add_progress(
        self, time: datetime, message: str, update: tuple[str, str, float | None] | None
    ) -> None:
        """Progress reported (``update``: an update's phase, edge and portion; None for a
        catalog scan's progress)."""
        self.relevant_entries += 1
        last = self.last_update_progress
        if last is None or time >= last[0]:
            self.last_update_progress = (time, message)
        if update is not None:
            self._add_report(time, update)

    def _add_report(self, time: datetime, update: _Update) -> None:
        # Kept by runs: reports of one phase and edge one after another, each as new as
        # the one before, are one run, kept as its first and last report. Nothing the
        # checks read is lost (what a report between two of its phase adds to the
        # phases' order, or to the newest report, is nothing), and the newest reports
        # kept reach back further than the reports themselves would: a download
        # reports several times a second.
        self._arrived += 1
        report = (time, self._arrived, *update)
        run = self._run
        if run is not None:
            newest = run[1]
            if time >= newest[0] and newest[2] == report[2] and newest[3] == report[3]:
                self._run = (run[0], report)
                return
            self._keep_run(run)
        self._run = (report, report)

    def _keep_run(self, run: tuple[_Reported, _Reported]) -> None:
        _keep_newest(self._progress, run[0], PROGRESS_EVENTS_KEPT)
        if run[1] is not run[0]:
            _keep_newest(self._progress, run[1], PROGRESS_EVENTS_KEPT)

    def _add_push_service(self, time: datetime, message: str) -> None:
        topic = patterns.push_topic(message)
        if topic is not None:
            self.relevant_entries += 1
            if topic.startswith(patterns.MDM_TOPIC_PREFIXES):
                self.last_push = _newer(self.last_push, time, message)
            elif topic == patterns.REDACTED:
                self.redacted_pushes += 1
                self.last_redacted_push = _newer(self.last_redacted_push, time, message)
        elif any(text in message for text in patterns.COURIER_CONNECTED):
            self.relevant_entries += 1
            self.last_courier_connection = _newer(self.last_courier_connection, time, message)

    def _arrival(self) -> int:
        self._arrived += 1
        return self._arrived

    def _add_power(self, time: datetime, message: str) -> None:
        asleep = patterns.power_event(message)
        if asleep is not None:
            self.relevant_entries += 1
            _keep_newest(self._power, (time, self._arrival(), asleep, message), POWER_EVENTS_KEPT)

    def observations(self) -> Observations:
        """The facts gathered so far."""
        outcome = self.last_device_outcome
        return Observations(
            newest_entry=self.newest_entry,
            last_device_success=_sighting(self.last_device_success),
            last_device_failure=_sighting(self.last_device_failure),
            last_user_success=_sighting(self.last_user_success),
            last_device_activity=_sighting(self.last_device_activity),
            last_command=None if self.last_command is None else Command(*self.last_command),
            identity_errors=tuple(
                Sighting(time, text)
                for time, _, text in sorted(self._identity, key=lambda i: i[:2])
            ),
            last_update_progress=_sighting(self.last_update_progress),
            last_ddm_enforcement=_sighting(self.last_ddm_enforcement),
            relevant_entries=self.relevant_entries,
            last_device_request=_sighting(self.last_device_request),
            last_device_outcome=None
            if outcome is None
            else Outcome(outcome[0], outcome[1], outcome[2], outcome[3]),
            last_push=_sighting(self.last_push),
            last_connect=_sighting(self.last_connect),
            last_exchange_any_channel=_sighting(self.last_exchange_any_channel),
            redacted_pushes=self.redacted_pushes,
            last_redacted_push=_sighting(self.last_redacted_push),
            last_courier_connection=_sighting(self.last_courier_connection),
            power_events=tuple(
                PowerEvent(time, asleep, text)
                for time, _, asleep, text in sorted(self._power, key=lambda i: i[:2])
            ),
            update_progress=tuple(
                Progress(time, phase, edge, portion)
                for time, _, phase, edge, portion in sorted(self._kept_progress())
            ),
            last_ddm_declaration=_sighting(self.last_ddm_declaration),
            daemon_entries=self.daemon_entries,
            unverified_entries=self.unverified_entries,
            ignored_entries=self.ignored_entries,
        )

    def _kept_progress(self) -> list[_Reported]:
        """The newest reports kept, the run being read ended here (it may go on)."""
        if self._run is None:
            return list(self._progress)
        collector = Collector()
        collector._progress = list(self._progress)
        collector._keep_run(self._run)
        return collector._progress


_FOREIGN = "foreign"  # another program, claiming to be a daemon


def _by_path(entry: LogEntry) -> tuple[str | None, bool]:
    """The daemon whose program wrote the entry, by the path the kernel recorded."""
    name = patterns.DAEMON_PATHS.get(entry.image_path)
    if name is None:
        return (patterns.POWER, True) if entry.image_path in patterns.POWER_PATHS else (None, False)
    accounts = patterns.DAEMON_ACCOUNTS.get(name)
    if accounts and entry.user_id is not None and entry.user_id not in accounts:
        return _FOREIGN, False  # the daemon's binary, run by someone else
    return name, True


def _by_name(entry: LogEntry) -> tuple[str | None, bool]:
    """The daemon a text-style entry names: unverified, the style records no path."""
    if entry.process in patterns.DAEMON_NAMES:
        return entry.process, False
    if entry.process in patterns.POWER_PROCESSES:
        return patterns.POWER, False
    return None, False


def _would_matter(entry: LogEntry) -> bool:
    """Whether a line would have counted, had a daemon written it: only such forgeries
    are counted (a program named mdmclient saying "hello" is not worth a mention)."""
    message = entry.message
    reading = read_mdm_message(message)
    return (
        reading.identity_error
        or reading.exchange_or_request
        or reading.failure is not None
        or reading.connect
        or any(read_update_message(message))
        or patterns.push_topic(message) is not None
        or any(text in message for text in patterns.COURIER_CONNECTED)
    )


_Item = TypeVar("_Item", bound=tuple[Any, ...])


def _keep_newest(heap: list[_Item], item: _Item, size: int) -> None:
    """Keep the ``size`` newest items (by their first field) in a min-heap."""
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item[0] > heap[0][0]:
        heapq.heapreplace(heap, item)


def ago(at: datetime, then: datetime) -> str:
    seconds = int((at - then).total_seconds())
    if seconds < 0:
        return f"{-seconds // 60} min after the judged instant"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86400} days ago"


def window_text(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 and minutes >= 120 else f"{minutes} min"


def is_software_update_command(command: Command, obs: Observations, since: datetime) -> bool:
    """Whether a command belongs to an OS update, per :mod:`patterns`."""
    if command.request_type in patterns.SOFTWARE_UPDATE_COMMANDS:
        return True
    return (
        command.request_type == patterns.DECLARATIVE_COMMAND
        and obs.last_ddm_enforcement is not None
        and obs.last_ddm_enforcement.time >= since
    )
