"""Healing: first a plan (pure), then carrying it out (through the System seam).

The plan decides, for each daemon, whether to restart it and why not: not needed, not
allowed by configuration, an identity error a restart cannot fix, or the cooldown. The
carrying-out records each restart in the state *before* attempting it, so a crash can
never allow a second restart inside the cooldown; then kickstarts the daemon, falls back
to signalling its exact process where launchd refuses (macOS 14.4+), and confirms that a
fresh process is running.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from watchdog_mdm import patterns
from watchdog_mdm.config import Settings
from watchdog_mdm.keys import Verdict
from watchdog_mdm.state import Kickstarts
from watchdog_mdm.system import CommandError, ProcessInfo, System
from watchdog_mdm.text import one_line, printable
from watchdog_mdm.verdicts import Diagnosis

__all__ = [
    "MDM_CLIENT",
    "SOFTWARE_UPDATE",
    "Action",
    "CommandRun",
    "Daemon",
    "DaemonResult",
    "Decision",
    "Method",
    "cancel_if_under_way",
    "carry_out",
    "effective_kickstarts",
    "plan_heal",
]

LAUNCHCTL = "/bin/launchctl"
VERIFY_INTERVAL_SECONDS = 0.5
TERM_GRACE_SECONDS = 5.0  # after SIGTERM, before SIGKILL


@dataclass(frozen=True, slots=True)
class Daemon:
    """A system daemon mdm-watchdog may restart, and exactly how to find it."""

    name: str
    label: str
    # The only paths whose root-owned processes may be signalled; launchd's own answer
    # (`launchctl print`) is tried first, and must end in the daemon's name.
    executables: tuple[str, ...]
    kickstarts_field: str
    # The system accounts it runs as: only their processes are ever signalled (a user's
    # `mdmclient agent` runs the same executable as that user, and is never touched).
    accounts: tuple[int, ...] = (0,)

    @property
    def kickstart(self) -> tuple[str, ...]:
        return (LAUNCHCTL, "kickstart", "-k", f"system/{self.label}")

    @property
    def executable(self) -> str:
        return self.executables[0]


# Named as the log names their processes (what the plan and the output call them).
MDM_CLIENT = Daemon(
    patterns.MDM_PROCESS, "com.apple.mdmclient.daemon", patterns.MDM_PATHS, "mdm_client"
)
SOFTWARE_UPDATE = Daemon(
    patterns.SOFTWARE_UPDATE_PROCESS,
    "com.apple.softwareupdated",
    patterns.SOFTWARE_UPDATE_PATHS,
    "software_update",
    # root, or _softwareupdate (uid 200): `ps aux` on macOS 26.3 shows the latter
    tuple(sorted(patterns.DAEMON_ACCOUNTS[patterns.SOFTWARE_UPDATE_PROCESS])),
)
# `launchctl print system/<label>` describes the service, with "program = <path>"
# and "pid = <n>" lines (admins' scripts grep for exactly these).
PROGRAM_LINE = re.compile(r"^\s*program = (?P<path>/.+?)\s*$", re.MULTILINE)
# What the original runs before restarting softwareupdated: flush the resolver caches
# and stop the update "brain", which a wedged update often leaves behind.
SOFTWARE_UPDATE_PREPARATION: tuple[tuple[str, ...], ...] = (
    ("/usr/bin/dscacheutil", "-flushcache"),
    ("/usr/bin/killall", "-HUP", "mDNSResponder"),
    ("/usr/bin/pkill", "BrainService"),
)


class Decision(StrEnum):
    """What the plan decides for one daemon: restart it, or why not."""

    RESTART = "restart"
    NOT_NEEDED = "not needed"
    DISABLED = "disabled"
    IDENTITY_ERROR = "identity error"
    COOLDOWN = "cooldown"
    UPDATE_UNDER_WAY = "update under way"  # softwareupdated is downloading or installing


class Method(StrEnum):
    """How a daemon was restarted."""

    KICKSTART = "kickstart"  # launchctl kickstart -k
    SIGNAL = "signal"  # its own process signalled, for launchd to start a fresh one


@dataclass(frozen=True, slots=True)
class Action:
    """What the plan says about one daemon."""

    daemon: Daemon
    decision: Decision
    reason: str
    preparation: tuple[tuple[str, ...], ...] = ()

    @property
    def restarts(self) -> bool:
        return self.decision is Decision.RESTART

    @property
    def commands(self) -> tuple[tuple[str, ...], ...]:
        return (*self.preparation, self.daemon.kickstart) if self.restarts else ()


def effective_kickstarts(kickstarts: Kickstarts, now: datetime) -> Kickstarts:
    """Kickstart times with any in the future (the clock went back) pulled back to now.

    Stored, this turns a future time into one full cooldown from now: never a block
    that lasts until the clock catches up, never a second restart within a cooldown.
    """

    def clamp(value: datetime | None) -> datetime | None:
        return now if value is not None and value > now else value

    return Kickstarts(clamp(kickstarts.mdm_client), clamp(kickstarts.software_update))


def _cooldown_reason(
    daemon: Daemon,
    last: datetime | None,
    stored: datetime | None,
    now: datetime,
    cooldown: timedelta,
) -> str | None:
    if last is None or now - last >= cooldown:
        return None
    if stored is not None and stored > now:
        return (
            f"{daemon.name} was last restarted at {stored.isoformat()}, after now (the "
            f"clock went back?); counting that as now: next restart possible after "
            f"{(now + cooldown).isoformat()}"
        )
    return (
        f"{daemon.name} was restarted at {last.isoformat()}; next restart possible "
        f"after {(last + cooldown).isoformat()}"
    )


def plan_heal(
    d: Diagnosis, stored: Kickstarts, settings: Settings, now: datetime
) -> tuple[Action, ...]:
    """One action per daemon: restart it, or why not."""
    kickstarts = effective_kickstarts(stored, now)
    wanted = (
        (
            MDM_CLIENT,
            d.client_stuck,
            settings.heal_mdm_client,
            "HealMDMClient",
            Verdict.CLIENT_STUCK,
            (),
        ),
        (
            SOFTWARE_UPDATE,
            d.updates_stuck,
            settings.heal_software_update,
            "HealSoftwareUpdate",
            Verdict.UPDATES_STUCK,
            SOFTWARE_UPDATE_PREPARATION,
        ),
    )
    actions = []
    for daemon, needed, allowed, switch, verdict, preparation in wanted:
        last = getattr(kickstarts, daemon.kickstarts_field)
        stored_last = getattr(stored, daemon.kickstarts_field)
        cooling = _cooldown_reason(daemon, last, stored_last, now, settings.cooldown)
        if needed is None:
            action = Action(
                daemon, Decision.NOT_NEEDED, f"{verdict} is unknown: nothing is restarted"
            )
        elif not needed:
            action = Action(daemon, Decision.NOT_NEEDED, f"{verdict} is false")
        elif daemon is SOFTWARE_UPDATE and d.software_update.active:
            action = Action(
                daemon,
                Decision.UPDATE_UNDER_WAY,
                f"an update is under way ({d.software_update.reason}); it is never interrupted",
            )
        elif d.identity_error:
            action = Action(
                daemon,
                Decision.IDENTITY_ERROR,
                "mdmclient cannot create its MDM identity; a restart cannot fix "
                "that: re-enroll the Mac",
            )
        elif not allowed:
            action = Action(daemon, Decision.DISABLED, f"{switch} is false in the configuration")
        elif cooling is not None:
            action = Action(daemon, Decision.COOLDOWN, cooling)
        else:
            action = Action(
                daemon, Decision.RESTART, f"{verdict}: {d.reasons[verdict]}", preparation
            )
        actions.append(action)
    return tuple(actions)


def cancel_if_under_way(actions: tuple[Action, ...], again: Diagnosis) -> tuple[Action, ...]:
    """The plan, with the software-update restart cancelled when ``again`` (a diagnosis
    made just before acting) shows an install under way that started since."""
    update = again.software_update
    if not update.active:
        return actions
    return tuple(
        Action(
            a.daemon,
            Decision.UPDATE_UNDER_WAY,
            f"restart cancelled: an update started since the diagnosis ({update.reason})",
        )
        if a.daemon is SOFTWARE_UPDATE and a.restarts
        else a
        for a in actions
    )


@dataclass(frozen=True, slots=True)
class CommandRun:
    argv: tuple[str, ...]
    returncode: int | None  # None: it could not be run
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DaemonResult:
    """What happened to one daemon."""

    action: Action
    commands: tuple[CommandRun, ...] = ()
    method: Method | None = None
    restarted: bool = False
    verified: bool | None = None  # None: not restarted, nothing to confirm
    new_pid: int | None = None
    problem: str | None = None


def _run(system: System, argv: tuple[str, ...], timeout: float) -> CommandRun:
    try:
        result = system.run(argv, timeout=timeout)
    except CommandError as exc:
        return CommandRun(argv, None, str(exc))
    return CommandRun(
        argv, result.returncode, one_line(result.stderr.decode("utf-8", "replace"), 300)
    )


def daemon_processes(
    system: System, paths: tuple[str, ...], accounts: tuple[int, ...]
) -> list[ProcessInfo]:
    """The daemon's processes: one of its exact executables, run by one of its system
    accounts. A same-named program elsewhere has another path; a user's process of the
    same executable has the user's uid."""
    return [
        p
        for path in paths
        for p in system.processes(path)
        if p.uid in accounts and p.euid in accounts
    ]


def program_paths(
    system: System, daemon: Daemon, timeout: float
) -> tuple[tuple[str, ...], CommandRun]:
    """Where launchd says the daemon's program is, before the known paths."""
    argv = (LAUNCHCTL, "print", f"system/{daemon.label}")
    try:
        result = system.run(argv, timeout=timeout)
    except CommandError as exc:
        return daemon.executables, CommandRun(argv, None, str(exc))
    match = PROGRAM_LINE.search(result.stdout.decode("utf-8", "replace"))
    reported = match["path"] if match and result.returncode == 0 else None
    run = CommandRun(argv, result.returncode, printable(reported or ""))
    if reported is None or not reported.endswith("/" + daemon.name):
        return daemon.executables, run
    return (reported, *(p for p in daemon.executables if p != reported)), run


def _attempts(seconds: float) -> int:
    """Polls every VERIFY_INTERVAL_SECONDS that span ``seconds``: one more than intervals."""
    return int(seconds / VERIFY_INTERVAL_SECONDS) + 1


def _poll(system: System, attempts: int, check: Callable[[], bool]) -> bool:
    """Ask ``check`` until it says yes, a bounded number of times, sleeping through
    the seam (so tests wait for nothing)."""
    # tenacity is imported here: only a restart needs it, and start-up stays fast
    from tenacity import (  # noqa: PLC0415
        Retrying,
        retry_if_result,
        stop_after_attempt,
        wait_fixed,
    )

    retrying = Retrying(
        stop=stop_after_attempt(max(attempts, 1)),
        wait=wait_fixed(VERIFY_INTERVAL_SECONDS),
        retry=retry_if_result(lambda ok: ok is False),
        sleep=system.sleep,
        retry_error_callback=lambda _state: False,
    )
    return bool(retrying(check))


def _signal_daemon(
    system: System, paths: tuple[str, ...], accounts: tuple[int, ...], targets: list[ProcessInfo]
) -> tuple[bool, str | None]:
    """SIGTERM the daemon's own processes so launchd starts a fresh one; SIGKILL the
    ones a wedge keeps from exiting."""
    if not targets:
        return False, f"no {' or '.join(paths)} process of its own account to signal"
    delivered, problems = False, []
    for process in targets:
        try:
            system.send_signal(process, signal.SIGTERM)
            delivered = True
        except OSError as exc:
            problems.append(f"SIGTERM to {process.pid}: {exc.strerror or exc}")
    signalled = {(p.pid, p.create_time) for p in targets}

    def gone() -> bool:
        return not any(
            (p.pid, p.create_time) in signalled for p in daemon_processes(system, paths, accounts)
        )

    if delivered and not _poll(system, _attempts(TERM_GRACE_SECONDS), gone):
        for process in daemon_processes(system, paths, accounts):
            if (process.pid, process.create_time) in signalled:
                try:
                    system.send_signal(process, signal.SIGKILL)
                except OSError as exc:
                    problems.append(f"SIGKILL to {process.pid}: {exc.strerror or exc}")
    return delivered, "; ".join(problems) or None


def restart(system: System, action: Action, settings: Settings) -> DaemonResult:
    """Carry out one planned restart (its time already saved)."""
    daemon = action.daemon
    accounts = daemon.accounts
    timeout = settings.command_timeout_seconds
    runs = [_run(system, argv, timeout) for argv in action.preparation]
    paths = daemon.executables
    before = daemon_processes(system, paths, accounts)
    kickstart = _run(system, daemon.kickstart, timeout)
    runs.append(kickstart)
    if kickstart.returncode == 0:
        method, restarted, problem = Method.KICKSTART, True, None
    else:
        # macOS 14.4+: launchd refuses `kickstart -k` for critical daemons; Apple's
        # advice is to kill the process instead, and launchd starts it again.
        method = Method.SIGNAL
        paths, asked = program_paths(system, daemon, timeout)
        runs.append(asked)
        before = daemon_processes(system, paths, accounts)
        restarted, problem = _signal_daemon(system, paths, accounts, before)
    result = DaemonResult(action, tuple(runs), method, restarted, problem=problem)
    if not restarted:
        return result
    old = {p.pid for p in before}
    fresh: list[ProcessInfo] = []

    def running_again() -> bool:
        fresh[:] = [p for p in daemon_processes(system, paths, accounts) if p.pid not in old]
        return bool(fresh)

    verified = _poll(system, _attempts(settings.verify_seconds), running_again)
    return replace(result, verified=verified, new_pid=fresh[0].pid if fresh else None)


def carry_out(
    system: System,
    actions: tuple[Action, ...],
    settings: Settings,
    record: Callable[[Daemon], None],
) -> tuple[tuple[DaemonResult, ...], str | None]:
    """Restart what the plan says. ``record(daemon)`` must durably save the restart
    time first; when it raises, that restart and all after it are not attempted.

    Returns the results and, when saving failed, why.
    """
    results: list[DaemonResult] = []
    for action in actions:
        if not action.restarts:
            results.append(DaemonResult(action))
            continue
        try:
            record(action.daemon)
        except Exception as exc:
            problem = f"{exc}; {action.daemon.name} was not restarted"
            results.append(DaemonResult(action, problem=problem))
            results.extend(
                DaemonResult(a, problem="not attempted: the state could not be saved")
                for a in actions[len(results) :]
            )
            return tuple(results), problem
        results.append(restart(system, action, settings))
    return tuple(results), None
