"""Evidence and verdicts: what the log shows about mdmclient, and what that means.

:class:`Collector` folds log entries, in any order, into the few facts the checks need
(newest successful device-channel exchange, newest MDM command, identity errors...), so
a day of log costs constant memory. :func:`judge` turns those facts, an enrollment
reading and an explicit instant into the four verdicts, each with its reason.
Both are pure: no clock, no files, no processes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache, wraps
from types import MappingProxyType
from typing import NamedTuple, TypeVar

from watchdog_mdm import patterns
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.keys import Verdict
from watchdog_mdm.text import one_line

__all__ = [
    "Collector",
    "Command",
    "Diagnosis",
    "Enrollment",
    "EnrollmentSource",
    "Observations",
    "Sighting",
    "is_software_update_command",
    "judge",
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


def _excerpt(message: str) -> str:
    message = one_line(message, len(message))
    if len(message) <= EXCERPT_CHARS:
        return message
    return message[: EXCERPT_CHARS - 1] + "…"


class MdmReading(NamedTuple):
    """What one mdmclient message says, as the rules in :mod:`patterns` read it."""

    identity_error: bool
    exchange_or_request: bool  # an HTTP exchange or a server request: neither, no more
    channel: str  # patterns.DEVICE, USER or UNKNOWN
    received: bool = False
    success: bool = False
    request_type: str | None = None  # the command handled, if the line names one
    status: str | None = None  # Acknowledged, NotNow, Error...; None while processing


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
        return MdmReading(
            identity_error,
            True,
            patterns.exchange_channel(message),
            received,
            received and exchange["code"] == patterns.SUCCESS_CODE,
            bracket["request_type"] if bracket else None,
            bracket["status"] if bracket else None,
        )
    request = patterns.SERVER_REQUEST.search(message)
    if request is not None:
        return MdmReading(
            identity_error,
            True,
            patterns.request_channel(request["target"]),
            request_type=request["request_type"],
        )
    return MdmReading(identity_error, False, patterns.UNKNOWN)


@_memoized_when_short
def read_update_message(message: str) -> tuple[bool, bool]:
    """Whether a softwareupdated message reports progress, and DDM update enforcement."""
    return (
        patterns.UPDATE_PROGRESS.search(message) is not None,
        any(text in message for text in patterns.DDM_UPDATE_ENFORCEMENT),
    )


# (time, text) of a sighting, and (time, request type, status, text) of a command, as
# the collector keeps them: made into frozen results only once, by observations().
_Seen = tuple[datetime, str]
_Handled = tuple[datetime, str, str | None, str]


def _newer(current: _Seen | None, time: datetime, text: str) -> _Seen:
    return (time, text) if current is None or time >= current[0] else current


def _sighting(seen: _Seen | None) -> Sighting | None:
    return None if seen is None else Sighting(*seen)


class Collector:
    """Folds log entries into :class:`Observations`; order of entries does not matter.

    ``until`` drops entries written after the instant being judged, so judging an
    export "as of" an earlier time ignores what came later.
    """

    def __init__(self, until: datetime | None = None) -> None:
        self.until = until
        self.newest_entry: datetime | None = None
        self.last_device_success: _Seen | None = None
        self.last_device_failure: _Seen | None = None
        self.last_user_success: _Seen | None = None
        self.last_device_activity: _Seen | None = None
        self.last_command: _Handled | None = None
        self.last_update_progress: _Seen | None = None
        self.last_ddm_enforcement: _Seen | None = None
        self.relevant_entries = 0
        # a min-heap by time: the newest few identity errors, whatever order they came in
        self._identity: list[tuple[datetime, int, str]] = []

    def add_all(self, entries: Iterable[LogEntry]) -> Collector:
        for entry in entries:
            self.add(entry)
        return self

    def add(self, entry: LogEntry) -> None:
        time = entry.timestamp
        if self.until is not None and time > self.until:
            return
        if self.newest_entry is None or time > self.newest_entry:
            self.newest_entry = time
        if entry.process == patterns.MDM_PROCESS or entry.subsystem.startswith(
            patterns.MDM_SUBSYSTEM
        ):
            self._add_mdm(time, entry.message)
        elif entry.process == patterns.SOFTWARE_UPDATE_PROCESS:
            self._add_software_update(time, entry.message)

    def _add_mdm(self, time: datetime, message: str) -> None:
        reading = read_mdm_message(message)
        if reading.identity_error:
            self.relevant_entries += 1
            self._add_identity_error(time, message)
        if not reading.exchange_or_request:
            return
        self.relevant_entries += 1
        if reading.channel == patterns.DEVICE:
            self.last_device_activity = _newer(self.last_device_activity, time, message)
            if reading.success:
                self.last_device_success = _newer(self.last_device_success, time, message)
            elif reading.received:
                self.last_device_failure = _newer(self.last_device_failure, time, message)
            if reading.request_type is not None:
                self._add_command((time, reading.request_type, reading.status, message))
        elif reading.channel == patterns.USER and reading.success:
            self.last_user_success = _newer(self.last_user_success, time, message)

    def _add_command(self, command: _Handled) -> None:
        if self.last_command is None or command[0] >= self.last_command[0]:
            self.last_command = command

    def _add_identity_error(self, time: datetime, message: str) -> None:
        item = (time, len(self._identity), message)
        if len(self._identity) < IDENTITY_ERRORS_KEPT:
            heapq.heappush(self._identity, item)
        elif time > self._identity[0][0]:
            heapq.heapreplace(self._identity, item)

    def _add_software_update(self, time: datetime, message: str) -> None:
        progress, enforcement = read_update_message(message)
        if progress:
            self.relevant_entries += 1
            self.last_update_progress = _newer(self.last_update_progress, time, message)
        if enforcement:
            self.relevant_entries += 1
            self.last_ddm_enforcement = _newer(self.last_ddm_enforcement, time, message)

    def observations(self) -> Observations:
        """The facts gathered so far."""
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
        )


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The four verdicts, as of ``judged_at``, with the evidence behind them."""

    enrolled: bool | None
    identity_error: bool
    client_stuck: bool
    updates_stuck: bool
    judged_at: datetime
    window: timedelta
    history: timedelta
    enrollment: Enrollment
    observations: Observations
    reasons: Mapping[Verdict, str] = field(default_factory=dict)


def _ago(at: datetime, then: datetime) -> str:
    seconds = int((at - then).total_seconds())
    if seconds < 0:
        return f"{-seconds // 60} min after the judged instant"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86400} days ago"


def _window_text(window: timedelta) -> str:
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


def judge(
    obs: Observations,
    at: datetime,
    window: timedelta,
    history: timedelta,
    enrollment: Enrollment,
) -> Diagnosis:
    """Reach the four verdicts as of ``at``.

    - MDMIdentityError: an identity failure logged within ``window`` before ``at``.
    - MDMClientStuck: enrolled, and no device-channel HTTP 200 within the window.
    - MDMSoftwareUpdatesStuck: stuck, and the newest device command within ``history``
      belongs to a software update.
    """
    start = at - window
    window_text = _window_text(window)
    enrolled = enrollment.enrolled
    identity_error, identity_reason = _identity_verdict(obs, at, start, window_text)
    client_stuck, client_reason = _client_verdict(obs, at, start, window_text, enrolled)
    updates_stuck, updates_reason = _updates_verdict(obs, at, history, client_stuck)
    reasons = {
        Verdict.ENROLLED: _enrollment_reason(enrollment, obs, at),
        Verdict.IDENTITY_ERROR: identity_reason,
        Verdict.CLIENT_STUCK: client_reason,
        Verdict.UPDATES_STUCK: updates_reason,
    }
    return Diagnosis(
        enrolled=enrolled,
        identity_error=identity_error,
        client_stuck=client_stuck,
        updates_stuck=updates_stuck,
        judged_at=at,
        window=window,
        history=history,
        enrollment=enrollment,
        observations=obs,
        reasons=MappingProxyType(reasons),
    )


def _identity_verdict(
    obs: Observations, at: datetime, start: datetime, window_text: str
) -> tuple[bool, str]:
    recent = [s for s in obs.identity_errors if start <= s.time <= at]
    if not recent:
        return False, f"no MDM identity failure logged by mdmclient in the last {window_text}"
    newest = recent[-1]
    return True, (
        f"mdmclient logged an MDM identity failure {_ago(at, newest.time)}: {newest.message}"
    )


def _client_verdict(
    obs: Observations, at: datetime, start: datetime, window_text: str, enrolled: bool | None
) -> tuple[bool, str]:
    if enrolled is False:
        return False, "not enrolled, so there is no MDM server to talk to"
    if enrolled is None:
        return False, (
            "enrollment is unknown (no device-channel MDM traffic in this log), "
            "so stuck cannot be judged"
        )
    success = obs.last_device_success
    if success is not None and success.time >= start:
        return False, (
            f"the device channel exchanged with the MDM server {_ago(at, success.time)} "
            f"(within {window_text}): {success.message}"
        )
    return True, _stuck_reason(obs, at, window_text)


def _updates_verdict(
    obs: Observations, at: datetime, history: timedelta, client_stuck: bool
) -> tuple[bool, str]:
    command = obs.last_command
    history_start = at - history
    if not client_stuck:
        return False, "the MDM client is not stuck"
    if command is None or command.time < history_start:
        return False, f"no MDM command seen in the last {_window_text(history)}"
    if is_software_update_command(command, obs, history_start):
        return True, (
            f"the last MDM command before the client went quiet was {command.request_type} "
            f"({_ago(at, command.time)}), a software-update command: {command.message}"
        )
    return False, (
        f"the last MDM command was {command.request_type} ({_ago(at, command.time)}), "
        "not a software-update command"
    )


def _enrollment_reason(enrollment: Enrollment, obs: Observations, at: datetime) -> str:
    if enrollment.source is EnrollmentSource.PROFILES:
        text = f"profiles reports MDM enrollment: {enrollment.mdm_enrollment}"
        if enrollment.mdm_server:
            text += f" (server {enrollment.mdm_server})"
        return text
    activity = obs.last_device_activity
    if enrollment.enrolled and activity is not None:
        return f"the device channel talked to an MDM server {_ago(at, activity.time)}"
    return "no device-channel MDM traffic in this log, so enrollment is unknown"


def _stuck_reason(obs: Observations, at: datetime, window_text: str) -> str:
    success = obs.last_device_success
    text = f"no device-channel HTTP 200 from the MDM server in the last {window_text}"
    if success is not None:
        text += f"; the last was {_ago(at, success.time)}"
    else:
        text += "; none in the log read"
    failure = obs.last_device_failure
    if failure is not None and failure.time >= at - timedelta(days=365):
        text += f"; last failed response {_ago(at, failure.time)}: {failure.message}"
    user = obs.last_user_success
    if user is not None and (success is None or user.time > success.time):
        text += f"; a user channel succeeded {_ago(at, user.time)}, which does not count"
    return text
