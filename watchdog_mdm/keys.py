"""The original's output keys: the four verdicts, and the four more that `-heal` prints.

Scripts, MunkiReport and Watchman read these names from the result line, the JSON and
``state.json``, so each is spelled once, here. Each member is its key (a ``str``), so
it prints, compares and serialises as the key itself. Tiny on purpose: the command
line loads it at start-up.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["HealKey", "Verdict"]


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
