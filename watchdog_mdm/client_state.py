"""The MDM client's state: healthy, idle, or wedged, and the evidence that says which.

MDM is push-then-poll: a healthy Mac makes no request until its server pushes, so
"quiet" proves nothing (docs/detection.md). mdmclient counts as stuck only on positive
evidence of a wedge: a push it never answered, a request that never got a response, or
no exchange at all for days of awake, online time. Where the evidence points at
something a restart cannot fix (the server failing, the server refusing the Mac, no
network, a Mac that just woke) the state says so, and nothing is restarted.
:func:`client_state` is pure: observations, circumstances and an instant in, a
:class:`ClientFinding` out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from watchdog_mdm.awake import Power, PowerSource, QuietLedger
from watchdog_mdm.config import Settings, StuckRule
from watchdog_mdm.evidence import (
    Observations,
    Outcome,
    OutcomeKind,
    Progress,
    Sighting,
    ago,
    window_text,
)
from watchdog_mdm.software_update import UpdateFacts

__all__ = [
    "STUCK_STATES",
    "Circumstances",
    "ClientFinding",
    "ClientState",
    "Memory",
    "Network",
    "client_state",
    "newest_success",
]


class ClientState(StrEnum):
    """What mdmclient is doing, as the evidence shows it."""

    HEALTHY = "healthy"  # a device-channel exchange within the window
    IDLE = "idle"  # quiet, and nothing asked of it
    JUST_WOKE = "just-woke"  # awake for less than the window: cannot judge yet
    OFFLINE = "offline"  # no network, or no route to the server
    SERVER_ERROR = "server-error"  # the server answered with an error, or was unreachable
    REJECTED = "rejected"  # 401/403: the server refuses this Mac; re-enroll it
    PUSH_UNANSWERED = "push-unanswered"  # asked to connect, and did not
    REQUEST_HUNG = "request-hung"  # sent a request, and no response ever came
    QUIET_TOO_LONG = "quiet-too-long"  # no exchange for QuietHours of awake, online time
    NOT_ENROLLED = "not-enrolled"  # no MDM server to talk to
    UNKNOWN = "unknown"  # the evidence could not be read


STUCK_STATES = frozenset(
    {ClientState.PUSH_UNANSWERED, ClientState.REQUEST_HUNG, ClientState.QUIET_TOO_LONG}
)


@dataclass(frozen=True, slots=True)
class Network:
    """Whether the Mac could reach a network when judged: True, False, or None when
    the probe could not tell (a missing or failing probe is never "offline")."""

    online: bool | None = None
    detail: str = "not probed"


@dataclass(frozen=True, slots=True)
class Memory:
    """What `-heal` runs remember of mdmclient across runs (state.json)."""

    last_success: Sighting | None = None  # newest device-channel HTTP 200 ever seen
    quiet: QuietLedger | None = None
    # the quiet spell (its ledger's start) in which mdmclient was restarted for being
    # quiet too long: once a spell, for a restart that did not help will not the next day
    quiet_restart_for: datetime | None = None
    # softwareupdated's newest update progress ever seen: a download that stalled
    # hours ago is no longer in the window's log, and must still be seen as stalled
    last_update_progress: Progress | None = None


def newest_success(*sightings: Sighting | None) -> Sighting | None:
    """The newest of several sightings: never replaced by "none" from a later window."""
    return max((s for s in sightings if s is not None), key=lambda s: s.time, default=None)


@dataclass(frozen=True, slots=True)
class Circumstances:
    """What else the verdict needs besides the log: sleep, network, memory of past runs."""

    power: Power = field(default_factory=Power)
    network: Network = field(default_factory=Network)
    # the newest device-channel exchange ever seen, as remembered across runs
    remembered_success: Sighting | None = None
    # awake, online time since mdmclient's last sign of life, counted across runs;
    # None: count it from the log and power alone
    quiet: timedelta | None = None
    # when this quiet spell already cost mdmclient a restart (which did not end it)
    quiet_restarted: bool = False
    evidence_problem: str | None = None  # why the log could not be read, if it could not
    update: UpdateFacts = field(default_factory=UpdateFacts)  # the declared update, the OS
    remembered_progress: Progress | None = None  # the newest update progress, remembered


@dataclass(frozen=True, slots=True)
class ClientFinding:
    """The client's state, whether that means stuck (None: cannot tell), and why."""

    state: ClientState
    stuck: bool | None
    reason: str
    proof: tuple[Sighting | Outcome, ...] = ()


def _finding(state: ClientState, reason: str, *proof: Sighting | Outcome | None) -> ClientFinding:
    stuck = None if state is ClientState.UNKNOWN else state in STUCK_STATES
    return ClientFinding(state, stuck, reason, tuple(p for p in proof if p is not None))


def client_state(
    obs: Observations,
    at: datetime,
    settings: Settings,
    enrolled: bool | None,
    circumstances: Circumstances,
) -> ClientFinding:
    """The state of mdmclient at ``at``, by the configured rule."""
    if circumstances.evidence_problem is not None:
        return _finding(ClientState.UNKNOWN, circumstances.evidence_problem)
    if enrolled is False:
        return _finding(
            ClientState.NOT_ENROLLED, "not enrolled, so there is no MDM server to talk to"
        )
    if enrolled is None and settings.stuck_rule is StuckRule.QUIET:
        return ClientFinding(  # the original's answer: not stuck
            ClientState.UNKNOWN, False, "enrollment is unknown, so stuck cannot be judged"
        )
    if enrolled is None:
        return _finding(
            ClientState.UNKNOWN,
            "enrollment is unknown (no device-channel MDM traffic in this log), "
            "so stuck cannot be judged",
        )
    if settings.stuck_rule is StuckRule.QUIET:
        return _quiet_rule(obs, at, settings, circumstances)
    return _evidence_rule(obs, at, settings, circumstances)


def _newest_success(obs: Observations, circumstances: Circumstances) -> Sighting | None:
    return newest_success(obs.last_device_success, circumstances.remembered_success)


def _quiet_rule(
    obs: Observations, at: datetime, settings: Settings, circumstances: Circumstances
) -> ClientFinding:
    """The original's rule: no device-channel HTTP 200 within the window is stuck."""
    window = window_text(settings.window)
    success = obs.last_device_success
    if success is not None and success.time >= at - settings.window:
        return _finding(
            ClientState.HEALTHY,
            f"the device channel exchanged with the MDM server {ago(at, success.time)} "
            f"(within {window}): {success.message}",
            success,
        )
    return _finding(ClientState.QUIET_TOO_LONG, _quiet_reason(obs, at, window, success), success)


def _quiet_reason(obs: Observations, at: datetime, window: str, success: Sighting | None) -> str:
    text = f"no device-channel HTTP 200 from the MDM server in the last {window}"
    text += f"; the last was {ago(at, success.time)}" if success else "; none in the log read"
    failure = obs.last_device_failure
    if failure is not None and failure.time >= at - timedelta(days=365):
        text += f"; last failed response {ago(at, failure.time)}: {failure.message}"
    user = obs.last_user_success
    if user is not None and (success is None or user.time > success.time):
        text += f"; a user channel succeeded {ago(at, user.time)}, which does not count"
    return text


def _evidence_rule(
    obs: Observations, at: datetime, settings: Settings, circumstances: Circumstances
) -> ClientFinding:
    for judged in (_refused, _pending, _healthy, _circumstantial, _quiet):
        finding = judged(obs, at, settings, circumstances)
        if finding is not None:
            return finding
    raise AssertionError("_quiet always finds")  # pragma: no cover


def _refused(
    obs: Observations, at: datetime, settings: Settings, circumstances: Circumstances
) -> ClientFinding | None:
    """The newest outcome was an error a restart cannot fix: the server refused the Mac
    (always, until it is enrolled again), or failed, or the Mac had no network (until
    QuietHours of awake, online time have passed without another try)."""
    outcome = obs.last_device_outcome
    if outcome is None or outcome.kind is OutcomeKind.SUCCESS:
        return None
    when = ago(at, outcome.time)
    if outcome.kind is OutcomeKind.REJECTED:
        return _finding(
            ClientState.REJECTED,
            f"the MDM server refused this Mac (HTTP {outcome.code}) {when}: a restart cannot "
            f"fix that; re-enroll the Mac: {outcome.message}",
            outcome,
        )
    if _quiet_time(obs, at, circumstances) >= settings.quiet_after:
        return None  # too long ago to explain the silence since
    asked = [
        s.time for s in (obs.last_push, obs.last_connect, obs.last_device_request) if s is not None
    ]
    if any(time > outcome.time for time in asked):
        return None  # asked again since: whether that was answered is _pending's to judge
    if outcome.kind is OutcomeKind.OFFLINE:
        return _finding(
            ClientState.OFFLINE,
            f"mdmclient's last try to reach the MDM server failed for want of a network "
            f"{when}: {outcome.message}",
            outcome,
        )
    what = f"answered HTTP {outcome.code}" if outcome.code else "could not be reached"
    return _finding(
        ClientState.SERVER_ERROR,
        f"the MDM server {what} {when}, mdmclient's last exchange: the fault is the "
        f"server's or the network's, and a restart cannot fix it: {outcome.message}",
        outcome,
    )


def _pending(
    obs: Observations, at: datetime, settings: Settings, circumstances: Circumstances
) -> ClientFinding | None:
    """mdmclient was asked to connect, or sent a request, and nothing came of it: stuck
    when it has been awake past the grace since, has a network, and did not just wake."""
    candidates = [
        (ClientState.PUSH_UNANSWERED, push, settings.push_grace) for push in _unanswered_pushes(obs)
    ]
    request = obs.last_device_request
    outcome_time = obs.last_device_outcome.time if obs.last_device_outcome else None
    if request is not None and (outcome_time is None or request.time > outcome_time):
        candidates.append((ClientState.REQUEST_HUNG, request, settings.request_timeout))
    power = circumstances.power
    for state, sighting, grace in candidates:
        awake = power.awake_between(sighting.time, at)
        # A sleep since cuts any connection: what it left unanswered is not a wedge.
        if awake < grace or power.slept_between(sighting.time, at):
            continue
        blocked = _circumstantial(obs, at, settings, circumstances)
        if blocked is not None:
            return blocked
        return _finding(state, _pending_reason(state, sighting, at, awake, power), sighting)
    return None


def _unanswered_pushes(obs: Observations) -> list[Sighting]:
    """Pushes nothing has come of yet: apsd's for an MDM topic with no exchange on any
    channel since (the user's mdmclient answers a user-channel push), and mdmclient's
    own connect with no device-channel request or outcome since. None while mdmclient
    is still carrying out a command it was given: it polls again when it is done."""
    if _busy(obs):
        return []
    life = obs.last_device_life
    answered = [t for t in (life, _time(obs.last_exchange_any_channel)) if t is not None]
    pending = []
    if obs.last_push is not None and not any(t > obs.last_push.time for t in answered):
        pending.append(obs.last_push)
    if obs.last_connect is not None and (life is None or obs.last_connect.time > life):
        pending.append(obs.last_connect)
    return pending


def _busy(obs: Observations) -> bool:
    """Whether mdmclient is carrying out a command: it processed a server request after
    its last request (an install may take long; it reports when it is done)."""
    command, request = obs.last_command, obs.last_device_request
    return (
        command is not None
        and command.status is None
        and (request is None or command.time > request.time)
    )


def _time(sighting: Sighting | None) -> datetime | None:
    return None if sighting is None else sighting.time


def _pending_reason(
    state: ClientState, sighting: Sighting, at: datetime, awake: timedelta, power: Power
) -> str:
    minutes = int(awake.total_seconds() // 60)
    awake_text = (
        f"{minutes} min of them awake"
        if power.accounts_for_sleep
        else f"{minutes} min (sleep could not be accounted for)"
    )
    if state is ClientState.PUSH_UNANSWERED:
        return (
            f"mdmclient was asked to connect {ago(at, sighting.time)} ({awake_text}) and "
            f"sent no device-channel request since: {sighting.message}"
        )
    return (
        f"mdmclient sent a device-channel request {ago(at, sighting.time)} ({awake_text}) "
        f"and no response of any status came: {sighting.message}"
    )


def _healthy(
    obs: Observations, at: datetime, settings: Settings, circumstances: Circumstances
) -> ClientFinding | None:
    success = obs.last_device_success
    if success is None or success.time < at - settings.window:
        return None
    return _finding(
        ClientState.HEALTHY,
        f"the device channel exchanged with the MDM server {ago(at, success.time)} "
        f"(within {window_text(settings.window)}): {success.message}",
        success,
    )


def _circumstantial(
    obs: Observations, at: datetime, settings: Settings, circumstances: Circumstances
) -> ClientFinding | None:
    """No network, or too little awake time to judge: nothing a restart would fix."""
    network = circumstances.network
    if network.online is False:
        return _finding(
            ClientState.OFFLINE,
            f"this Mac has no network ({network.detail}), so mdmclient cannot be judged",
        )
    awake = circumstances.power.awake_since_start(at)
    if awake is not None and awake < settings.window:
        start = circumstances.power.awake_start(at)
        return _finding(
            ClientState.JUST_WOKE,
            f"the Mac woke or booted {ago(at, start) if start else 'recently'}, less than "
            f"{window_text(settings.window)} of awake time ago: too soon to judge",
        )
    return None


def _quiet_time(obs: Observations, at: datetime, circumstances: Circumstances) -> timedelta:
    """Awake, online time since mdmclient's last sign of life (or its last success as
    remembered), counted across runs when they counted it; zero when there was none."""
    if circumstances.quiet is not None:
        return circumstances.quiet
    life = obs.last_device_life
    remembered = circumstances.remembered_success
    if remembered is not None and (life is None or remembered.time > life):
        life = remembered.time
    if life is None:
        return timedelta(0)
    return circumstances.power.awake_between(life, at)


def _quiet(
    obs: Observations, at: datetime, settings: Settings, circumstances: Circumstances
) -> ClientFinding:
    quiet = _quiet_time(obs, at, circumstances)
    hours = quiet.total_seconds() / 3600
    success = _newest_success(obs, circumstances)
    last = f"; the last device-channel HTTP 200 was {ago(at, success.time)}" if success else ""
    if quiet >= settings.quiet_after and circumstances.quiet_restarted:
        return _finding(
            ClientState.IDLE,
            f"no device-channel exchange for {hours:.1f} h of awake, online time, but "
            "mdmclient was already restarted once in this quiet spell and it did not end "
            "it: the server is not pushing (or APNs is blocked), which another restart "
            f"cannot fix{last}",
            success,
        )
    counted = (
        "awake, online time counted across runs"
        if circumstances.quiet is not None
        else _awake_words(circumstances.power)
    )
    if quiet >= settings.quiet_after:
        return _finding(
            ClientState.QUIET_TOO_LONG,
            f"no device-channel exchange for {hours:.1f} h of {counted} "
            f"(QuietHours {settings.quiet_after.total_seconds() / 3600:g}){last}",
            success,
        )
    hidden = obs.last_redacted_push
    pushes = (
        f"; a push with a hidden (<private>) topic came {ago(at, hidden.time)}, and could "
        "not be told apart from other apps' pushes"
        if hidden is not None
        else ""
    )
    return _finding(
        ClientState.IDLE,
        f"quiet, and nothing asked of it: no unanswered push or hung request, and "
        f"{hours:.1f} h of quiet {counted} is under QuietHours "
        f"({settings.quiet_after.total_seconds() / 3600:g}){last}{pushes}",
        success,
    )


def _awake_words(power: Power) -> str:
    if power.source is PowerSource.NONE:
        return "time (sleep could not be accounted for: no power events in the log)"
    if power.source is PowerSource.LOG:
        return "awake time (sleeps in the log taken out)"
    return "awake time since the last wake"
