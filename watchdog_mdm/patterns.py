"""Detection rules as data: what mdmclient and softwareupdated write, per macOS generation.

When a new macOS changes a wording, the fix is one line here plus a fixture in
``tests/`` with the real line and its source. Every pattern below names where its
wording was seen; the checks in :mod:`watchdog_mdm.evidence` only combine them.
"""

from __future__ import annotations

import re

__all__ = [
    "COMMAND_BRACKET",
    "DDM_UPDATE_ENFORCEMENT",
    "DECLARATIVE_COMMAND",
    "DEVICE",
    "EXCHANGE_AND_COMMAND_WORDINGS",
    "HTTP_EXCHANGE",
    "IDENTITY_ERRORS",
    "MDM_PROCESS",
    "MDM_SUBSYSTEM",
    "RELEVANT_MARKERS",
    "SERVER_REQUEST",
    "SOFTWARE_UPDATE_COMMANDS",
    "SOFTWARE_UPDATE_PROCESS",
    "SUCCESS_CODE",
    "UNKNOWN",
    "UPDATE_PROGRESS",
    "USER",
    "exchange_channel",
    "request_channel",
]

# Processes whose entries the checks read (ndjson gives the image basename).
MDM_PROCESS = "mdmclient"
MDM_SUBSYSTEM = "com.apple.ManagedClient"
SOFTWARE_UPDATE_PROCESS = "softwareupdated"

# "[0:MDMDaemon:HTTPUtil:<0x2fdb>]" (macOS 12-26) or "[0:MDMDaemon:<0x4d0d>]" (macOS 15):
# uid 0 + MDMDaemon is the device channel, the daemon that gets kickstarted;
# "[501:MDMAgent:...]" is a user's channel. Source: tests/fixtures/mdmclient_lines.txt.
CHANNEL = re.compile(r"\[(?P<uid>\d+):(?P<agent>MDMDaemon|MDMAgent)\b")
DEVICE_UID, DEVICE_AGENT = "0", "MDMDaemon"
DEVICE, USER, UNKNOWN = "device", "user", "unknown"


def exchange_channel(message: str) -> str:
    """Which channel an HTTP exchange line belongs to; without a tag it is unknown,
    and an unknown channel neither clears nor proves anything."""
    match = CHANNEL.search(message)
    if match is None:
        return UNKNOWN
    if match["uid"] == DEVICE_UID and match["agent"] == DEVICE_AGENT:
        return DEVICE
    return USER


# ">>>>> Sending HTTP request (PUT) [Idle] >>>>>" /
# "<<<<< Received HTTP response (200) [Acknowledged(ScheduleOSUpdate):<uuid>] <<<<<"
# Seen macOS 12 (super ad1495a mdm.log) to 13.4.1 (super issue #107); macOS 26 writes ":0"
# for the command UUID. The bracket is a status, Status(RequestType):CommandUUID, or a
# check-in message type such as MDM_GetBootstrapToken.
HTTP_EXCHANGE = re.compile(
    r"(?P<direction>Sending HTTP request|Received HTTP response) \((?P<code>[^)]*)\)"
    r"(?: \[(?P<bracket>[^\]]*)\])?"
)
SUCCESS_CODE = "200"
COMMAND_BRACKET = re.compile(
    r"(?P<status>[A-Za-z]+)\((?P<request_type>[A-Za-z][\w.]*)\)(?::(?P<command_uuid>.*))?"
)

# "Processing server request: DeclarativeManagement for: <Device> (<uuid>) PowerNap: no"
# (Der Flounder 2024-12-21, macOS 15); "Processing server request: InstallApplication  for:
# <Device>" (VMware euc-samples). "<Device>" is the device channel, a user name a user's.
SERVER_REQUEST = re.compile(
    r"Processing server request: (?P<request_type>[A-Za-z][\w.]*)\s+for: (?P<target>\S+)"
)
DEVICE_TARGET = "<Device>"


def request_channel(target: str) -> str:
    return DEVICE if target == DEVICE_TARGET else USER


# The lines that name commands or prove an exchange, as the regexes above read them:
# what the live history query keeps, and most of what the reader searches for.
EXCHANGE_AND_COMMAND_WORDINGS: tuple[str, ...] = (
    "Received HTTP response",
    "Sending HTTP request",
    "Processing server request",
)

# The wording admins' Jamf extension attributes grep mdmclient's output for
# (Jamf PI104712 / PI108400; see tests/fixtures/detection_notes.txt).
IDENTITY_ERRORS: tuple[str, ...] = ("Unable to create MDM identity",)

# MDM commands of Apple's software-update protocol. A stuck client whose last command
# was one of these has left an OS update undone.
SOFTWARE_UPDATE_COMMANDS: frozenset[str] = frozenset(
    {"ScheduleOSUpdate", "ScheduleOSUpdateScan", "AvailableOSUpdates", "OSUpdateStatus"}
)
# DeclarativeManagement syncs every declaration, and Jamf's "blank push" arrives as one
# (Der Flounder 2024-12-21), so on its own it says nothing about updates. It counts as
# software-update related only when softwareupdated logged DDM update enforcement in
# the history (sudoade.com "DDM Software Update Logs", macOS 14).
DECLARATIVE_COMMAND = "DeclarativeManagement"
DDM_UPDATE_ENFORCEMENT: tuple[str, ...] = ("scheduleEnforcedManagedUpdateWithVersion",)

# "[SUMacControllerProgressManager] Reported progress (start): phase:ACCEPTED stalled:NO ..."
# (super example logs, macOS 12-13) and "Scan reported progress (end): phase:..." (scans).
UPDATE_PROGRESS = re.compile(
    r"[Rr]eported progress \((?P<edge>\w+)\): phase:(?P<phase>[A-Z_]+)"
    r"(?: stalled:(?P<stalled>\w+))?"
)

# The raw bytes that every line the checks read contains. Lines with none of them are
# never decoded or parsed, which is what makes reading a day of log fast; a new wording
# above needs its marker here (tests/test_scan.py checks that each pattern has one).
# All are found in one pass (markers.py), so whole wordings cost no more than fragments
# and point at fewer lines that do not matter.
RELEVANT_MARKERS: tuple[bytes, ...] = (
    *(text.encode() for text in EXCHANGE_AND_COMMAND_WORDINGS),
    b"eported progress (",  # "Reported progress (" and "Scan reported progress ("
    *(text.encode() for text in IDENTITY_ERRORS),
    *(text.encode() for text in DDM_UPDATE_ENFORCEMENT),
)
