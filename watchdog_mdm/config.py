"""Settings: the numbers that shape a run, their defaults, and how durations are written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["DurationError", "Settings", "format_duration", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


class DurationError(ValueError):
    """A duration that cannot be read."""


def parse_duration(text: str) -> timedelta:
    """Read ``90m``, ``1h30m``, ``24h``, ``2d`` or a bare number of minutes (Go-like)."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return timedelta(minutes=float(value))
    parts = _PART.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise DurationError(f"{text!r} is not a duration (examples: 90m, 1h30m, 24h, 2d)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def format_duration(value: timedelta) -> str:
    """The shortest Go-like spelling of a whole number of minutes or hours."""
    minutes = int(value.total_seconds() // 60)
    if minutes >= 2880 and minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


@dataclass(frozen=True, slots=True)
class Settings:
    """What a run looks at and how long it may wait."""

    window: timedelta = timedelta(minutes=90)
    history: timedelta = timedelta(hours=24)
    log_timeout_seconds: float = 120.0
    profiles_timeout_seconds: float = 30.0

    # A window shorter than a check-in interval would call every Mac stuck; longer than
    # the history would leave the history nothing to add.
    MIN_WINDOW = timedelta(minutes=5)
    MAX_HISTORY = timedelta(days=30)
