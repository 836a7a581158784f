"""The keys others read: the original's output keys, and those of ``state.json``.

Scripts, MunkiReport and Watchman read these names from the result line, the JSON and
``state.json``, so each is spelled once, here. Each member is its key (a ``str``), so
it prints, compares and serialises as the key itself. Tiny on purpose: the command
line loads it at start-up.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["HealKey", "RunKey", "StateKey", "Verdict"]


class Verdict(StrEnum):
    """The four verdicts, in the original's order."""

    ENROLLED = "MDMEnrolled"
    IDENTITY_ERROR = "MDMIdentityError"
    CLIENT_STUCK = "MDMClientStuck"
    UPDATES_STUCK = "MDMSoftwareUpdatesStuck"


class HealKey(StrEnum):
    """What `-heal` prints after the verdicts, in the original's order."""

    MDM_CLIENT_RESTARTED = "MDMClientRestarted"
    SOFTWARE_UPDATE_RESTARTED = "SoftwareUpdateDaemonRestarted"
    LAST_MDM_KICKSTART = "LastMDMKickstart"
    LAST_SOFTWARE_UPDATE_KICKSTART = "LastSoftwareUpdateDaemonKickstart"


class StateKey(StrEnum):
    """The keys of ``state.json``: the original's two kickstart times, then ours."""

    LAST_MDM_KICKSTART = "last_mdm_kickstart"
    LAST_SOFTWARE_UPDATE_KICKSTART = "last_software_update_kickstart"
    SCHEMA_VERSION = "schema_version"
    LAST_RUN = "last_run"
    MDM_CLIENT = "mdm_client"  # what runs remember of mdmclient (its newest exchange...)


class RunKey(StrEnum):
    """The keys of ``state.json``'s ``last_run``: the last `-heal` run, for inventory."""

    STARTED_AT = "started_at"
    FINISHED_AT = "finished_at"
    DURATION_SECONDS = "duration_seconds"
    MODE = "mode"
    MISSED_RUNS = "missed_runs"
    ERROR = "error"
    RESULT = "result"  # the run's JSON document, as `-heal --json` prints it
