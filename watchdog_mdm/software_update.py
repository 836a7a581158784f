"""The software update's own state: what is declared, what is running, what is moving.

Since macOS 14 fleets declare OS updates with Declarative Device Management: a target
version and a deadline, kept by the Mac in ``SoftwareUpdateDDMStatePersistence.plist``;
``ScheduleOSUpdate`` is deprecated in macOS 26 (docs/detection.md). So whether updates
are stuck follows the update, not mdmclient's chatter: the declaration, the running
version, and softwareupdated's progress. :func:`update_state` is pure: facts and an
instant in, an :class:`UpdateFinding` out. Reading the plists is done here too, from
bytes; the files come through the seam.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from watchdog_mdm import patterns
from watchdog_mdm.awake import Power
from watchdog_mdm.config import Settings
from watchdog_mdm.evidence import Command, Progress, Sighting, ago

__all__ = [
    "ACTIVE_STATES",
    "DDM_STATE_PATH",
    "STUCK_UPDATE_STATES",
    "SYSTEM_VERSION_PATH",
    "Declaration",
    "UpdateChannel",
    "UpdateEvidence",
    "UpdateFacts",
    "UpdateFinding",
    "UpdateState",
    "UpdateUnreadable",
    "declaration_from_log",
    "read_ddm_state",
    "read_running",
    "read_system_version",
    "update_state",
    "version_key",
]

DDM_STATE_PATH = "/var/db/softwareupdate/SoftwareUpdateDDMStatePersistence.plist"
SYSTEM_VERSION_PATH = "/System/Library/CoreServices/SystemVersion.plist"


class UpdateChannel(StrEnum):
    DDM = "ddm"  # a declaration with a target and a deadline
    MDM = "mdm"  # the MDM update commands (ScheduleOSUpdate...)
    NONE = "none"


class UpdateState(StrEnum):
    NONE = "none"  # nothing pending
    PENDING = "pending"  # declared, before its deadline
    DOWNLOADING = "downloading"
    PREPARING = "preparing"
    INSTALLING = "installing"
    STALLED = "stalled"  # an unfinished phase with no progress for UpdateStallMinutes
    LOOPING = "looping"  # ACCEPTED -> PREPARED_COMMITTING_STASH, again and again
    OVERDUE = "overdue"  # past the deadline and its grace, still on the old version
    DONE = "done"  # running the target version or later
    UNKNOWN = "unknown"


STUCK_UPDATE_STATES = frozenset({UpdateState.STALLED, UpdateState.LOOPING, UpdateState.OVERDUE})
ACTIVE_STATES = frozenset({UpdateState.DOWNLOADING, UpdateState.PREPARING, UpdateState.INSTALLING})

# softwareupdated's progress phases (tests/fixtures/softwareupdated_lines.txt, super's
# example logs, macOS 12-13), and the state each means while it advances.
_DOWNLOADING = ("DOWNLOADING_", "DOWNLOADED_")
_INSTALLING = ("APPLYING",)
# Phases after which nothing is expected to move, so silence is no stall: ready to
# install at the user's or the deadline's word; finished; APPLYING and
# PREPARED_COMMITTING_STASH, after which the Mac restarts into the update (the super
# example runs end there: a full update, and a pre-downloaded or supplemental one). An
# update that never gets past them is caught by its deadline (overdue) or by looping.
WAITING_PHASES = frozenset(
    {"READY", "COMPLETED", "COMPLETE", "APPLYING", "PREPARED_COMMITTING_STASH"}
)
# super issues 95 and 213: a loop of ACCEPTED -> PREPARED_COMMITTING_STASH that never
# reaches PREPARING_UPDATE or APPLYING. A successful run passes through it once.
_FINISHED = frozenset({"COMPLETED", "COMPLETE"})
LOOP_START, LOOP_END = "ACCEPTED", "PREPARED_COMMITTING_STASH"
LOOP_BREAKERS = frozenset({"PREPARING_UPDATE", "APPLYING"})
LOOPS = 3
# The MDM-era update commands that leave an update to do (routine inventory commands,
# AvailableOSUpdates and OSUpdateStatus, never do).
SCHEDULING_COMMANDS = frozenset({"ScheduleOSUpdate", "ScheduleOSUpdateScan"})


class UpdateUnreadable(ValueError):
    """A plist of a shape this version cannot read: the state is unknown."""


@dataclass(frozen=True, slots=True)
class Declaration:
    """A declared OS update: its target and its deadline (in the Mac's time)."""

    target_version: str
    target_build: str | None
    deadline: datetime | None


def _plist(data: bytes, name: str) -> dict[str, Any]:
    import plistlib  # noqa: PLC0415 - only live runs read plists; analyze never loads it

    try:
        loaded = plistlib.loads(data)
    except Exception as exc:  # plistlib raises many kinds on damage
        raise UpdateUnreadable(f"{name} is not a readable property list ({exc})") from None
    if not isinstance(loaded, dict):
        raise UpdateUnreadable(f"{name} is not a dictionary")
    return loaded


# How a wall-clock time of the Mac becomes an instant: a zone, or the Mac's own rules
# (System.local_time), which are right across a daylight-saving change.
Localize = tzinfo | Callable[[datetime], datetime]


def _localized(wall: datetime, local: Localize) -> datetime:
    if wall.tzinfo is not None:
        return wall  # an offset written in the value is kept
    return wall.replace(tzinfo=local) if isinstance(local, tzinfo) else local(wall)


def read_ddm_state(data: bytes | None, local: Localize) -> Declaration | None:
    """The declared update, if any. None: no file, or no declaration in it. Raises
    UpdateUnreadable for a shape this version does not know."""
    if data is None:
        return None
    policy = _plist(data, "the DDM state").get("SUCorePersistedStatePolicyFields")
    if not isinstance(policy, dict):
        raise UpdateUnreadable("the DDM state has no SUCorePersistedStatePolicyFields")
    declarations = policy.get("Declarations", {})
    if not isinstance(declarations, dict):
        raise UpdateUnreadable("the DDM state's Declarations is not a dictionary")
    found = [_declaration(value, local) for value in declarations.values()]
    if not found:
        return None
    # Several: the highest target is the one the Mac must reach.
    return max(found, key=lambda d: version_key(d.target_version) or ((), ""))


def _declaration(value: object, local: Localize) -> Declaration:
    if not isinstance(value, dict) or not isinstance(value.get("TargetOSVersion"), str):
        raise UpdateUnreadable("a declaration without a TargetOSVersion")
    version = value["TargetOSVersion"]
    if version_key(version) is None:
        raise UpdateUnreadable(f"TargetOSVersion {version[:40]!r} is not a version")
    build = value.get("TargetBuildVersion")
    when = value.get("TargetLocalDateTime")
    deadline = None
    if isinstance(when, str):
        try:
            parsed = datetime.fromisoformat(when)
        except ValueError:
            raise UpdateUnreadable(f"TargetLocalDateTime {when[:40]!r} is not a time") from None
        # local time, no offset (the schema); an offset written anyway is kept
        deadline = _localized(parsed, local)
    elif when is not None:
        raise UpdateUnreadable(f"TargetLocalDateTime is a {type(when).__name__}, not a string")
    return Declaration(version, build if isinstance(build, str) else None, deadline)


def declaration_from_log(line: Sighting | None, local: Localize) -> Declaration | None:
    """The declaration softwareupdated said it enforces, when an export has no files;
    None when the line names no version."""
    if line is None:
        return None
    version = patterns.DDM_TARGET_VERSION.search(line.text)
    if version is None:
        return None
    date = patterns.DDM_ENFORCED_DATE.search(line.text)
    deadline = None
    if date is not None:
        try:
            deadline = _localized(datetime.fromisoformat(date["date"]), local)
        except ValueError:
            deadline = None
    return Declaration(version["version"], None, deadline)


def read_system_version(data: bytes | None) -> str | None:
    """The running macOS version, with a Rapid Security Response's letter ("13.3.1 (a)")."""
    return read_running(data)[0]


def read_running(data: bytes | None) -> tuple[str | None, str | None]:
    """The running version (with its supplemental letter) and build; (None, None)
    without the file."""
    if data is None:
        return None, None
    document = _plist(data, "SystemVersion.plist")
    version, extra = document.get("ProductVersion"), document.get("ProductVersionExtra")
    if not isinstance(version, str) or version_key(version) is None:
        raise UpdateUnreadable("SystemVersion.plist has no ProductVersion")
    build = document.get("ProductBuildVersion")
    full = f"{version} {extra}" if isinstance(extra, str) and extra else version
    return full, build if isinstance(build, str) else None


# at most six digits a part, five parts: anything longer is no version (and int() of
# thousands of digits raises). Compiled on first use (and kept by `re`): an export without
# a declared update never compares versions.
_VERSION = r"(?P<numbers>\d{1,6}(?:\.\d{1,6}){0,4})(?:\s*\((?P<letter>[a-z])\))?"


def version_key(text: str) -> tuple[tuple[int, ...], str] | None:
    """A version for comparing: numerically part by part (26.1 < 26.1.1 < 26.10), then
    a supplemental letter (13.3.1 < 13.3.1 (a) < 13.3.1 (b)); None if it is none."""
    match = re.fullmatch(_VERSION, text.strip())
    if match is None:
        return None
    numbers = tuple(int(n) for n in match["numbers"].split("."))
    while len(numbers) > 1 and numbers[-1] == 0:  # 26.1.0 is 26.1
        numbers = numbers[:-1]
    return numbers, match["letter"] or ""


@dataclass(frozen=True, slots=True)
class UpdateFacts:
    """What is known of the update besides the log."""

    declaration: Declaration | None = None
    running_version: str | None = None
    running_build: str | None = None  # ProductBuildVersion: tells a supplemental apart
    problem: str | None = None  # why a file could not be read: the state is unknown


@dataclass(frozen=True, slots=True)
class UpdateFinding:
    """The update's state, and what it was judged from."""

    channel: UpdateChannel
    state: UpdateState
    reason: str
    target_version: str | None = None
    target_build: str | None = None
    deadline: datetime | None = None
    running_version: str | None = None
    phase: str | None = None
    last_progress_at: datetime | None = None

    @property
    def stuck(self) -> bool:
        return self.state in STUCK_UPDATE_STATES

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def _working_state(phase: str) -> UpdateState:
    if phase.startswith(_DOWNLOADING):
        return UpdateState.DOWNLOADING
    if phase in _INSTALLING:
        return UpdateState.INSTALLING
    return UpdateState.PREPARING


def loops(progress: Sequence[Progress]) -> int:
    """ACCEPTED -> PREPARED_COMMITTING_STASH cycles since the last time the update got
    past them (PREPARING_UPDATE or APPLYING)."""
    count, accepted = 0, False
    for event in progress:
        if event.phase in LOOP_BREAKERS:
            count, accepted = 0, False
        elif event.phase == LOOP_START:
            accepted = True
        elif event.phase == LOOP_END and accepted:
            count, accepted = count + 1, False
    return count


@dataclass(frozen=True, slots=True)
class UpdateEvidence:
    """What the update's state is judged from, besides the instant and the rules."""

    facts: UpdateFacts
    progress: Sequence[Progress]  # softwareupdated's update progress, oldest first
    last_command: Command | None  # the newest MDM command of the device channel
    client_stuck: bool | None  # whether mdmclient is wedged
    power: Power = field(default_factory=Power)  # when the Mac slept and booted


def update_state(evidence: UpdateEvidence, at: datetime, settings: Settings) -> UpdateFinding:
    """The update's state at ``at``."""
    declared = evidence.facts.declaration
    scheduled = _scheduling(evidence.last_command, at, settings.history)
    channel = (
        UpdateChannel.DDM
        if declared is not None
        else UpdateChannel.MDM
        if scheduled
        else UpdateChannel.NONE
    )
    last = evidence.progress[-1] if evidence.progress else None
    state, reason = _judged(evidence, at, settings)
    return UpdateFinding(
        channel,
        state,
        reason,
        target_version=declared.target_version if declared else None,
        target_build=declared.target_build if declared else None,
        deadline=declared.deadline if declared else None,
        running_version=evidence.facts.running_version,
        phase=last.phase if last else None,
        last_progress_at=last.time if last else None,
    )


def _scheduling(command: Command | None, at: datetime, history: timedelta) -> bool:
    return (
        command is not None
        and command.request_type in SCHEDULING_COMMANDS
        and command.time >= at - history
    )


def _judged(evidence: UpdateEvidence, at: datetime, settings: Settings) -> tuple[UpdateState, str]:
    facts = evidence.facts
    if facts.problem is not None:
        return UpdateState.UNKNOWN, f"{facts.problem}: the update's state is unknown"
    progress = [p for p in evidence.progress if p.time <= at]
    last = progress[-1] if progress else None
    if last is not None and at - last.time < settings.update_stall:
        # Any progress this recent, whatever its phase or edge, is an update under way:
        # an `end` is followed within minutes by the next phase (PREPARED, COMPLETED,
        # then ACCEPTED, APPLYING in the real runs).
        return _working_state(last.phase), (
            f"softwareupdated reported progress {ago(at, last.time)} in {last.phase}"
            f"{_portion(last)}: an update is under way, and is never interrupted"
        )
    declared = facts.declaration
    if declared is not None and _reached(declared, facts):
        return UpdateState.DONE, (
            f"running {facts.running_version}, the declared {declared.target_version} or later"
        )
    stuck = _stuck_progress(evidence, progress, at, settings)
    if stuck is not None:
        return stuck
    if declared is not None:
        return _declared(declared, facts.running_version, at, settings.overdue_grace)
    return _undeclared(evidence, last, at, settings)


def _undeclared(
    evidence: UpdateEvidence, last: Progress | None, at: datetime, settings: Settings
) -> tuple[UpdateState, str]:
    """No declaration: the original's case (a wedged mdmclient after ScheduleOSUpdate,
    with no progress since), or nothing pending."""
    command = evidence.last_command
    if (
        command is not None
        and _scheduling(command, at, settings.history)
        and evidence.client_stuck
        and (last is None or last.time < command.time)
    ):
        return UpdateState.STALLED, (
            f"mdmclient is stuck, its last command was {command.request_type} "
            f"({ago(at, command.time)}), and softwareupdated shows no progress since"
        )
    if last is not None:
        return UpdateState.NONE, (
            f"nothing declared, and softwareupdated's last word was {last.phase} "
            f"({ago(at, last.time)}), after which nothing is expected of it"
        )
    return UpdateState.NONE, "no update declared, scheduled or under way"


def _stuck_progress(
    evidence: UpdateEvidence, progress: Sequence[Progress], at: datetime, settings: Settings
) -> tuple[UpdateState, str] | None:
    """Looping, or stalled, as softwareupdated's progress shows; None when it shows
    neither (no progress, finished, waiting, or a restart or sleep since)."""
    recent = [p for p in progress if p.time >= at - settings.history]
    cycles = loops(recent)
    if cycles >= LOOPS:
        return UpdateState.LOOPING, (
            f"softwareupdated went from {LOOP_START} to {LOOP_END} {cycles} times in the "
            f"last {_hours(settings.history)} without reaching PREPARING_UPDATE or "
            "APPLYING (super issues 95, 213)"
        )
    last = progress[-1] if progress else None
    if last is None or last.phase in WAITING_PHASES or last.edge == "end":
        return None
    power = evidence.power
    booted = power.boot is not None and power.boot > last.time
    awake = power.awake_between(last.time, at)
    if booted or awake < settings.update_stall:
        return None  # restarted since (into the update or not), or asleep most of it
    return UpdateState.STALLED, (
        f"softwareupdated's last progress was {ago(at, last.time)}, in {last.phase}"
        f"{_portion(last)}, and nothing since in {int(awake.total_seconds() // 60)} min "
        f"of awake time (UpdateStallMinutes {_minutes(settings.update_stall)})"
    )


def _reached(declared: Declaration, facts: UpdateFacts) -> bool:
    """Whether the running version is the declared target or later. A supplemental
    (Rapid Security Response) target names its letter in the build ("22E772610a" for
    13.3.1): on the same version, the builds must then agree."""
    running, target = version_key(facts.running_version or ""), version_key(declared.target_version)
    if running is None or target is None or running < target:
        return False
    build = declared.target_build
    supplemental = build is not None and build[-1:].islower() and build[-1:].isalpha()
    if running[0] == target[0] and supplemental and facts.running_build is not None:
        return facts.running_build == build or running[1] > ""
    return True


def _declared(
    declared: Declaration, running: str | None, at: datetime, grace: timedelta
) -> tuple[UpdateState, str]:
    target = declared.target_version
    if running is None:
        return UpdateState.UNKNOWN, f"{target} is declared, but the running version is unknown"
    deadline = declared.deadline
    if deadline is not None and at >= deadline + grace:
        return UpdateState.OVERDUE, (
            f"{target} was due {deadline.isoformat()} ({ago(at, deadline)}), the grace of "
            f"{_hours(grace)} has passed, and the Mac still runs {running}"
        )
    due = f" by {deadline.isoformat()}" if deadline else ""
    return UpdateState.PENDING, f"{target} is declared{due}; the Mac runs {running}"


def _portion(progress: Progress) -> str:
    return "" if progress.portion is None else f" ({progress.portion:.1%} done)"


def _minutes(value: timedelta) -> str:
    return f"{int(value.total_seconds() // 60)} min"


def _hours(value: timedelta) -> str:
    return f"{value.total_seconds() / 3600:g} h"
