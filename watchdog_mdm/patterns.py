"""Detection rules as data: what mdmclient and softwareupdated write, per macOS generation.

When a new macOS changes a wording, the fix is one line here plus a fixture in
``tests/`` with the real line and its source. Every pattern below names where its
wording was seen; the checks in :mod:`watchdog_mdm.evidence` only combine them.
"""

from __future__ import annotations

import re

__all__ = [
    "CHANNEL",
    "COMMAND_BRACKET",
    "COURIER_CONNECTED",
    "DAEMON_ACCOUNTS",
    "DAEMON_NAMES",
    "DAEMON_PATHS",
    "DDM_DECLARATION_LINE",
    "DDM_DECLARATION_WORDING",
    "DDM_ENFORCED_DATE",
    "DDM_TARGET_VERSION",
    "DDM_UPDATE_ENFORCEMENT",
    "DECLARATIVE_COMMAND",
    "DEFAULT_ROUTE",
    "DEVICE",
    "DEVICE_AGENT",
    "DEVICE_TARGET",
    "DEVICE_UID",
    "EXCHANGE_AND_COMMAND_WORDINGS",
    "HTTP_EXCHANGE",
    "IDENTITY_ERRORS",
    "MDM_CONNECT_WORDINGS",
    "MDM_PATHS",
    "MDM_PROCESS",
    "MDM_SUBSYSTEM",
    "MDM_TOPIC_PREFIXES",
    "NO_ROUTE",
    "OFFLINE",
    "OFFLINE_URL_ERRORS",
    "POWER",
    "POWER_CATEGORY",
    "POWER_MARKERS",
    "POWER_PATHS",
    "POWER_PROCESSES",
    "POWER_SUBSYSTEM",
    "PROGRESS_MARKER",
    "PUSH_COURIER_CATEGORY",
    "PUSH_PATHS",
    "PUSH_PROCESS",
    "PUSH_RECEIVED",
    "PUSH_REJECTED",
    "PUSH_WORDING",
    "REDACTED",
    "REJECTED_CODES",
    "RELEVANT_MARKERS",
    "ROOT_USER_ID",
    "SERVER_ERROR",
    "SERVER_REQUEST",
    "SLEEP_WORDINGS",
    "SOFTWARE_UPDATE_COMMANDS",
    "SOFTWARE_UPDATE_PATHS",
    "SOFTWARE_UPDATE_PROCESS",
    "SUCCESS_CODE",
    "UNKNOWN",
    "UNREACHABLE_URL_ERRORS",
    "UPDATE_PROGRESS",
    "UPDATE_PROGRESS_AFTER_PHASE",
    "UPDATE_PROGRESS_AFTER_START",
    "UPDATE_PROGRESS_AT_START",
    "UPDATE_PROGRESS_LINE",
    "UPDATE_PROGRESS_START",
    "UPDATE_PROGRESS_WORDING",
    "URL_ERROR",
    "URL_ERROR_WORDING",
    "USER",
    "WAKE",
    "channel_of",
    "connection_failure",
    "exchange_channel",
    "power_event",
    "push_topic",
    "request_channel",
]

# Processes whose entries the checks read (ndjson gives the image basename).
MDM_PROCESS = "mdmclient"
MDM_SUBSYSTEM = "com.apple.ManagedClient"
SOFTWARE_UPDATE_PROCESS = "softwareupdated"
PUSH_PROCESS = "apsd"

# Where Apple's daemons are. An entry counts only if the kernel recorded one of these
# as its process image (ndjson/json "processImagePath"): any user can run a program
# named mdmclient, or log under the subsystem com.apple.ManagedClient, but not from
# these paths, which System Integrity Protection keeps read-only.
# mdmclient: super runs it by this path (tests/fixtures/log_show_formats.md).
MDM_PATHS: tuple[str, ...] = ("/usr/libexec/mdmclient",)
SOFTWARE_UPDATE_PATHS: tuple[str, ...] = (
    # `ps aux` on macOS 26.3 and OS X 10.10; blacktop/ipsw-diffs entitlements, macOS 15
    "/System/Library/CoreServices/Software Update.app/Contents/Resources/softwareupdated",
    # a third-party path table (tests/fixtures/log_show_formats.md); no capture shows it
    "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/softwareupdated",
)
# `ps ax` (OS X 10.10) and blacktop/ipsw-diffs MACHOS/apsd.md: unchanged since, and the
# same path on iOS.
PUSH_PATHS: tuple[str, ...] = ("/System/Library/PrivateFrameworks/ApplePushService.framework/apsd",)
DAEMON_PATHS: dict[str, str] = {
    **dict.fromkeys(MDM_PATHS, MDM_PROCESS),
    **dict.fromkeys(SOFTWARE_UPDATE_PATHS, SOFTWARE_UPDATE_PROCESS),
    **dict.fromkeys(PUSH_PATHS, PUSH_PROCESS),
}
DAEMON_NAMES = frozenset(DAEMON_PATHS.values())
# The accounts each runs as, where its records say (userID): apsd as root, softwareupdated
# as root or _softwareupdate (uid 200, `ps aux` on macOS 26.3). Anyone can run these
# binaries, as themselves: such a record is not the daemon's. (mdmclient runs as root and
# as each user: its channel is told by the userID, see channel_of.)
DAEMON_ACCOUNTS: dict[str, frozenset[int]] = {
    "apsd": frozenset({0}),
    "softwareupdated": frozenset({0, 200}),
}
# mdmclient runs twice: `mdmclient daemon` as root (the device channel) and
# `mdmclient agent` as each logged-in user; a record's userID tells them apart.
ROOT_USER_ID = 0

# Sleep and wake, from powerd (`log show --style compact`, macOS 26, a public test's
# copy of a real Mac's lines, tests/fixtures/power_lines.txt):
#   "powerd[423:1a] [com.apple.powerd:sleepWake] Entering Sleep state due to 'Idle Sleep'"
#   "... [com.apple.powerd:sleepWake] Wake from Deep Idle [CDNVA]"
#   "... [com.apple.powerd:sleepWake] DarkWake from Deep Idle [CDNP]"
# A DarkWake is maintenance with the display off (mdmclient answers NotNow "Not
# supported during DarkWake"): it does not end a sleep here, so awake time is never
# overstated. powerd's path is where macOS keeps it; no captured record shows it.
POWER = "power"
POWER_PROCESSES = frozenset({"powerd"})
POWER_PATHS = frozenset({"/System/Library/CoreServices/powerd.bundle/powerd"})
POWER_SUBSYSTEM, POWER_CATEGORY = "com.apple.powerd", "sleepWake"
SLEEP_WORDINGS: tuple[str, ...] = ("Entering Sleep state",)
WAKE = re.compile(r"(?<!Dark)Wake from |DarkWake to FullWake")
# Raw bytes every sleep or wake line holds (a "DarkWake from" too, which is none)
POWER_MARKERS: tuple[bytes, ...] = (
    *(text.encode() for text in SLEEP_WORDINGS),
    b"Wake from ",
    b"FullWake",
)


def power_event(message: str) -> bool | None:
    """True for a sleep, False for a full wake, None for anything else."""
    if any(text in message for text in SLEEP_WORDINGS):
        return True
    if WAKE.search(message):
        return False
    return None


# apsd, a push arrived (format string from apsd's binary, tests/fixtures/checkin_lines.txt):
# "%@: Received message for enabled topic '%@' onInterface: %@ with payload '%@' ..."
# Which topic apsd prints for an MDM push is unconfirmed, so both candidates count: the
# server's push certificate topic, "com.apple.mgmt.External.<uuid>" (Apple, MDM check-in
# "Topic"), and the topic mdmclient's daemon registers, "com.apple.aps.mdmclient.daemon.
# push.production" (Der Flounder 2026-08-29; the user channel's is "...agent...", not
# read). Without a private-data logging profile the topic prints as "<private>": such a
# push cannot be told from any other app's, so it proves nothing, and is only counted.
PUSH_WORDING = "Received message for enabled topic"
PUSH_RECEIVED = re.compile(rf"{PUSH_WORDING} '(?P<topic>[^']*)'")
MDM_TOPIC_PREFIXES: tuple[str, ...] = ("com.apple.mgmt.", "com.apple.aps.mdmclient.daemon.")
REDACTED = "<private>"


def push_topic(message: str) -> str | None:
    """The topic of a push apsd received, or None when the line is not one."""
    match = PUSH_RECEIVED.search(message)
    return None if match is None else match["topic"]


# apsd connected to APNs (Der Flounder, 2026-08-29, macOS 26): "<APSCourierConnectionManager:
# 0x1036e3710; production>: Connected to courier 18-courier.push.apple.com ...". Logged
# once a connection, not continuously: its absence proves nothing.
COURIER_CONNECTED: tuple[str, ...] = ("Connected to courier",)
# apsd's category for its APNs connection ("apsd: [com.apple.apsd:courier] <private> all
# couriers have finished processing server bag", Der Flounder 2026-09-15, macOS 27).
PUSH_COURIER_CATEGORY = "courier"

# mdmclient starting to connect because of a push (unconfirmed capture, macOS 26,
# tests/fixtures/checkin_lines.txt): "Calling MDM_Connect (At login: no) <PushNotification> for:
# https://<host>/...". Only on the device channel does it ask anything of the daemon.
MDM_CONNECT_WORDINGS: tuple[str, ...] = ("Calling MDM_Connect",)

# A connection that failed, as NSError prints it ("Error Domain=NSURLErrorDomain
# Code=-1009 \"The Internet connection appears to be offline.\"", CFNetwork's wording
# in any process's log). No capture of mdmclient logging one was found, so this only
# ever stops a restart, never causes one. Codes: Apple's NSURLError constants.
URL_ERROR_WORDING = "NSURLErrorDomain Code="
URL_ERROR = re.compile(rf"{URL_ERROR_WORDING}(?P<code>-?\d+)")
OFFLINE_URL_ERRORS = frozenset(
    {
        "-1009",  # NSURLErrorNotConnectedToInternet
        "-1018",  # NSURLErrorInternationalRoamingOff
        "-1020",  # NSURLErrorDataNotAllowed
    }
)
UNREACHABLE_URL_ERRORS = frozenset(
    {
        "-1001",  # NSURLErrorTimedOut
        "-1003",  # NSURLErrorCannotFindHost
        "-1004",  # NSURLErrorCannotConnectToHost
        "-1005",  # NSURLErrorNetworkConnectionLost
        "-1200",  # NSURLErrorSecureConnectionFailed
    }
)
OFFLINE, SERVER_ERROR = "offline", "server-error"

# mdmclient refusing a push its server sent with the wrong push magic (Apple DTS, developer
# forums thread 738806, in field notes): it never connects, and a restart cannot fix the
# server's configuration, so this is the server's error.
PUSH_REJECTED: tuple[str, ...] = (
    "Rejecting MDM push dictionary because it does not have the right magic string",
)

# `route -n get default`: with no network, "route: writing to routing socket: not in
# table" (matched by many independent tools; which stream and status is unconfirmed);
# with one, "gateway: 192.168.1.1" and "interface: en0" lines (public captures).
NO_ROUTE = "not in table"
DEFAULT_ROUTE = re.compile(r"^\s*(?:gateway|interface): \S+", re.MULTILINE)


def connection_failure(message: str) -> str | None:
    """OFFLINE or SERVER_ERROR for a failed connection (or a push the server sent wrong),
    None for anything else."""
    if any(text in message for text in PUSH_REJECTED):
        return SERVER_ERROR
    match = URL_ERROR.search(message)
    if match is None:
        return None
    if match["code"] in OFFLINE_URL_ERRORS:
        return OFFLINE
    return SERVER_ERROR if match["code"] in UNREACHABLE_URL_ERRORS else None


# "[0:MDMDaemon:HTTPUtil:<0x2fdb>]" (macOS 12-26) or "[0:MDMDaemon:<0x4d0d>]" (macOS 15):
# uid 0 + MDMDaemon is the device channel, the daemon that gets kickstarted;
# "[501:MDMAgent:...]" is a user's channel. Source: tests/fixtures/mdmclient_lines.txt.
CHANNEL = re.compile(r"\[(?P<uid>\d+):(?P<agent>MDMDaemon|MDMAgent)\b")
DEVICE_UID, DEVICE_AGENT = "0", "MDMDaemon"
DEVICE, USER, UNKNOWN = "device", "user", "unknown"


def exchange_channel(message: str) -> str:
    """Which channel an HTTP exchange line belongs to by its tag; without one it is
    unknown (the record's userID may still tell, see :func:`channel_of`)."""
    match = CHANNEL.search(message)
    if match is None:
        return UNKNOWN
    if match["uid"] == DEVICE_UID and match["agent"] == DEVICE_AGENT:
        return DEVICE
    return USER


def channel_of(tagged: str, user_id: int | None) -> str:
    """The channel of a line, from its tag and the userID the kernel recorded.

    The userID decides where there is one: the device channel is root's mdmclient, so a
    "[0:MDMDaemon]" tag from another user is not the device's. Without a userID (text
    styles) the tag decides, and an untagged line's channel is unknown, which neither
    clears nor proves anything.
    """
    if user_id is None:
        return tagged
    if user_id != ROOT_USER_ID:
        return USER
    return DEVICE if tagged in (DEVICE, UNKNOWN) else USER


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
# Statuses that say the server will not talk to this Mac until it is enrolled again
# (the MDM check-in protocol answers 401 to an identity it does not know; an
# unconfirmed macOS 26 capture: "<<<<< Received HTTP response (401)
# [MDM_Authenticate] <<<<<", tests/fixtures/checkin_lines.txt).
REJECTED_CODES = frozenset({"401", "403"})
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
# softwareupdated naming the declaration it enforces (tests/fixtures/ddm_update_lines.txt):
# "-[SUOSUManagedServiceDaemon declarationFromKeys]: Falling back to default applicable
# declaration: SUCoreDDMDeclaration (DeclarationKey:...|EnforcedInstallDate:2026-08-21T
# 13:00:00|VersionString:26.6.2|...)". What an export, without the Mac's files, knows
# of the declared target and deadline (local time, no offset, as declared).
DDM_DECLARATION_WORDING = "declarationFromKeys]"
DDM_DECLARATION_LINE = re.compile(r"-\[SUOSUManagedServiceDaemon declarationFromKeys\]: ")
DDM_ENFORCED_DATE = re.compile(r"EnforcedInstallDate:(?P<date>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")
DDM_TARGET_VERSION = re.compile(r"VersionString:(?P<version>\d+(?:\.\d+)*)")

# "[SUMacControllerProgressManager] Reported progress (start): phase:ACCEPTED stalled:NO ..."
# (super example logs, macOS 12-13) and "Scan reported progress (end): phase:..." (scans).
UPDATE_PROGRESS_WORDING = "Reported progress ("  # an update's, not a scan's ("Scan reported")
UPDATE_PROGRESS = re.compile(
    r"(?P<scan>Scan r|r|R)eported progress \((?P<edge>\w+)\): phase:(?P<phase>[A-Z_]+)"
    r"(?: stalled:(?P<stalled>\w+))?(?: portionComplete:(?P<portion>[0-9.]+))?"
)
# An update's progress only as its progress manager writes it, at the start of the
# message: softwareupdated also logs text others choose (a client's path), which must
# not be able to pass for progress and hold off, or bring on, a restart.
UPDATE_PROGRESS_LINE = re.compile(r"\[SUMacControllerProgressManager\] Reported progress \(")
# The whole of such a line's progress, read in one match where it starts: what
# UPDATE_PROGRESS_LINE and then UPDATE_PROGRESS find in nearly every progress line, read
# at a third of their cost (during an update, a quarter of softwareupdated's lines).
UPDATE_PROGRESS_AT_START = re.compile(
    r"\[SUMacControllerProgressManager\] " + UPDATE_PROGRESS.pattern.replace("Scan r|r|R", "R")
)
# UPDATE_PROGRESS_AT_START in two: the wording it starts with, compared as text, and
# what follows, matched from there. Together they read what it reads at half the cost:
# a pattern compares text character by character, some thirty instructions each.
UPDATE_PROGRESS_START = "[SUMacControllerProgressManager] Reported progress ("
UPDATE_PROGRESS_AFTER_START = re.compile(
    UPDATE_PROGRESS.pattern.split(r"eported progress \(", 1)[1]
)
# What UPDATE_PROGRESS reads after the phase, matched from the space that ends it: of
# lines alike up to there (a run, runs.py), the phase and edge are read once.
UPDATE_PROGRESS_AFTER_PHASE = re.compile(UPDATE_PROGRESS.pattern.split("(?P<phase>[A-Z_]+)", 1)[1])

# "Reported progress (" and "Scan reported progress (": the marker of progress lines,
# which the scanner reads in runs (runs.py).
PROGRESS_MARKER = b"eported progress ("

# The raw bytes that every line the checks read contains. Lines with none of them are
# never decoded or parsed, which is what makes reading a day of log fast; a new wording
# above needs its marker here (tests/test_scan.py checks that each pattern has one).
# All are found in one pass (markers.py), so whole wordings cost no more than fragments
# and point at fewer lines that do not matter.
RELEVANT_MARKERS: tuple[bytes, ...] = (
    *(text.encode() for text in EXCHANGE_AND_COMMAND_WORDINGS),
    PROGRESS_MARKER,
    *(text.encode() for text in IDENTITY_ERRORS),
    *(text.encode() for text in DDM_UPDATE_ENFORCEMENT),
    DDM_DECLARATION_WORDING.encode(),
    PUSH_WORDING.encode(),
    *(text.encode() for text in COURIER_CONNECTED),
    *(text.encode() for text in MDM_CONNECT_WORDINGS),
    URL_ERROR_WORDING.encode(),
    *(text.encode() for text in PUSH_REJECTED),
    *POWER_MARKERS,
)
