"""One `-heal` run from start to finish: lock, state, diagnosis, plan, restarts, record.

Only one run at a time (a lock beside the state); the state is read once, every restart
time is saved before its restart is attempted, and the run ends by saving its full
result (a :class:`HealRun`) for inventory scripts. `-diagnose` never comes here: it
changes nothing.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from watchdog_mdm import report
from watchdog_mdm.client_state import ClientState, Memory
from watchdog_mdm.config import Configuration, Settings
from watchdog_mdm.diagnose import EvidenceError, Examination, diagnose_live
from watchdog_mdm.heal import (
    MDM_CLIENT,
    SOFTWARE_UPDATE,
    Daemon,
    DaemonResult,
    cancel_if_under_way,
    carry_out,
    effective_kickstarts,
    plan_heal,
)
from watchdog_mdm.keys import RunKey
from watchdog_mdm.state import (
    LOCK_PATH,
    Kickstarts,
    State,
    StateError,
    load_state,
    parse_rfc3339,
    save_state,
)
from watchdog_mdm.system import System

__all__ = ["SCHEDULE", "HealRun", "heal_run", "missed_runs"]

# The LaunchDaemon's StartInterval (launchd/com.github.mdm-watchdog.plist): 95 minutes.
SCHEDULE = timedelta(seconds=5700)
# last_run.mode in state.json: only -heal runs are recorded
HEAL_MODE = "heal"


@dataclass(frozen=True, slots=True)
class HealRun:
    """One `-heal` run's result: its examination, and what healing did or would do."""

    examination: Examination
    kickstarts: Kickstarts  # after this run: its restarts included
    healing: tuple[DaemonResult, ...]  # one per daemon, in the plan's order
    dry_run: bool = False
    state_problem: str | None = None  # why the state could not be saved
    previous_run: datetime | None = None  # when the run before this one started
    missed_runs: int = 0  # scheduled runs that did not happen since (the Mac slept)

    def _restarted(self, daemon: Daemon) -> bool:
        return any(r.restarted for r in self.healing if r.action.daemon == daemon)

    @property
    def mdm_client_restarted(self) -> bool:
        return self._restarted(MDM_CLIENT)

    @property
    def software_update_restarted(self) -> bool:
        return self._restarted(SOFTWARE_UPDATE)


def missed_runs(previous: datetime | None, now: datetime) -> int:
    """Scheduled runs that did not happen between two runs.

    launchd skips a StartInterval firing while the Mac sleeps or is off; a gap of more
    than one and a half intervals means at least one run was missed.
    """
    if previous is None or now - previous < SCHEDULE * 1.5:
        return 0
    return int((now - previous) / SCHEDULE) - 1 or 1


def _last_run(
    started: datetime, finished: datetime, *, run: HealRun | None = None, error: str | None = None
) -> dict[str, object]:
    return {
        RunKey.STARTED_AT: started.isoformat(timespec="microseconds"),
        RunKey.FINISHED_AT: finished.isoformat(timespec="microseconds"),
        RunKey.DURATION_SECONDS: round((finished - started).total_seconds(), 3),
        RunKey.MODE: HEAL_MODE,
        RunKey.MISSED_RUNS: 0 if run is None else run.missed_runs,
        RunKey.ERROR: error if run is None else run.examination.evidence_problem,
        RunKey.RESULT: None if run is None else report.heal_document(run),
    }


def heal_run(system: System, configuration: Configuration) -> tuple[HealRun, list[str]]:
    """Diagnose and heal this Mac. Returns the run's result and warnings for the admin.

    Raises LockBusy when another run holds the lock, StateError when the state folder
    cannot even hold the lock, and EvidenceError when the evidence cannot be gathered;
    nothing is restarted in any of these cases.
    """
    if configuration.settings.dry_run:
        # A dry run writes nothing, not even the lock file or the state folder.
        return _locked_run(system, configuration.settings)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(
                system.exclusive_lock(LOCK_PATH, configuration.settings.lock_wait_seconds)
            )
        except OSError as exc:
            raise StateError(f"could not lock {LOCK_PATH}: {exc.strerror or exc}") from exc
        return _locked_run(system, configuration.settings)


def _locked_run(system: System, settings: Settings) -> tuple[HealRun, list[str]]:
    started = system.now()
    state, warnings = load_state(system, started, repair=not settings.dry_run)
    try:
        examination = diagnose_live(system, settings, state.memory)
        actions = plan_heal(examination.diagnosis, state.kickstarts, settings, started)
        if any(a.restarts for a in actions) and settings.restart_splay and not settings.dry_run:
            # Spread a fleet's restarts; then judge again: the delay may be long.
            system.sleep(_splay_seconds(settings.restart_splay))
            examination = diagnose_live(system, settings, state.memory)
            actions = plan_heal(examination.diagnosis, state.kickstarts, settings, system.now())
        if (
            any(a.restarts and a.daemon is SOFTWARE_UPDATE for a in actions)
            and not settings.dry_run
        ):
            # An install may have started since the diagnosis: read again just before
            # acting, and never interrupt one.
            again = diagnose_live(system, settings, state.memory)
            actions = cancel_if_under_way(actions, again.diagnosis)
    except EvidenceError as exc:
        if not settings.dry_run:
            _save_quietly(
                system,
                replace(state, last_run=_last_run(started, system.now(), error=str(exc))),
                warnings,
            )
        raise
    previous = _previous_start(state)
    state = replace(state, memory=examination.memory)
    run = HealRun(
        examination,
        state.kickstarts,
        tuple(DaemonResult(a) for a in actions),
        dry_run=settings.dry_run,
        previous_run=previous,
        missed_runs=missed_runs(previous, started),
    )
    if settings.dry_run:
        return run, warnings
    kickstarts = effective_kickstarts(state.kickstarts, started)
    # The times on disk: what the run reports when it could not save its own.
    on_disk = state.kickstarts

    def record(daemon: Daemon) -> None:
        nonlocal kickstarts, on_disk
        attempt = replace(kickstarts, **{daemon.kickstarts_field: system.now()})
        save_state(system, state.with_kickstarts(attempt))  # raises: not restarted
        kickstarts = on_disk = attempt

    results, problem = carry_out(system, actions, settings, record)
    run = replace(run, kickstarts=kickstarts, healing=results, state_problem=problem)
    state = replace(state, memory=_after_restart(examination, run))
    final = replace(
        state.with_kickstarts(kickstarts), last_run=_last_run(started, system.now(), run=run)
    )
    try:
        save_state(system, final)
    except StateError as exc:
        run = replace(run, kickstarts=on_disk, state_problem=run.state_problem or str(exc))
    return run, warnings


def _after_restart(examination: Examination, run: HealRun) -> Memory:
    """The memory to keep: a restart for a quiet spell is remembered, so that spell
    never costs mdmclient another (if it did not end it, the cause is elsewhere)."""
    memory = examination.memory
    quiet = examination.diagnosis.client.state is ClientState.QUIET_TOO_LONG
    if run.mdm_client_restarted and quiet and memory.quiet is not None:
        return replace(memory, quiet_restart_for=memory.quiet.since)
    return memory


def _splay_seconds(splay: timedelta) -> float:
    """A random delay up to ``splay``: different on every Mac, so a fleet spreads out."""
    return random.SystemRandom().uniform(0, splay.total_seconds())


def _previous_start(state: State) -> datetime | None:
    try:
        return parse_rfc3339((state.last_run or {}).get(RunKey.STARTED_AT))
    except ValueError:
        return None


def _save_quietly(system: System, state: State, warnings: list[str]) -> None:
    try:
        save_state(system, state)
    except StateError as exc:
        warnings.append(str(exc))
