"""Synthetic ``log show`` exports of any size and style, from real line shapes.

A realistic mix: mostly chatter from mdmclient and other processes, about 3 % HTTP
exchanges, some commands and softwareupdated progress, with the wordings of the real
lines in tests/fixtures. The tests build exports with it (through tests/support.py), and
so does the benchmark, which runs without the test dependencies: so this module imports
only the standard library.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

# (process, image path, subsystem, category, message); real wordings from the reference.
EXCHANGES = [
    (
        "mdmclient",
        "/usr/libexec/mdmclient",
        "com.apple.ManagedClient",
        "HTTPUtil",
        "[0:MDMDaemon:HTTPUtil:<0x2fdb>] >>>>> Sending HTTP request (PUT) [Idle] >>>>>",
    ),
    (
        "mdmclient",
        "/usr/libexec/mdmclient",
        "com.apple.ManagedClient",
        "HTTPUtil",
        "[0:MDMDaemon:HTTPUtil:<0x2fdb>] <<<<< Received HTTP response (200) [Idle] <<<<<",
    ),
    (
        "mdmclient",
        "/usr/libexec/mdmclient",
        "com.apple.ManagedClient",
        "HTTPUtil",
        "[501:MDMAgent:HTTPUtil:<0x3a11>] <<<<< Received HTTP response (200) [Idle] <<<<<",
    ),
]
COMMANDS = [
    (
        "mdmclient",
        "/usr/libexec/mdmclient",
        "com.apple.ManagedClient",
        "HTTPUtil",
        "[0:MDMDaemon:HTTPUtil:<0x6626>] <<<<< Received HTTP response (200) "
        "[Acknowledged(ScheduleOSUpdate):cea75749-f3be-48f9-9b34-87828a32a04f] <<<<<",
    ),
    (
        "mdmclient",
        "/usr/libexec/mdmclient",
        "com.apple.ManagedClient",
        "MDMDaemon",
        "[*] [0:MDMDaemon:<0x4d0d>] Processing server request: DeclarativeManagement for: "
        "<Device> (3fb48527-9aaa-492d-94fc-efd999d812a3) PowerNap: no",
    ),
]
PROGRESS = [
    (
        "softwareupdated",
        "/System/Library/CoreServices/Software Update.app/Contents/Resources/softwareupdated",
        "com.apple.SoftwareUpdateMacController",
        "SU",
        "[SUMacControllerProgressManager] Reported progress (start): phase:ACCEPTED stalled:NO "
        "portionComplete:0.001000 estimatedTimeRemaining:-1.000000",
    ),
]
CHATTER = [
    (
        "mdmclient",
        "/usr/libexec/mdmclient",
        "com.apple.ManagedClient",
        "FVEscrow",
        "[0:MDMDaemon:FVEscrow:<0x5b0>] Saved PRK escrow file: YES  Length: 460",
    ),
    (
        "mdmclient",
        "/usr/libexec/mdmclient",
        "com.apple.ManagedClient",
        "ManagedApps",
        "StartInstall using UUID: 1B3C5D7E-9F11-4A2B-8C3D-5E7F9A1B2C3D for MDM 'Example.MDM'",
    ),
    (
        "trustd",
        "/usr/libexec/trustd",
        "com.apple.securityd",
        "ocsp",
        "ocsp responder: (null) did not include status of requested cert",
    ),
    (
        "coreaudiod",
        "/usr/sbin/coreaudiod",
        "com.apple.bluetooth",
        "BTAudio",
        "Volume update from PID = 8484 Control ID = 262 Scalar volume 0.488189 -> 0.427210 "
        "Element = 0",
    ),
    (
        "WindowServer",
        "/System/Library/PrivateFrameworks/SkyLight.framework/Versions/A/Resources/WindowServer",
        "com.apple.Multitouch",
        "Plugin",
        "[TP] Dispatching digitizer event with 2 children, _eventMask=0x2 _childEventMask=0x2 "
        "Cancel=0 Touching=0 inRange=1",
    ),
    (
        "apsd",
        "/System/Library/PrivateFrameworks/ApplePushService.framework/apsd",
        "com.apple.apsd",
        "courier",
        # apsd's everyday chatter (Der Flounder 2026-09-15, macOS 27); its "Connected to
        # courier" line is logged once a connection, so it is no chatter
        "<private> all couriers have finished processing server bag",
    ),
]


# powerd's sleep and wake (tests/fixtures/power_lines.txt: a real compact line, and a
# public tool's filter constant), as an export made with the documented predicate holds
POWER = [
    (
        "powerd",
        "/System/Library/CoreServices/powerd.bundle/powerd",
        "com.apple.powerd",
        "sleepWake",
        "Entering Sleep state due to 'Idle Sleep'",
    ),
    (
        "powerd",
        "/System/Library/CoreServices/powerd.bundle/powerd",
        "com.apple.powerd",
        "sleepWake",
        "Wake from Deep Idle [CDNVA]",
    ),
]
# How often a Mac exported over days sleeps or wakes, in log time (write_export's days).
POWER_EVERY = timedelta(minutes=90)
# What share of the lines are softwareupdated's progress: "chatter", the everyday mix;
# "progress", a Mac installing an update (a quarter of the lines report progress).
MIXES = {"chatter": 0.01, "progress": 0.25}


# the real "(inter)" line of a download (softwareupdated_lines.txt), byte counts its own
_EXPECTED_BYTES = 5552898056


def downloading(portion: float) -> tuple[str, str, str, str, str]:
    """An update's download progress as softwareupdated reports it, several times a
    second, each line with its own portion, bytes written and time left."""
    process, image, subsystem, category, _ = PROGRESS[0]
    written = int(portion * _EXPECTED_BYTES)
    return (
        process,
        image,
        subsystem,
        category,
        "[SUMacControllerProgressManager] Reported progress (inter): phase:DOWNLOADING_UPDATE "
        f"stalled:NO portionComplete:{portion:.6f} totalWrittenBytes:{written} "
        f"totalExpectedBytes:{_EXPECTED_BYTES} estimatedTimeRemaining:{(1 - portion) * 65:.6f}",
    )


def choose(
    rng: random.Random, progress: float = MIXES["chatter"]
) -> tuple[str, str, str, str, str]:
    if progress > MIXES["chatter"] and rng.random() < progress:
        return downloading(rng.random())
    roll = rng.random()
    if roll < 0.03:
        return rng.choice(EXCHANGES)
    if roll < 0.035:
        return rng.choice(COMMANDS)
    if roll < 0.045:
        return PROGRESS[0]
    return rng.choice(CHATTER)


def _pid(process: str) -> int:
    return 100 + sum(map(ord, process)) % 9000


def render(
    style: str,
    when: datetime,
    record: tuple[str, str, str, str, str],
    user_id: int | None = 0,
) -> str:
    """One entry in ``style``; ``user_id`` None leaves the key out (older records)."""
    process, image, subsystem, category, message = record
    pid = _pid(process)
    micro = when.strftime("%Y-%m-%d %H:%M:%S.%f%z")
    if style == "default":
        return (
            f"{micro} 0x{pid * 7:<8x} Default     0x0                  {pid:<6} 0    "
            f"{process}: [{subsystem}:{category}] {message}\n"
        )
    if style == "compact":
        milli = when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return f"{milli} Df {process}[{pid}:{pid * 7:x}] [{subsystem}:{category}] {message}\n"
    if style == "syslog":
        return f"{micro}  localhost {process}[{pid}]: [{subsystem}:{category}] {message}\n"
    record_json = {
        "timezoneName": "",
        "messageType": "Default",
        "eventType": "logEvent",
        "source": None,
        "formatString": "%{public}s",
        "userID": 0,
        "activityIdentifier": 0,
        "subsystem": subsystem,
        "category": category,
        "threadID": pid * 7,
        "senderImageUUID": "72E310F7-1A63-3C21-926C-BEF6061890C0",
        "backtrace": {
            "frames": [{"imageOffset": 1764, "imageUUID": "72E310F7-1A63-3C21-926C-BEF6061890C0"}]
        },
        "bootUUID": "",
        "processImagePath": image,
        "senderImagePath": image,
        "timestamp": micro,
        "machTimestamp": 23247436516259,
        "eventMessage": message,
        "processImageUUID": "72E310F7-1A63-3C21-926C-BEF6061890C0",
        "traceID": 13353070231556,
        "processID": pid,
        "senderProgramCounter": 1764,
        "parentActivityIdentifier": 0,
    }
    if user_id is None:
        del record_json["userID"]
    else:
        record_json["userID"] = user_id
    if style == "ndjson":
        return json.dumps(record_json, separators=(",", ":")).replace("/", "\\/") + "\n"
    pretty = json.dumps(record_json, indent=2, separators=(",", " : ")).replace("/", "\\/")
    return pretty[1:-1].strip("\n") + "\n"  # the body; write() adds the brackets


STYLES = ("default", "compact", "syslog", "ndjson", "json")
TEXT_STYLES = ("default", "compact", "syslog")  # no process image path: unverified senders


def export_of(
    style: str, rows: list[tuple[datetime, tuple[str, str, str, str, str], int | None]]
) -> bytes:
    """A whole `log show` output in ``style`` of these (time, record, userID) rows, in
    time order, with the header or brackets that style has."""
    bodies = [render(style, when, record, uid) for when, record, uid in sorted(rows, key=_first)]
    if style == "json":
        return ("[{\n" + "},{\n".join(bodies) + "}]\n").encode()
    if style == "ndjson":
        return ("".join(bodies) + f'{{"count":{len(bodies)},"finished":1}}\n').encode()
    if style == "default":
        header = "Timestamp                       Thread     Type        Activity             "
        return (header + "PID    TTL  \n" + "".join(bodies)).encode()
    if style == "compact":
        return ("Timestamp               Ty Process[PID:TID]\n" + "".join(bodies)).encode()
    return ("Timestamp                       (process)[PID]\n" + "".join(bodies)).encode()


def _first(row: tuple[datetime, object, object]) -> datetime:
    return row[0]


def write_export(
    style: str,
    path: Path,
    size: int,
    seed: int = 7,
    mix: str = "chatter",
    days: float | None = None,
) -> int:
    """Write about ``size`` bytes of ``style`` output in one of the :data:`MIXES`;
    returns the byte count. Its entries come 1-40 ms apart, or, with ``days``, spread
    over that many days with a sleep or a wake of powerd's every :data:`POWER_EVERY`
    (an export of several days made with the documented predicate)."""
    progress = MIXES[mix]
    rng = random.Random(seed)
    when = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    step = _step(style, size, days, progress) if days else None
    power_at, asleep = when + POWER_EVERY, False
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        if style == "json":
            out.write("[{\n")
        first = True
        while written < size:
            chunk: list[str] = []
            for _ in range(2000):
                if step is None:
                    when += timedelta(milliseconds=rng.randint(1, 40))
                    record = choose(rng, progress)
                else:
                    when += step * rng.uniform(0, 2)
                    record = choose(rng, progress)
                    if when >= power_at:
                        asleep, power_at = not asleep, power_at + POWER_EVERY
                        record = POWER[0 if asleep else 1]
                line = render(style, when, record)
                if style == "json":
                    line = ("" if first else "},{\n") + line
                    first = False
                chunk.append(line)
            text = "".join(chunk)
            out.write(text)
            written += len(text)
        if style == "json":
            out.write("}]\n")
    return path.stat().st_size


def _step(style: str, size: int, days: float, progress: float) -> timedelta:
    """The mean time between entries for ``size`` bytes to span ``days``."""
    rng = random.Random(0)
    when = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    sample = [len(render(style, when, choose(rng, progress))) for _ in range(500)]
    lines = size / (sum(sample) / len(sample))
    return timedelta(days=days) / lines
