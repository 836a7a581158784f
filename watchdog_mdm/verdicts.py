"""The four verdicts: from observations, circumstances and an instant, with reasons.

:func:`judge` is the one place the original's four keys are decided: enrollment as
read, an identity error that no later success has cleared, the client's state
(client_state.py) and whether an OS update is left undone because of it. Pure: no
clock, no files, no processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from watchdog_mdm.client_state import Circumstances, ClientFinding, client_state
from watchdog_mdm.config import Settings, StuckRule
from watchdog_mdm.evidence import (
    Enrollment,
    EnrollmentSource,
    Observations,
    Progress,
    ago,
    is_software_update_command,
    window_text,
)
from watchdog_mdm.keys import Verdict
from watchdog_mdm.software_update import UpdateEvidence, UpdateFinding, UpdateState, update_state

__all__ = ["Diagnosis", "judge", "with_remembered"]


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The four verdicts, as of ``judged_at``, with the evidence behind them.

    A verdict is None when the evidence could not tell (printed ``unknown``).
    """

    enrolled: bool | None
    identity_error: bool | None
    client_stuck: bool | None
    updates_stuck: bool | None
    judged_at: datetime
    settings: Settings
    enrollment: Enrollment
    observations: Observations
    client: ClientFinding
    software_update: UpdateFinding
    circumstances: Circumstances = field(default_factory=Circumstances)
    reasons: Mapping[Verdict, str] = field(default_factory=dict)

    @property
    def window(self) -> timedelta:
        return self.settings.window

    @property
    def history(self) -> timedelta:
        return self.settings.history


def judge(
    obs: Observations,
    at: datetime,
    settings: Settings,
    enrollment: Enrollment,
    circumstances: Circumstances | None = None,
) -> Diagnosis:
    """Reach the four verdicts as of ``at``.

    - MDMIdentityError: an identity failure logged within the window before ``at``
      and no successful device-channel exchange after it.
    - MDMClientStuck: the client's state is one of the wedged ones (client_state.py).
    - MDMSoftwareUpdatesStuck: the update is stalled, looping or overdue
      (software_update.py); by StuckRule quiet, the original's rule: stuck, and the
      newest device command within the history belongs to a software update.
    """
    circumstances = circumstances or Circumstances()
    readable = circumstances.evidence_problem is None
    client = client_state(obs, at, settings, enrollment.enrolled, circumstances)
    identity_error, identity_reason = _identity_verdict(obs, at, settings.window, readable)
    update = update_state(
        UpdateEvidence(
            circumstances.update,
            with_remembered(obs.update_progress, circumstances.remembered_progress),
            obs.last_command,
            client.stuck,
            circumstances.power,
        ),
        at,
        settings,
    )
    if settings.stuck_rule is StuckRule.QUIET:  # the original's rule, all of it
        updates_stuck, updates_reason = _updates_verdict(obs, at, settings.history, client)
    else:
        updates_stuck, updates_reason = _update_verdict(update, client, readable)
    reasons = {
        Verdict.ENROLLED: _enrollment_reason(enrollment, obs, at),
        Verdict.IDENTITY_ERROR: identity_reason,
        Verdict.CLIENT_STUCK: client.reason,
        Verdict.UPDATES_STUCK: updates_reason,
    }
    return Diagnosis(
        enrolled=enrollment.enrolled,
        identity_error=identity_error,
        client_stuck=client.stuck,
        updates_stuck=updates_stuck,
        judged_at=at,
        settings=settings,
        enrollment=enrollment,
        observations=obs,
        client=client,
        software_update=update,
        circumstances=circumstances,
        reasons=MappingProxyType(reasons),
    )


def _identity_verdict(
    obs: Observations, at: datetime, window: timedelta, readable: bool
) -> tuple[bool | None, str]:
    if not readable:
        return None, "the log could not be read"
    window_words = window_text(window)
    recent = [s for s in obs.identity_errors if at - window <= s.time <= at]
    if not recent:
        return False, f"no MDM identity failure logged by mdmclient in the last {window_words}"
    newest = recent[-1]
    success = obs.last_device_success
    if success is not None and newest.time < success.time <= at:
        return False, (
            f"mdmclient logged an MDM identity failure {ago(at, newest.time)}, but the "
            f"device channel exchanged with the server after it ({ago(at, success.time)}): "
            f"{success.message}"
        )
    return True, (
        f"mdmclient logged an MDM identity failure {ago(at, newest.time)}: {newest.message}"
    )


def with_remembered(
    progress: tuple[Progress, ...], remembered: Progress | None
) -> tuple[Progress, ...]:
    """The log's update progress, and the one remembered when it is newer (a stall
    older than the window)."""
    if remembered is None or (progress and progress[-1].time >= remembered.time):
        return progress
    return (*progress, remembered)


def _update_verdict(
    update: UpdateFinding, client: ClientFinding, readable: bool
) -> tuple[bool | None, str]:
    """Stuck when the update is stalled, looping or overdue: the update's own state."""
    if not readable:
        return None, "the log could not be read"
    if update.state is UpdateState.UNKNOWN:
        return None, update.reason
    return update.stuck, f"{update.state}: {update.reason}"


def _updates_verdict(
    obs: Observations, at: datetime, history: timedelta, client: ClientFinding
) -> tuple[bool | None, str]:
    if client.stuck is None:
        return None, "whether the MDM client is stuck is unknown"
    if not client.stuck:
        return False, "the MDM client is not stuck"
    command = obs.last_command
    history_start = at - history
    if command is None or command.time < history_start:
        return False, f"no MDM command seen in the last {window_text(history)}"
    if is_software_update_command(command, obs, history_start):
        return True, (
            f"the last MDM command before the client went quiet was {command.request_type} "
            f"({ago(at, command.time)}), a software-update command: {command.message}"
        )
    return False, (
        f"the last MDM command was {command.request_type} ({ago(at, command.time)}), "
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
        return f"the device channel talked to an MDM server {ago(at, activity.time)}"
    return "no device-channel MDM traffic in this log, so enrollment is unknown"
