"""Configuration: built-in defaults, preference files, command-line flags.

Mac admins configure tools with managed preferences: an MDM configuration profile for
the domain ``com.github.mdm-watchdog`` lands in ``/Library/Managed Preferences``; a
local ``/Library/Preferences`` plist is the fallback; flags win over both. Every key is
declared once in :data:`KEYS` with its type, range and default, so a typo in a profile
can never make the tool restart daemons every run: a bad value is reported, ignored,
and the next source (in the end the default) applies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only named in annotations: the seam's machinery is not loaded
    from watchdog_mdm.system import System

__all__ = [
    "DOMAIN",
    "KEYS",
    "KEYS_BY_NAME",
    "LOCAL_PREFERENCES",
    "MANAGED_PREFERENCES",
    "ConfigConflict",
    "ConfigKey",
    "Configuration",
    "DurationError",
    "Settings",
    "StuckRule",
    "format_duration",
    "load_configuration",
    "parse_duration",
    "read_configuration",
]

DOMAIN = "com.github.mdm-watchdog"
MANAGED_PREFERENCES = f"/Library/Managed Preferences/{DOMAIN}.plist"
LOCAL_PREFERENCES = f"/Library/Preferences/{DOMAIN}.plist"
COMMAND_LINE = "command line"
DEFAULT = "default"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = r"(\d+(?:\.\d+)?)([smhd])"  # compiled (by `re`) only when a duration is given


class DurationError(ValueError):
    """A duration that cannot be read."""


class ConfigConflict(ValueError):
    """Command-line flags that contradict the configuration."""


def parse_duration(text: str) -> timedelta:
    """Read ``90m``, ``1h30m``, ``24h``, ``2d`` or a bare number of minutes (Go-like)."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return timedelta(minutes=float(value))
    parts = re.findall(_PART, value)
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


class StuckRule(StrEnum):
    """Which rule decides that mdmclient is stuck."""

    EVIDENCE = "evidence"  # only on positive evidence of a wedge
    QUIET = "quiet"  # the original Addigy tool's rule: no HTTP 200 within the window


@dataclass(frozen=True, slots=True)
class Settings:
    """What a run looks at, what it may do, and how long it may wait."""

    window: timedelta = timedelta(minutes=90)
    history: timedelta = timedelta(hours=24)
    cooldown: timedelta = timedelta(hours=24)
    heal_mdm_client: bool = True
    heal_software_update: bool = True
    dry_run: bool = False
    log_timeout_seconds: float = 120.0
    verify_seconds: float = 10.0
    lock_wait_seconds: float = 10.0
    profiles_timeout_seconds: float = 30.0
    command_timeout_seconds: float = 30.0
    stuck_rule: StuckRule = StuckRule.EVIDENCE
    push_grace: timedelta = timedelta(minutes=15)
    request_timeout: timedelta = timedelta(minutes=10)
    quiet_after: timedelta = timedelta(hours=48)
    restart_splay: timedelta = timedelta(0)
    update_stall: timedelta = timedelta(minutes=60)
    overdue_grace: timedelta = timedelta(hours=24)
    history_days: int = 90

    MAX_HISTORY = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One preference key: its plist type, allowed range, and the setting it feeds."""

    name: str
    attribute: str
    kind: type  # bool, int, float (an int is accepted where a float is) or str
    default: bool | float | str
    low: float | None = None
    high: float | None = None
    to_setting: Callable[[Any], Any] = lambda value: value
    doc: str = ""
    choices: tuple[str, ...] = ()  # the only strings a str key accepts

    def check(self, value: object) -> str | None:
        """Why ``value`` is not acceptable, or None when it is."""
        if self.kind is bool:
            return None if isinstance(value, bool) else f"must be a boolean, not {value!r}"
        if self.kind is str:
            return self._choice_problem(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, not {value!r}"
        return self._number_problem(value)

    def _choice_problem(self, value: object) -> str | None:
        if isinstance(value, str) and value in self.choices:
            return None
        return f"must be one of {', '.join(self.choices)}, not {value!r}"

    def _number_problem(self, value: float) -> str | None:
        if self.kind is int and not isinstance(value, int):
            return f"must be a whole number, not {value!r}"
        if not math.isfinite(value):  # NaN would pass every comparison below
            return f"must be a finite number, not {value!r}"
        if self.low is not None and value < self.low:
            return f"{value} is below the minimum of {self.low:g}"
        if self.high is not None and value > self.high:
            return f"{value} is above the maximum of {self.high:g}"
        return None


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def _hours(value: float) -> timedelta:
    return timedelta(hours=value)


KEYS: tuple[ConfigKey, ...] = (
    ConfigKey(
        "LookbackMinutes",
        "window",
        int,
        90,
        15,
        10080,
        _minutes,
        "Window: an exchange within it is healthy; by StuckRule quiet, none within it is stuck.",
    ),
    ConfigKey(
        "HistoryHours",
        "history",
        int,
        24,
        1,
        720,
        _hours,
        "How far back the last MDM command may be to count for software updates.",
    ),
    ConfigKey(
        "KickstartCooldownHours",
        "cooldown",
        float,
        24,
        1,
        720,
        _hours,
        "Least time between two restarts of the same daemon.",
    ),
    ConfigKey(
        "HealMDMClient", "heal_mdm_client", bool, True, doc="Whether -heal may restart mdmclient."
    ),
    ConfigKey(
        "HealSoftwareUpdate",
        "heal_software_update",
        bool,
        True,
        doc="Whether -heal may run the software-update remediation.",
    ),
    ConfigKey(
        "DryRun", "dry_run", bool, False, doc="Make -heal say what it would do and do nothing."
    ),
    ConfigKey(
        "LogShowTimeoutSeconds",
        "log_timeout_seconds",
        float,
        120,
        10,
        1800,
        float,
        "Time limit for each `log show`.",
    ),
    ConfigKey(
        "VerifySeconds",
        "verify_seconds",
        float,
        10,
        0,
        120,
        float,
        "How long to wait for a restarted daemon to be running again.",
    ),
    ConfigKey(
        "LockWaitSeconds",
        "lock_wait_seconds",
        float,
        10,
        0,
        300,
        float,
        "How long a run waits for another run to finish before giving up.",
    ),
    ConfigKey(
        "StuckRule",
        "stuck_rule",
        str,
        StuckRule.EVIDENCE.value,
        to_setting=StuckRule,
        doc="How MDMClientStuck is decided: evidence of a wedge, or quiet (no recent HTTP 200).",
        choices=tuple(rule.value for rule in StuckRule),
    ),
    ConfigKey(
        "PushGraceMinutes",
        "push_grace",
        int,
        15,
        1,
        1440,
        _minutes,
        "How long mdmclient may take to connect after a push before it counts as unanswered.",
    ),
    ConfigKey(
        "RequestTimeoutMinutes",
        "request_timeout",
        int,
        10,
        1,
        1440,
        _minutes,
        "How long a device-channel request may wait for a response before it counts as hung.",
    ),
    ConfigKey(
        "QuietHours",
        "quiet_after",
        int,
        48,
        1,
        720,
        _hours,
        "Awake, online hours without a device-channel exchange before mdmclient is stuck.",
    ),
    ConfigKey(
        "RestartSplayMinutes",
        "restart_splay",
        int,
        0,
        0,
        240,
        _minutes,
        "Longest random delay before a restart, so a fleet does not restart at once.",
    ),
    ConfigKey(
        "UpdateStallMinutes",
        "update_stall",
        int,
        60,
        10,
        1440,
        _minutes,
        "Minutes without softwareupdated progress before an unfinished update counts as stalled.",
    ),
    ConfigKey(
        "OverdueGraceHours",
        "overdue_grace",
        int,
        24,
        0,
        720,
        _hours,
        "Hours past a DDM deadline before an update not installed counts as overdue.",
    ),
    ConfigKey(
        "HistoryDays",
        "history_days",
        int,
        90,
        1,
        3650,
        doc="Days of runs kept in history.db; older rows are removed as each run is recorded.",
    ),
)
KEYS_BY_NAME = {key.name: key for key in KEYS}


@dataclass(frozen=True, slots=True)
class Configuration:
    """The effective settings, where each value came from, and what was wrong."""

    settings: Settings
    sources: Mapping[str, str] = field(default_factory=dict)  # key name -> source
    warnings: tuple[str, ...] = ()

    def value(self, key: ConfigKey) -> object:
        setting = getattr(self.settings, key.attribute)
        if isinstance(setting, timedelta):
            unit = 60 if key.to_setting is _minutes else 3600
            number = setting.total_seconds() / unit
            return int(number) if key.kind is int or number.is_integer() else number
        if isinstance(setting, StrEnum):  # the plain string, as a profile spells it
            return setting.value
        return setting


def _read_plist(path: str, data: bytes | None, warnings: list[str]) -> dict[str, Any]:
    if data is None:
        return {}
    import plistlib  # noqa: PLC0415 - only when there is a file: keeps start-up fast
    import xml.parsers.expat  # noqa: PLC0415

    try:
        loaded = plistlib.loads(data)
    except (
        plistlib.InvalidFileException,
        ValueError,
        OverflowError,
        TypeError,
        xml.parsers.expat.ExpatError,
    ) as exc:
        warnings.append(f"{path}: not a readable property list ({exc}); ignored")
        return {}
    except (RecursionError, MemoryError):
        # A binary plist nested many thousand levels deep: preferences never are.
        warnings.append(f"{path}: not a readable property list (nested too deeply); ignored")
        return {}
    if not isinstance(loaded, dict):
        warnings.append(f"{path}: not a dictionary of preferences; ignored")
        return {}
    for name in loaded:
        if name not in KEYS_BY_NAME and not str(name).startswith("Payload"):
            warnings.append(f"{path}: unknown key {name!r} ignored")
    return loaded


def load_configuration(
    files: Mapping[str, bytes | None], flags: Mapping[str, object] | None = None
) -> Configuration:
    """Combine preference files (first wins; path -> content or None) and flags.

    ``flags`` maps key names to values already checked by the command line.
    """
    warnings: list[str] = []
    layers = [(path, _read_plist(path, data, warnings)) for path, data in files.items()]
    layers.insert(0, (COMMAND_LINE, dict(flags or {})))
    settings = Settings()
    sources: dict[str, str] = {}
    for key in KEYS:
        sources[key.name] = DEFAULT
        for source, values in layers:
            if key.name not in values:
                continue
            value = values[key.name]
            problem = key.check(value)
            if problem is not None:
                warnings.append(f"{source}: {key.name} {problem}; ignored")
                continue
            settings = replace(settings, **{key.attribute: key.to_setting(value)})
            sources[key.name] = source
            break
    if settings.window > settings.history:
        if sources["LookbackMinutes"] == COMMAND_LINE:
            raise ConfigConflict(
                f"--window cannot be longer than HistoryHours ({format_duration(settings.history)})"
            )
        warnings.append("LookbackMinutes is longer than HistoryHours; using both defaults")
        defaults = Settings()
        settings = replace(settings, window=defaults.window, history=defaults.history)
        sources["LookbackMinutes"] = sources["HistoryHours"] = DEFAULT
    return Configuration(settings, sources, tuple(warnings))


def read_configuration(system: System, flags: Mapping[str, object] | None = None) -> Configuration:
    """The configuration of this Mac: managed preferences, local preferences, flags."""
    files: dict[str, bytes | None] = {}
    unreadable: list[str] = []
    for path in (MANAGED_PREFERENCES, LOCAL_PREFERENCES):
        try:
            files[path] = system.read_trusted(path)
        except OSError as exc:
            files[path] = None
            unreadable.append(f"{path}: {exc.strerror or exc}; ignored")
    configuration = load_configuration(files, flags)
    return replace(configuration, warnings=(*unreadable, *configuration.warnings))
