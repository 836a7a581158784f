"""The span of an export a judgement rests on: from where its evidence must be read.

``analyze`` judges an export as of an instant (its newest entry, or ``--at``) over the
entries from a start computed here, by the same rule whether the export is read whole
or from its end (docs/detection.md, "The span an export is judged over"):

- HistoryHours before the instant: the window, loop detection, MDM-scheduled updates,
  identity errors, DDM declarations and progress are all judged within it;
- further back, to mdmclient's newest device-channel activity, HTTP 200, outcome and
  request, wherever they are: the quiet time, a refusal and a hung request are counted
  from them, and enrollment is proved by them (and, in an export without requests, to
  its last command, which it may still be carrying out);
- and to the newest sleep or wake at or before all of that: the awake time from there
  on depends on whether the Mac was asleep then.

Every fact is then the newest (or the newest few) at or after the start
(:meth:`Observations.since <watchdog_mdm.evidence.Observations.since>`). A read of the
entries from some instant on settles the start only when each of those sightings is
among them; a read of the whole export always does. Pure: observations in, an instant
out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from watchdog_mdm.config import Settings
from watchdog_mdm.evidence import POWER_EVENTS_KEPT, Observations, Outcome, Sighting

__all__ = ["judged_since", "mdmclient_sighted", "whole_span_start"]


def judged_since(
    obs: Observations,
    at: datetime,
    settings: Settings,
    *,
    read_from: datetime | None,
    no_power_before: bool = False,
) -> datetime | None:
    """Where the span judged at ``at`` starts, from the facts of a read that holds every
    entry from ``read_from`` on (None: the whole export). None when that read cannot
    tell: a sighting the span reaches back to is not in it, and may be older.
    ``no_power_before``: nothing before what was read can be a sleep or a wake.

    The start is settled by such a read only when it is not before ``read_from``.
    """
    if read_from is not None and not mdmclient_sighted(obs):
        return None  # one of them not read: there may be an older one
    start = _mdmclient_start(obs, at, settings)
    state = _sleep_state_at(obs, start)
    if state is not None:
        return state
    return start if read_from is None or no_power_before else None


def whole_span_start(obs: Observations, at: datetime, settings: Settings) -> datetime:
    """Where the span judged at ``at`` starts, from the facts of the whole export."""
    start = _mdmclient_start(obs, at, settings)
    return _sleep_state_at(obs, start) or start


def mdmclient_sighted(obs: Observations) -> bool:
    """Whether every sighting of mdmclient the span reaches back to is among these
    facts: then only the sleep state at its start can be missing."""
    return None not in _mdmclient_sightings(obs)


def _mdmclient_sightings(obs: Observations) -> tuple[Sighting | Outcome | None, ...]:
    return (
        obs.last_device_activity,
        obs.last_device_success,
        obs.last_device_outcome,
        obs.last_device_request,
    )


def _mdmclient_start(obs: Observations, at: datetime, settings: Settings) -> datetime:
    """HistoryHours before ``at`` (elapsed time, shown in ``at``'s zone), or mdmclient's
    sightings when older; and, with no request to tell whether a command is done, its
    last command (it may still be carrying it out: client_state._busy)."""
    start = (at.astimezone(UTC) - settings.history).astimezone(at.tzinfo)
    for sighting in _mdmclient_sightings(obs):
        if sighting is not None:
            start = min(start, sighting.time)
    if obs.last_device_request is None and obs.last_command is not None:
        start = min(start, obs.last_command.time)
    return start


def _sleep_state_at(obs: Observations, start: datetime) -> datetime | None:
    """``start`` moved back to the newest sleep or wake at or before it: the awake time
    after ``start`` is counted from the Mac's state then. None when these facts hold
    no such event."""
    events = obs.power_events
    if len(events) == POWER_EVENTS_KEPT and events[0].time > start:
        return start  # the newest events kept are all in the span already
    return max((event.time for event in events if event.time <= start), default=None)
