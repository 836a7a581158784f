"""The test toolkit: real fixtures, the two fakes, builders and shared constants.

Test modules import from here, never from one another; ``conftest.py`` only turns
some of these into pytest fixtures. Two fakes, for two depths of testing:

- :class:`FakeSystem` implements the System seam in memory and records every call; the
  library and the click layer are tested against it (no processes, fixed clock).
  :func:`fake_system` builds one whose log is a real update run.
- :class:`FakeMac` lays out a Mac in a temporary folder for ``--system-root``: stand-in
  ``/usr/bin/log`` and ``/usr/bin/profiles`` executables that record their arguments
  and print real output. The installed ``mdm-watchdog`` command runs against it
  (:func:`run_installed`, :func:`run_heal`).

Real fixture files are read when a test asks for them, never at import time, so a
missing file fails the tests that need it, each with the same clear message.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import mmap
import os
import plistlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

# the synthetic export builders live apart so the benchmark can use them without pytest
from tests.exports import CHATTER as CHATTER  # "as": mypy's explicit re-export
from tests.exports import COMMANDS as COMMANDS
from tests.exports import EXCHANGES as EXCHANGES
from tests.exports import render as render
from tests.exports import write_export as write_export
from tests.reference_reader import ReferenceReader
from watchdog_mdm.cli import cli
from watchdog_mdm.client_state import Circumstances
from watchdog_mdm.config import LOCAL_PREFERENCES, MANAGED_PREFERENCES, Settings, StuckRule
from watchdog_mdm.diagnose import HISTORY_PREDICATE, ROUTE, SYSCTL
from watchdog_mdm.enrollment import parse_profiles_status
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.evidence import Collector, Enrollment, Observations
from watchdog_mdm.heal import MDM_CLIENT, SOFTWARE_UPDATE
from watchdog_mdm.state import STATE_PATH
from watchdog_mdm.system import (
    CommandError,
    CommandResult,
    LockBusy,
    ProcessInfo,
    Second,
    SecondFailed,
    SecondWork,
)
from watchdog_mdm.verdicts import Diagnosis, judge

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
LOGS = FIXTURES / "logs"

# ------------------------------------------------------------------ real fixtures


def reference(name: str) -> Path:
    """A real fixture under tests/fixtures; its absence fails the test instead of skipping it."""
    path = FIXTURES / name
    if not path.exists():
        pytest.fail(f"test fixture missing: {path} (see tests/fixtures/SOURCES.md)")
    return path


def reference_lines(name: str, *needles: str) -> list[str]:
    """The lines of a reference file that contain every needle, verbatim."""
    text = reference(name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if all(n in line for n in needles)]


def reference_line(name: str, *needles: str) -> str:
    lines = reference_lines(name, *needles)
    assert lines, f"no line of {name} contains {needles}"
    return lines[0]


def log_blocks(name: str) -> dict[str, str]:
    """A reference file's blocks, keyed by their '# source:' line."""
    blocks: dict[str, str] = {}
    source = ""
    for line in reference(name).read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("# source:"):
            source = line
            blocks[source] = ""
        elif source and not line.startswith("#"):
            blocks[source] += line
    return blocks


# The whole logs, found when the tests are collected (a parametrisation needs them
# then); test_reference_logs checks each finds as many files as there are, so a
# missing folder fails instead of leaving a parametrised test with no cases.
def log_files() -> list[Path]:
    """Every whole log under tests/fixtures/logs."""
    return sorted(LOGS.glob("**/*.log"))


def run_folders() -> list[Path]:
    """Every folder of one update run's logs."""
    return sorted({p.parent for p in log_files()})


def mdm_logs() -> list[Path]:
    """The logs holding mdmclient's own lines: mdmCommand.log (compact), mdm.log (default)."""
    return [p for p in log_files() if p.name in ("mdmCommand.log", "mdm.log")]


def compact_mdm_logs() -> list[Path]:
    """The compact-style mdmCommand.log and mdmWorkflow.log of each run folder."""
    return sorted(LOGS.glob("*/*/mdm*.log"))


# Real macOS 12 mdmclient lines mapped by hand onto the ndjson keys (its header says how).
RECONSTRUCTED = "reconstructed_mdmclient.ndjson"
# A Jamf Pro MDM update run, compact style, macOS 12.3 -> 13.3.1 (super 45fdb21).
JAMF_RUN = LOGS / "super-45fdb21" / "12.3-to-13.3.1-Apple-Silicon-Jamf-Pro-MDM"


def run_lines() -> list[str]:
    """The lines of that run's mdmCommand.log."""
    return (JAMF_RUN / "mdmCommand.log").read_text().splitlines()


@functools.cache
def real_lines() -> list[str]:
    """Real lines of every style, mdmclient's and softwareupdated's, for tests that mix
    and cut them: fixture lines, the reconstructed ndjson, a whole default-style log."""
    return [
        *reference_lines("mdmclient_lines.txt", "mdmclient"),
        *[x for x in reference_lines(RECONSTRUCTED, "") if x.startswith("{")],
        *reference_lines("softwareupdated_lines.txt", "eported progress")[:40],
        *(LOGS / "super-ad1495a" / "mdm.log").read_text().splitlines(),
    ]


# The newest entry of the reconstructed run: a macOS 12 ScheduleOSUpdate, in ndjson.
LAST_ENTRY = datetime(2022, 8, 1, 12, 59, 36, 910717, tzinfo=timezone(timedelta(hours=-4)))
# What `log show --style ndjson` prints when nothing matched.
TRAILER = b'{"count":0,"finished":1}\n'
# The window of a quiet Mac: nothing from mdmclient, one of apsd's everyday courier lines
# (a Mac with push service always logs some). A window of nothing at all proves nothing.
QUIET_WINDOW = render("ndjson", LAST_ENTRY, CHATTER[5]).encode() + b'{"count":1,"finished":1}\n'


def reconstructed_lines(*, updates: bool = True) -> list[str]:
    """The reconstructed ndjson run, line by line (its '#' header included).

    Without ``updates`` its update commands are turned into another command: the same
    exchanges, stuck, with no update pending.
    """
    lines = reference_lines(RECONSTRUCTED, "")
    if updates:
        return lines
    return [x.replace("ScheduleOSUpdate)", "SecurityInfo)") for x in lines]


def reconstructed_export(*, updates: bool = True) -> bytes:
    """The reconstructed run as `log show` prints it."""
    return ("\n".join(reconstructed_lines(updates=updates)) + "\n").encode()


def reconstructed_record(*needles: str) -> dict[str, Any]:
    """The first mdmclient record of the reconstructed run whose message holds every
    needle."""
    records = (
        json.loads(x) for x in reconstructed_lines() if x.startswith("{") and "mdmclient" in x
    )
    return next(r for r in records if all(n in r["eventMessage"] for n in needles))


def ndjson_line(record: dict[str, Any], when: datetime, message: str | None = None) -> bytes:
    """A real ndjson record moved to ``when``, its message changed in plain sight."""
    changed = dict(record, timestamp=when.strftime("%Y-%m-%d %H:%M:%S.%f%z"))
    if message is not None:
        changed["eventMessage"] = message
    return json.dumps(changed).encode() + b"\n"


# ------------------------------------------------------------------ verdicts

WINDOW = timedelta(minutes=90)
HISTORY = timedelta(hours=24)
ENROLLMENT = parse_profiles_status("Enrolled via DEP: Yes\nMDM enrollment: Yes (User Approved)\n")
NO_ENROLLMENT = parse_profiles_status("Enrolled via DEP: No\nMDM enrollment: No\n")


def entries(lines: list[str]) -> list[LogEntry]:
    return list(ReferenceReader().read(lines))


def observe(lines: list[str], until: datetime | None = None) -> Observations:
    return Collector(until=until).add_all(entries(lines)).observations()


def quiet_rule(window: timedelta = WINDOW) -> Settings:
    """The original's rule (StuckRule quiet), with this window and the default history."""
    return Settings(window=window, history=HISTORY, stuck_rule=StuckRule.QUIET)


QUIET_RULE = quiet_rule()


def diagnose(
    lines: list[str],
    at: datetime,
    enrollment: Enrollment = ENROLLMENT,
    settings: Settings = QUIET_RULE,
    circumstances: Circumstances | None = None,
) -> Diagnosis:
    """The verdicts on these lines at ``at``: by the original's rule unless told."""
    return judge(observe(lines, until=at), at, settings, enrollment, circumstances)


# ------------------------------------------------------------------ moving real lines in time

_LEADING_TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d{4})?")
_JSON_TS = re.compile(r'("timestamp"\s*:\s*")([^"]+)(")')


def _shift(text: str, offset: str | None, delta: timedelta) -> str:
    fraction = len(text.rpartition(".")[2]) if "." in text else 0
    value = datetime.fromisoformat(text + (offset or "")) + delta
    body = value.strftime("%Y-%m-%d %H:%M:%S")
    if fraction:
        body += "." + f"{value.microsecond:06d}"[:fraction]
    return body + (offset or "")


def rebase(lines: Sequence[str], newest: datetime) -> list[str]:
    """Shift real lines in time, keeping their spacing, so the newest is at ``newest``.

    Only the timestamps change; the rest of each line stays byte-for-byte real.
    Timestamps without an offset are taken as UTC.
    """
    stamps = [e.timestamp for e in ReferenceReader().read(lines)]
    assert stamps, "nothing to rebase"
    delta = newest - max(stamps)
    out = []
    for line in lines:
        if line.lstrip().startswith("{") or '"timestamp"' in line:
            out.append(
                _JSON_TS.sub(lambda m: m[1] + _shift(m[2][:-5], m[2][-5:], delta) + m[3], line)
            )
            continue
        match = _LEADING_TS.match(line)
        if match is None:
            out.append(line)
            continue
        out.append(_shift(match[1], match[2], delta) + line[match.end() :])
    return out


def export(lines: Sequence[str], hours_ago: float) -> bytes:
    """Real lines as `log show` prints them, the newest ``hours_ago`` before the real now
    (the installed command reads the real clock)."""
    newest = datetime.now().astimezone() - timedelta(hours=hours_ago)
    return ("\n".join(rebase(lines, newest)) + "\n").encode()


# ------------------------------------------------------------------ the recording fake System


@dataclass
class Reply:
    stdout: bytes = b""
    returncode: int = 0
    stderr: bytes = b""
    error: str | None = None  # raise CommandError with this message (missing, timeout)


# `log show`'s arguments for the 24-hour history, as a stuck Mac's second query asks them
HISTORY_QUERY = (
    "show",
    "--style",
    "ndjson",
    "--last",
    "1440m",
    "--predicate",
    HISTORY_PREDICATE,
)

LAUNCHD_LABELS = {
    "system/com.apple.mdmclient.daemon": "/usr/libexec/mdmclient",
    "system/com.apple.softwareupdated": (
        "/System/Library/CoreServices/Software Update.app/Contents/Resources/softwareupdated"
    ),
}


@dataclass
class FakeSystem:
    """The System seam in memory: a fixed clock, canned command replies, a call record.

    It also plays launchd: daemons in ``procs`` are restarted with a fresh pid when
    `launchctl kickstart -k` is answered with status 0, and relaunched after a signal
    (unless ``relaunch`` is off). ``sleep`` only advances the clock.
    """

    clock: datetime = datetime(2023, 5, 4, 5, 30, tzinfo=UTC)
    replies: dict[str, list[Reply]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    timeouts: list[tuple[str, float]] = field(default_factory=list)  # command, time limit
    system_log: list[str] = field(default_factory=list)
    system_details: list[str] = field(default_factory=list)  # the info level
    commands: set[str] = field(default_factory=lambda: {"/usr/bin/log", "/usr/bin/profiles"})
    procs: dict[str, list[ProcessInfo]] = field(default_factory=dict)
    signals: list[tuple[int, int]] = field(default_factory=list)
    relaunch: bool = True
    # read_export's windows (its chunks are lines), and whether a second process can run;
    # how many of the pieces of work shared out with it it takes at most (None: all it
    # can), the rest left for this process to take
    window: int = 4096
    second_process: bool = True
    second_takes: int | None = None
    unwritable: bool = False
    write_error: OSError | None = None
    locked: bool = False
    signal_error: OSError | None = None
    writes: list[str] = field(default_factory=list)
    exports: dict[str, bytes] = field(default_factory=dict)  # files written where the user said
    untrusted: set[str] = field(default_factory=set)  # files others could have written
    events: list[str] = field(default_factory=list)  # commands and writes, in order
    # Files opened by name (the history database) live on a real disk: under ``disk``,
    # by default a temporary folder made when first needed and removed with the fake.
    disk: Path | None = None
    private_file_error: OSError | None = None
    _pids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    _temporary: tempfile.TemporaryDirectory[str] | None = None

    def start(self, executable: str, uid: int = 0) -> ProcessInfo:
        process = ProcessInfo(next(self._pids), uid, uid, self.clock.timestamp())
        self.procs.setdefault(executable, []).append(process)
        return process

    def _restart_root_daemon(self, executable: str) -> None:
        self.procs[executable] = [p for p in self.procs.get(executable, []) if p.uid != 0]
        self.start(executable)

    def reply(self, command: str, *replies: Reply) -> FakeSystem:
        self.replies.setdefault(command, []).extend(replies)
        return self

    def _next(self, argv: Sequence[str], timeout: float) -> Reply:
        # The real seam refuses relative commands; every caller must give a full path.
        assert argv[0].startswith("/"), f"command without an absolute path: {argv}"
        self.calls.append(tuple(argv))
        self.timeouts.append((argv[0], timeout))
        self.events.append(" ".join(argv))
        queue = self.replies.get(argv[0], [])
        reply = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else Reply())
        if reply.error is not None:
            raise CommandError(reply.error)
        return reply

    def now(self) -> datetime:
        return self.clock

    def local_time(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.clock.tzinfo)

    def has_command(self, path: str) -> bool:
        return path in self.commands

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        reply = self._next(argv, timeout)
        if tuple(argv[:3]) == ("/bin/launchctl", "kickstart", "-k") and reply.returncode == 0:
            self._restart_root_daemon(LAUNCHD_LABELS[argv[3]])
        return CommandResult(reply.returncode, reply.stdout, reply.stderr)

    def stream(self, argv: Sequence[str], *, timeout: float) -> Iterator[mmap.mmap]:
        reply = self._next(argv, timeout)
        yield from _valid_until_the_next(reply.stdout.splitlines(keepends=True))
        if reply.returncode != 0:
            raise CommandError(f"{argv[0]} exited with status {reply.returncode}")

    def read_bytes(self, path: str) -> bytes | None:
        self.events.append(f"read {path}")
        return self.files.get(path)

    def read_trusted(self, path: str) -> bytes | None:
        if path in self.untrusted:
            raise PermissionError(1, "not root's or writable by others (owner 501, mode 666)")
        return self.files.get(path)

    def log_to_system(self, message: str, *, detail: bool = False) -> None:
        (self.system_details if detail else self.system_log).append(message)

    def write_file(self, path: str, data: bytes) -> None:
        if self.write_error is not None:
            raise self.write_error
        if self.unwritable:
            raise PermissionError(13, "Read-only file system")
        self.files[path] = data
        self.writes.append(path)
        self.events.append(f"write {path}")

    def move_aside(self, path: str, suffix: str) -> str:
        if path in self.files:
            self.files[path + suffix] = self.files.pop(path)
        else:  # a file on the disk (the history), or none: FileNotFoundError
            self.on_disk(path).rename(self.on_disk(path + suffix))
        return path + suffix

    def on_disk(self, path: str) -> Path:
        """Where a macOS path opened by name lives on this fake's disk."""
        if self.disk is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="fake-mac-")
            self.disk = Path(self._temporary.name)
        return self.disk / path.lstrip("/")

    def private_file(self, path: str, *, create: bool) -> str | None:
        if self.private_file_error is not None:
            raise self.private_file_error
        target = self.on_disk(path)
        if not create:
            return str(target) if target.exists() else None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(0o600)
        return str(target)

    @contextlib.contextmanager
    def exclusive_lock(self, path: str, wait_seconds: float) -> Iterator[None]:
        if self.locked:
            raise LockBusy(path)
        self.locked = True
        try:
            yield
        finally:
            self.locked = False

    def processes(self, executable: str) -> list[ProcessInfo]:
        return list(self.procs.get(executable, []))

    def send_signal(self, process: ProcessInfo, signum: int) -> None:
        if self.signal_error is not None:
            raise self.signal_error
        self.signals.append((process.pid, signum))
        for executable, running in self.procs.items():
            if process in running:
                running.remove(process)
                if self.relaunch:
                    self.start(executable)

    def sleep(self, seconds: float) -> None:
        self.clock += timedelta(seconds=seconds)

    def read_export(self, path: str, start: int = 0, end: int | None = None) -> Iterator[mmap.mmap]:
        # User-named exports are real files in the tests; "-" is CliRunner's input.
        bounds = (str(start),) if start or end is not None else ()
        self.calls.append(("read_export", path, *bounds, *(() if end is None else (str(end),))))
        if path == "-":
            yield from _valid_until_the_next(sys.stdin.buffer)
            return
        with Path(path).open("rb") as handle:
            handle.seek(start)
            lines: Iterable[bytes] = handle
            if end is not None:
                lines = _up_to(handle, end - start)
            yield from _valid_until_the_next(lines)

    @property
    def export_window(self) -> int:
        return self.window

    def in_second_process(self, work: SecondWork, pieces: int) -> Second | None:
        """The work done at once, in this process (None: as if on one processor)."""
        self.calls.append(("in_second_process", str(pieces)))
        if not self.second_process:
            return None
        return DoneAtOnce(work, pieces, self.second_takes)

    @contextlib.contextmanager
    def map_export(self, path: str) -> Iterator[mmap.mmap | None]:
        self.calls.append(("map_export", path))
        if path == "-" or not Path(path).is_file() or Path(path).stat().st_size == 0:
            yield None
            return
        with Path(path).open("rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        with mapped:
            yield mapped

    def export_files(self, folder: str) -> list[str] | None:
        if folder == "-" or not Path(folder).is_dir():
            return None
        return sorted(
            str(p) for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")
        )

    def write_export(self, path: str, data: bytes) -> None:
        # User-named outputs are kept in memory, apart from the Mac's own files.
        if self.write_error is not None:
            raise self.write_error
        self.exports[path] = data
        self.events.append(f"write_export {path}")

    def calls_to(self, command: str) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] == command]


def _up_to(handle: Iterable[bytes], left: int) -> Iterator[bytes]:
    """The lines of ``handle``, up to ``left`` bytes (the last cut there)."""
    for line in handle:
        if left <= 0:
            return
        yield line[:left]
        left -= len(line)


class DoneAtOnce:
    """Second-process work, done in this process when asked for: what it hands on,
    kept in memory; its output raises SecondFailed when it raised. It takes the pieces
    of work from the first on, up to ``takes`` of them (None: all); the first process
    then takes the rest, from the last back."""

    def __init__(self, work: SecondWork, pieces: int, takes: int | None) -> None:
        self.pieces: list[bytes] = []
        self.failed = False
        self._given = 0  # the pieces handed on that were given (handed_on, output)
        self._next, self._end = 0, pieces  # pieces left: from _next to before _end
        self._takes = pieces if takes is None else takes
        try:
            work(self.pieces.append, self._take_first)
        except Exception:  # as the second process would end with status 1, taking all
            self.failed = True
            self._next = self._end

    def _take_first(self) -> int | None:
        if self._next >= min(self._end, self._takes):
            return None
        self._next += 1
        return self._next - 1

    def take_last(self) -> int | None:
        if self._next >= self._end:
            return None
        self._end -= 1
        return self._end

    def handed_on(self) -> Iterator[bytes]:
        while self._given < len(self.pieces):
            self._given += 1
            yield self.pieces[self._given - 1]

    def output(self) -> Generator[bytes, None, None]:
        yield from self.handed_on()
        if self.failed:
            raise SecondFailed("the work raised")

    def cancel(self) -> None:
        self.pieces.clear()
        self._given = 0


def _valid_until_the_next(chunks: Iterable[bytes]) -> Iterator[mmap.mmap]:
    """Each chunk in a memory map closed when the next is asked for, as the real seam's
    may be (System.stream, System.read_export): a consumer that keeps one gets
    ValueError from it."""
    for chunk in chunks:
        if chunk:
            with mmap.mmap(-1, len(chunk)) as window:
                window.write(chunk)
                yield window


ENROLLED = b"Enrolled via DEP: Yes\nMDM enrollment: Yes (User Approved)\nMDM server: https://applemdm.example.com/some/path?foo=bar\n"
NOT_ENROLLED = b"Enrolled via DEP: No\nMDM enrollment: No\n"  # public Swift fixture, verbatim
SIP_REFUSAL = b"Could not kickstart service: 150: Operation not permitted while System Integrity Protection is engaged\n"  # noqa: E501 - verbatim, profiles_status.txt

LAUNCHCTL = "/bin/launchctl"
KICK_MDM = (LAUNCHCTL, "kickstart", "-k", "system/com.apple.mdmclient.daemon")
KICK_SU = (LAUNCHCTL, "kickstart", "-k", "system/com.apple.softwareupdated")
SU_SEQUENCE = [
    ("/usr/bin/dscacheutil", "-flushcache"),
    ("/usr/bin/killall", "-HUP", "mDNSResponder"),
    ("/usr/bin/pkill", "BrainService"),
    KICK_SU,
]
RFC3339_MICRO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d")


def quiet(system: FakeSystem, history: bytes | None = None) -> None:
    """The next run finds an empty window and this history (by default the reconstructed
    run with no update pending)."""
    if history is None:
        history = reconstructed_export(updates=False)
    system.replies["/usr/bin/log"] = [Reply(QUIET_WINDOW), Reply(history)]
    system.calls.clear()


def fake_system(
    *,
    stuck: bool = True,
    updates: bool = True,
    enrolled: bytes = ENROLLED,
    hours_quiet: float = 3,
    rule: str = "quiet",
) -> FakeSystem:
    """A Mac whose log is the reconstructed macOS 12 ScheduleOSUpdate run, judged
    ``hours_quiet`` later when stuck (ten minutes later when not), with both daemons
    running. Its StuckRule is the original's ("quiet"), by which three quiet hours are
    stuck: the rule the tests of healing and output were written for."""
    system = FakeSystem(
        clock=LAST_ENTRY + (timedelta(hours=hours_quiet) if stuck else timedelta(minutes=10))
    )
    prefs(system, LOCAL_PREFERENCES, StuckRule=rule)
    system.reply("/usr/bin/profiles", Reply(enrolled))
    if stuck:
        quiet(system, reconstructed_export(updates=updates))
    else:
        system.reply("/usr/bin/log", Reply(reconstructed_export()))
    system.start(MDM_CLIENT.executable)
    system.start(SOFTWARE_UPDATE.executable)
    return system


def heal(system: FakeSystem, *args: str) -> Result:
    """`mdm-watchdog -heal`, through the click layer, on the fake System."""
    return CliRunner().invoke(cli, ["-heal", *args], obj=system)


EVIDENCE_COMMANDS = ("/usr/bin/log", "/usr/bin/profiles", SYSCTL, ROUTE)


def actions(system: FakeSystem) -> list[tuple[str, ...]]:
    """Everything run except the evidence gathering."""
    return [c for c in system.calls if c[0] not in EVIDENCE_COMMANDS]


# ------------------------------------------------------------------ the fake Mac

# A stand-in for a macOS command: records its argv (one file per call, NUL-separated)
# and a line in a journal shared by all stand-ins (to check the order of commands),
# prints the canned output for that call number (or the default), exits as told.
# As launchctl, an accepted `kickstart -k system/LABEL` kills the daemon's process,
# which the fake launchd then starts again: what the real one does.
STAND_IN = r"""#!/bin/sh
name=$(basename "$0")
root=$(cd "$(dirname "$0")" && while [ ! -d .fake ] && [ "$(pwd)" != / ]; do cd ..; done; pwd)
state="$root/.fake/$name"
mkdir -p "$state"
n=$(( $(cat "$state/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$state/count"
for arg in "$@"; do printf '%s\0' "$arg"; done > "$state/args.$n"
echo "$name $*" >> "$root/.fake/journal"
[ -f "$state/sleep" ] && sleep "$(cat "$state/sleep")"
# a crash of the caller at this very step: "SIGNAL CALL" kills the program that ran us
# with SIGNAL during call number CALL of this command (or every call without one)
if [ -f "$state/kill-caller" ]; then
  read -r sig at < "$state/kill-caller"
  if [ -z "$at" ] || [ "$at" = "$n" ]; then kill "-$sig" "$PPID"; sleep 1; fi
fi
out="$state/stdout.$n"; [ -f "$out" ] || out="$state/stdout"
[ -f "$out" ] && cat "$out"
[ -f "$state/stderr" ] && cat "$state/stderr" >&2
rc=$(cat "$state/rc" 2>/dev/null || echo 0)
if [ "$name" = launchctl ] && [ "$rc" = 0 ] && [ "$1" = kickstart ]; then
  label=${3#system/}
  [ -f "$root/.fake/launchd/$label.pid" ] && kill "$(cat "$root/.fake/launchd/$label.pid")"
fi
exit "$rc"
"""
REMEDIATION_TOOLS = (LAUNCHCTL, "/usr/bin/dscacheutil", "/usr/bin/killall", "/usr/bin/pkill")


@dataclass
class FakeMac:
    """A Mac laid out under ``root`` for ``--system-root``."""

    root: Path

    def __post_init__(self) -> None:
        (self.root / ".fake").mkdir(exist_ok=True)

    def journal(self) -> list[str]:
        """Every stand-in command run, in order: "launchctl kickstart -k system/…"."""
        path = self.root / ".fake" / "journal"
        return path.read_text().splitlines() if path.exists() else []

    def install(
        self,
        path: str,
        stdout: bytes | Sequence[bytes] = b"",
        *,
        rc: int = 0,
        stderr: bytes = b"",
        sleep: float | None = None,
    ) -> None:
        executable = self.root / path.lstrip("/")
        executable.parent.mkdir(parents=True, exist_ok=True)
        executable.write_text(STAND_IN)
        executable.chmod(0o755)
        state = self.root / ".fake" / executable.name
        state.mkdir(parents=True, exist_ok=True)
        if isinstance(stdout, bytes):
            (state / "stdout").write_bytes(stdout)
        else:
            for n, chunk in enumerate(stdout, start=1):
                (state / f"stdout.{n}").write_bytes(chunk)
        (state / "rc").write_text(str(rc))
        if stderr:
            (state / "stderr").write_bytes(stderr)
        if sleep is not None:
            (state / "sleep").write_text(str(sleep))

    def calls(self, name: str) -> list[list[str]]:
        state = self.root / ".fake" / name
        count = int((state / "count").read_text()) if (state / "count").exists() else 0
        return [
            (state / f"args.{n}").read_bytes().decode().split("\0")[:-1]
            for n in range(1, count + 1)
        ]

    def write(self, path: str, data: bytes) -> Path:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target


def journal_line(argv: Sequence[str]) -> str:
    """How a stand-in records a command in the fake Mac's journal."""
    return " ".join([Path(argv[0]).name, *argv[1:]])


def remediation(mac: FakeMac) -> list[str]:
    """Every command run on the fake Mac except the evidence gathering."""
    return [x for x in mac.journal() if not x.startswith(("log ", "profiles "))]


def kicks(mac: FakeMac) -> list[str]:
    return [x for x in mac.journal() if x.startswith("launchctl kickstart")]


SLEEP = "/bin/sleep" if Path("/bin/sleep").exists() else "/usr/bin/sleep"


class FakeLaunchd:
    """Keeps real daemon processes running in a fake Mac, as launchd would.

    Each daemon is a copy of ``sleep`` at its real macOS path under the root, started as
    root; when it dies (kickstart, signal), it is started again with a new pid.
    """

    def __init__(self, mac: FakeMac) -> None:
        self.mac = mac
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.paths: dict[str, Path] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)
        (mac.root / ".fake" / "launchd").mkdir(parents=True, exist_ok=True)

    def add(self, label: str, executable: str) -> None:
        path = self.mac.root / executable.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SLEEP, path)
        self.paths[label] = path
        self._spawn(label)

    def _spawn(self, label: str) -> None:
        process = subprocess.Popen([str(self.paths[label]), "3600"])
        self.running[label] = process
        (self.mac.root / ".fake" / "launchd" / f"{label}.pid").write_text(str(process.pid))

    def pid(self, label: str) -> int:
        return self.running[label].pid

    def _supervise(self) -> None:
        while not self._stop.wait(0.02):
            for label, process in list(self.running.items()):
                if process.poll() is not None:
                    self._spawn(label)

    def __enter__(self) -> FakeLaunchd:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for process in self.running.values():
            process.kill()
            process.wait()


def installed_command() -> str:
    """The ``mdm-watchdog`` command pip installed in the environment running the tests."""
    script = Path(sys.executable).parent / "mdm-watchdog"
    if not script.exists():
        pytest.fail(f"{script} is missing: install the project (pip install -e '.[test]')")
    return str(script)


def run_installed(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command as an admin would; never through the library."""
    return subprocess.run(
        [installed_command(), *args],
        input=None if stdin is None else stdin.decode(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def run_heal(mac: FakeMac, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `mdm-watchdog -heal` on the fake Mac."""
    return run_installed("-heal", "--system-root", str(mac.root), *args)


# ------------------------------------------------------------------ on either fake


def prefs(target: FakeSystem | FakeMac, path: str = MANAGED_PREFERENCES, **values: object) -> None:
    """Set ``values`` in a preferences file (by default the managed one), keeping the
    keys it holds."""
    if isinstance(target, FakeSystem):
        old = target.files.get(path)
    else:
        file = target.root / path.lstrip("/")
        old = file.read_bytes() if file.exists() else None
    kept = plistlib.loads(old) if old else {}
    data = plistlib.dumps({**kept, **values})
    if isinstance(target, FakeSystem):
        target.files[path] = data
    else:
        target.write(path, data)


def saved_state(target: FakeSystem | FakeMac) -> dict[str, Any]:
    """The state file a heal run saved."""
    if isinstance(target, FakeSystem):
        data = target.files[STATE_PATH]
    else:
        data = (target.root / STATE_PATH.lstrip("/")).read_bytes()
    document: dict[str, Any] = json.loads(data)
    return document


def python_in_zone(zone: str, code: str) -> subprocess.CompletedProcess[str]:
    """Python code run in a fresh process whose TZ is ``zone``: how the real seam reads
    wall-clock times depends on the process's zone, which a test must not change."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TZ": zone},
        capture_output=True,
        text=True,
        check=False,
    )


def extension_attribute(
    name: str, mac: FakeMac | None, tool: str | None = None, tz: str | None = None
) -> str:
    """What Jamf Pro would store: a docs/jamf/ea-NAME.sh script's output, which must exit
    0 and say nothing on standard error."""
    env = {"PATH": os.environ["PATH"], "MDM_WATCHDOG": tool or installed_command()}
    if tz is not None:
        env["TZ"] = tz
    if mac is not None:
        env["MDM_WATCHDOG_ROOT"] = str(mac.root)
    done = subprocess.run(
        ["/bin/sh", str(REPO / "docs" / "jamf" / f"ea-{name}.sh")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0
    assert done.stderr == ""
    return done.stdout
