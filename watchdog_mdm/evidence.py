"""Evidence and verdicts: what the log shows about mdmclient, and what that means.

:class:`Collector` folds log entries, in any order, into the few facts the checks need
(newest successful device-channel exchange, newest MDM command, identity errors...), so
a day of log costs constant memory. :func:`judge` turns those facts, an enrollment
reading and an explicit instant into the four verdicts, each with its reason.
Both are pure: no clock, no files, no processes.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from watchdog_mdm import patterns
from watchdog_mdm.logs import LogEntry
from watchdog_mdm.text import one_line

__all__ = [
    "Collector",
    "Command",
    "Diagnosis",
    "Enrollment",
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


@dataclass(frozen=True, slots=True)
class Enrollment:
    """Whether the Mac is enrolled, and how we know."""

    enrolled: bool | None
    source: str  # "profiles" or "log"
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


def _newer(current: Sighting | None, candidate: Sighting) -> Sighting:
    return candidate if current is None or candidate.time >= current.time else current


class Collector:
    """Folds log entries into :class:`Observations`; order of entries does not matter.

    ``until`` drops entries written after the instant being judged, so judging an
    export "as of" an earlier time ignores what came later.
    """

    def __init__(self, until: datetime | None = None) -> None:
        self.until = until
        self.newest_entry: datetime | None = None
        self.last_device_success: Sighting | None = None
        self.last_device_failure: Sighting | None = None
        self.last_user_success: Sighting | None = None
        self.last_device_activity: Sighting | None = None
        self.last_command: Command | None = None
        self.last_update_progress: Sighting | None = None
        self.last_ddm_enforcement: Sighting | None = None
        self.relevant_entries = 0
        # a min-heap by time: the newest few identity errors, whatever order they came in
        self._identity: list[tuple[datetime, int, Sighting]] = []

    def add_all(self, entries: Iterable[LogEntry]) -> Collector:
        for entry in entries:
            self.add(entry)
        return self

    def add(self, entry: LogEntry) -> None:
        if self.until is not None and entry.timestamp > self.until:
            return
        if self.newest_entry is None or entry.timestamp > self.newest_entry:
            self.newest_entry = entry.timestamp
        if entry.process == patterns.MDM_PROCESS or entry.subsystem.startswith(
            patterns.MDM_SUBSYSTEM
        ):
            self._add_mdm(entry)
        elif entry.process == patterns.SOFTWARE_UPDATE_PROCESS:
            self._add_software_update(entry)

    def _add_mdm(self, entry: LogEntry) -> None:
        message = entry.message
        if any(text in message for text in patterns.IDENTITY_ERRORS):
            self.relevant_entries += 1
            self._add_identity_error(Sighting(entry.timestamp, message))
        exchange = patterns.HTTP_EXCHANGE.search(message)
        request = None if exchange else patterns.SERVER_REQUEST.search(message)
        if exchange is None and request is None:
            return
        self.relevant_entries += 1
        sighting = Sighting(entry.timestamp, message)
        if request is not None:
            channel = patterns.request_channel(request["target"])
            if channel == patterns.DEVICE:
                self.last_device_activity = _newer(self.last_device_activity, sighting)
                self._add_command(Command(entry.timestamp, request["request_type"], None,
                                          message))
            return
        assert exchange is not None
        channel = patterns.exchange_channel(message)
        received = exchange["direction"].startswith("Received")
        success = received and exchange["code"] == patterns.SUCCESS_CODE
        if channel == patterns.DEVICE:
            self.last_device_activity = _newer(self.last_device_activity, sighting)
            if success:
                self.last_device_success = _newer(self.last_device_success, sighting)
            elif received:
                self.last_device_failure = _newer(self.last_device_failure, sighting)
            bracket = patterns.COMMAND_BRACKET.fullmatch(exchange["bracket"] or "")
            if bracket is not None:
                self._add_command(Command(entry.timestamp, bracket["request_type"],
                                          bracket["status"], message))
        elif channel == patterns.USER and success:
            self.last_user_success = _newer(self.last_user_success, sighting)

    def _add_command(self, command: Command) -> None:
        if self.last_command is None or command.time >= self.last_command.time:
            self.last_command = command

    def _add_identity_error(self, sighting: Sighting) -> None:
        item = (sighting.time, len(self._identity), sighting)
        if len(self._identity) < IDENTITY_ERRORS_KEPT:
            heapq.heappush(self._identity, item)
        elif sighting.time > self._identity[0][0]:
            heapq.heapreplace(self._identity, item)

    def _add_software_update(self, entry: LogEntry) -> None:
        sighting = Sighting(entry.timestamp, entry.message)
        if patterns.UPDATE_PROGRESS.search(entry.message) is not None:
            self.relevant_entries += 1
            self.last_update_progress = _newer(self.last_update_progress, sighting)
        if any(text in entry.message for text in patterns.DDM_UPDATE_ENFORCEMENT):
            self.relevant_entries += 1
            self.last_ddm_enforcement = _newer(self.last_ddm_enforcement, sighting)

    def observations(self) -> Observations:
        """The facts gathered so far."""
        return Observations(
            newest_entry=self.newest_entry,
            last_device_success=self.last_device_success,
            last_device_failure=self.last_device_failure,
            last_user_success=self.last_user_success,
            last_device_activity=self.last_device_activity,
            last_command=self.last_command,
            identity_errors=tuple(s for _, _, s in sorted(self._identity,
                                                          key=lambda i: i[:2])),
            last_update_progress=self.last_update_progress,
            last_ddm_enforcement=self.last_ddm_enforcement,
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
    reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def window_start(self) -> datetime:
        return self.judged_at - self.window


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
    reasons: dict[str, str] = {}

    enrolled = enrollment.enrolled
    reasons["MDMEnrolled"] = _enrollment_reason(enrollment, obs, at)

    recent_identity = [s for s in obs.identity_errors if start <= s.time <= at]
    identity_error = bool(recent_identity)
    if identity_error:
        newest = recent_identity[-1]
        reasons["MDMIdentityError"] = (
            f"mdmclient logged an MDM identity failure {_ago(at, newest.time)}: {newest.message}"
        )
    else:
        reasons["MDMIdentityError"] = (
            f"no MDM identity failure logged by mdmclient in the last {window_text}"
        )

    success = obs.last_device_success
    if enrolled is not True:
        client_stuck = False
        reasons["MDMClientStuck"] = (
            "not enrolled, so there is no MDM server to talk to"
            if enrolled is False
            else "enrollment is unknown (no device-channel MDM traffic in this log), "
            "so stuck cannot be judged"
        )
    elif success is not None and success.time >= start:
        client_stuck = False
        reasons["MDMClientStuck"] = (
            f"the device channel exchanged with the MDM server {_ago(at, success.time)} "
            f"(within {window_text}): {success.message}"
        )
    else:
        client_stuck = True
        reasons["MDMClientStuck"] = _stuck_reason(obs, at, window_text)

    command = obs.last_command
    history_start = at - history
    updates_stuck = False
    if not client_stuck:
        reasons["MDMSoftwareUpdatesStuck"] = "the MDM client is not stuck"
    elif command is None or command.time < history_start:
        reasons["MDMSoftwareUpdatesStuck"] = (
            f"no MDM command seen in the last {_window_text(history)}"
        )
    elif is_software_update_command(command, obs, history_start):
        updates_stuck = True
        reasons["MDMSoftwareUpdatesStuck"] = (
            f"the last MDM command before the client went quiet was {command.request_type} "
            f"({_ago(at, command.time)}), a software-update command: {command.message}"
        )
    else:
        reasons["MDMSoftwareUpdatesStuck"] = (
            f"the last MDM command was {command.request_type} ({_ago(at, command.time)}), "
            "not a software-update command"
        )

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


def _enrollment_reason(enrollment: Enrollment, obs: Observations, at: datetime) -> str:
    if enrollment.source == "profiles":
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
