"""Awake time: how long the Mac was awake (and online) between two instants.

A Mac that sleeps cannot answer its MDM server, and launchd does not run the watchdog
while it sleeps, so every "how long has mdmclient been quiet" must count awake time
only. Live, the kernel says when the Mac last woke and booted (``sysctl -n
kern.waketime kern.boottime``); an export may hold the sleep and wake events instead.
Across runs, :class:`QuietLedger` adds up the awake, online time since mdmclient last
did anything, counting only what the runs saw for themselves, so it never overstates.
Everything here is pure: times come in, durations go out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

__all__ = [
    "Power",
    "PowerEvent",
    "PowerSource",
    "QuietLedger",
    "account_quiet",
    "parse_sysctl_times",
]

ZERO = timedelta(0)
# The most one run may add to the quiet time. The LaunchDaemon runs every 95 minutes
# while the Mac is awake; a longer gap with no wake in it is a clock set forward or a
# daemon that was stopped, which proves no awake time beyond two intervals.
MAX_STEP = timedelta(minutes=190)


class PowerSource(StrEnum):
    """Where the sleep and wake times came from."""

    SYSCTL = "sysctl"  # kern.waketime / kern.boottime, live
    LOG = "log"  # sleep and wake events in the log read
    NONE = "none"  # nothing: sleep could not be accounted for


@dataclass(frozen=True, slots=True)
class PowerEvent:
    """A sleep or a wake, as the log recorded it."""

    time: datetime
    asleep: bool  # True: the Mac went to sleep; False: it woke (or booted)
    text: str = ""


@dataclass(frozen=True, slots=True)
class Power:
    """What is known of when the Mac was awake.

    From sysctl: the last boot and wake, so the time since the later of them was all
    awake, and before it nothing is known. From the log: the sleep and wake events,
    so every known sleep can be taken out.
    """

    source: PowerSource = PowerSource.NONE
    boot: datetime | None = None
    last_wake: datetime | None = None
    events: tuple[PowerEvent, ...] = ()  # in time order
    detail: str = ""  # why there is nothing, or what was read

    @property
    def accounts_for_sleep(self) -> bool:
        return self.source is not PowerSource.NONE

    def awake_start(self, at: datetime) -> datetime | None:
        """When the Mac last began to be awake (woke or booted) at or before ``at``."""
        if self.source is PowerSource.LOG:
            wakes = [e.time for e in self.events if not e.asleep and e.time <= at]
            return max(wakes, default=None)
        starts = [t for t in (self.boot, self.last_wake) if t is not None and t <= at]
        return max(starts, default=None)

    def awake_between(self, since: datetime, at: datetime) -> timedelta:
        """Awake time from ``since`` to ``at``: exact where the source knows every
        sleep, a lower bound from sysctl (only the time since the last wake is sure),
        the whole span where sleep cannot be accounted for."""
        if at <= since:
            return ZERO
        if self.source is PowerSource.SYSCTL:
            start = self.awake_start(at)
            return at - max(since, start) if start is not None else at - since
        if self.source is PowerSource.LOG:
            return at - since - _asleep_within(self.events, since, at)
        return at - since

    def slept_between(self, since: datetime, at: datetime) -> bool:
        """Whether the Mac is known to have slept (or restarted) between two instants:
        a wake or boot after ``since`` says so; without a source nothing is known."""
        if self.source is PowerSource.LOG:
            return any(since < e.time <= at for e in self.events)
        start = self.awake_start(at)
        return start is not None and start > since

    def awake_since_start(self, at: datetime) -> timedelta | None:
        """How long the Mac has been awake at ``at``; None when not known."""
        start = self.awake_start(at)
        return None if start is None else at - start


def _asleep_within(events: Iterable[PowerEvent], since: datetime, at: datetime) -> timedelta:
    """Time asleep between two instants: from each sleep to the next wake."""
    asleep = ZERO
    slept: datetime | None = None
    first = True
    for event in events:
        if event.asleep:
            slept = slept or event.time
        elif slept is not None:
            asleep += _overlap(slept, event.time, since, at)
            slept = None
        elif first:
            # A wake whose sleep the log no longer holds (retention, the events kept):
            # asleep for all that is not known to be awake, so never overstated.
            asleep += _overlap(since, event.time, since, at)
        first = False
    if slept is not None:
        asleep += _overlap(slept, at, since, at)
    return asleep


def _overlap(start: datetime, end: datetime, since: datetime, at: datetime) -> timedelta:
    return max(ZERO, min(end, at) - max(start, since))


# `sysctl -n kern.waketime kern.boottime` prints one timeval a line:
# "{ sec = 1732899912, usec = 113437 } Fri Nov 29 17:05:12 2024" (tests/fixtures/power_lines.txt).
# Compiled on first use (and kept by `re`): only live runs ask sysctl.
_TIMEVAL = r"\{\s*sec\s*=\s*(?P<sec>\d+),\s*usec\s*=\s*(?P<usec>\d+)\s*\}"


def parse_sysctl_times(text: str) -> tuple[datetime | None, ...]:
    """The timevals printed by ``sysctl -n`` for several keys, one a line, in order.

    A zero time (a Mac that never slept since boot has no wake time) is None; a line
    that is not a timeval raises ValueError, so a changed format is never misread.
    """
    values: list[datetime | None] = []
    for line in text.strip().splitlines():
        match = re.match(_TIMEVAL, line.strip())
        if match is None:
            raise ValueError(f"not a timeval: {line.strip()[:80]!r}")
        seconds = int(match["sec"]) + int(match["usec"]) / 1_000_000
        try:
            values.append(None if seconds == 0 else datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"not a time: {line.strip()[:80]!r}") from None
    return tuple(values)


@dataclass(frozen=True, slots=True)
class QuietLedger:
    """Awake, online time since mdmclient last did anything, added up across runs.

    ``since`` is mdmclient's newest sign of life (a device-channel request, response or
    failed connection); ``quiet`` the awake, online time counted since then, up to
    ``accounted_until``; ``online`` what the network probe said then. Each run adds
    only the span since the previous run that it knows was awake (no wake since) and
    online (at both ends): a lower bound, so the Mac is never called quiet too soon.
    """

    since: datetime
    quiet: timedelta
    accounted_until: datetime
    online: bool | None


def account_quiet(
    previous: QuietLedger | None,
    life: datetime | None,
    at: datetime,
    power: Power,
    online: bool | None,
) -> QuietLedger:
    """The ledger as of ``at``: restarted from ``life`` when that is newer than the
    ledger's (mdmclient did something since), else grown by what this run can vouch for.
    With no sign of life at all and no ledger, one starts now, at zero."""
    if previous is not None and (previous.since > at or previous.accounted_until > at):
        previous = None  # from the future (a clock set ahead, an edited file): not trusted
    if previous is not None and (life is None or life <= previous.since):
        return _grown(previous, at, power, online)
    if life is None:
        # Nothing known of mdmclient: count from now, never from a guess about the past.
        return QuietLedger(at, ZERO, at, online)
    counted = power.awake_between(life, at) if online and power.accounts_for_sleep else ZERO
    return QuietLedger(life, counted, at, online)


def _grown(previous: QuietLedger, at: datetime, power: Power, online: bool | None) -> QuietLedger:
    if at <= previous.accounted_until:
        return previous  # the clock went back, or the same instant twice: nothing to add
    added = ZERO
    if online and previous.online and power.accounts_for_sleep:
        added = min(power.awake_between(previous.accounted_until, at), MAX_STEP)
    return QuietLedger(previous.since, previous.quiet + added, at, online)
