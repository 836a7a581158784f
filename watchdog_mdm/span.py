"""The span of an export a judgement rests on: from where its evidence must be read.

``analyze`` judges an export as of an instant (its newest entry, or ``--at``) over the
entries from a start computed here, by the same rule whether the export is read whole
or from its end (docs/detection.md, "The span an export is judged over"):

- HistoryHours before the instant: the window, loop detection, MDM-scheduled updates,
  identity errors, DDM declarations and progress are all judged within it;
- further back, to mdmclient's newest device-channel activity, HTTP 200, outcome and
  request, wherever they are: the quiet time, a refusal and a hung request are counted
  from them, and enrollment is proved by them;
- and to the newest sleep or wake at or before all of that: the awake time from there
  on depends on whether the Mac was asleep then.

Every fact is then the newest (or the newest few) at or after the start
(:meth:`Observations.since <watchdog_mdm.evidence.Observations.since>`). A read of the
entries from some instant on settles the start only when each of those sightings is
among them; a read of the whole export always does. Pure: observations in, an instant
out.
"""

from __future__ import annotations

from datetime import datetime

from watchdog_mdm.config import Settings
from watchdog_mdm.evidence import POWER_EVENTS_KEPT, Observations, Outcome, Sighting

__all__ = ["judged_since", "mdmclient_sighted"]


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
    start = at - settings.history
    for sighting in _mdmclient_sightings(obs):
        if sighting is not None:
            start = min(start, sighting.time)
        elif read_from is not None:
            return None  # none read: there may be an older one
    return _with_power_state(obs, start, whole=read_from is None or no_power_before)


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


def _with_power_state(obs: Observations, start: datetime, *, whole: bool) -> datetime | None:
    """``start``, moved back to the newest sleep or wake at or before it: the awake time
    after ``start`` is counted from the Mac's state then. None when the read holds no
    such event and an older one may exist."""
    events = obs.power_events
    if len(events) == POWER_EVENTS_KEPT and events[0].time > start:
        return start  # the newest events kept are all in the span already
    before = [event.time for event in events if event.time <= start]
    if before:
        return max(before)
    return start if whole else None
