"""Where the installed command's words go, facing faults: standard output that cannot be
written (a full device, a closed pipe), and the system log Watchman reads.

Each run here is the installed command on the fake Mac, with a stand-in for the
standard library's syslog module first on its path: it records every line and its level
(constants by name), and the host's own log is never written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

from tests.support import (
    REPO,
    FakeMac,
    installed_command,
    prefs,
    saved_state,
)
from tests.test_client_state import CONNECT, mdm
from tests.test_installed_states import IDLE, MINUTE, fake_live_mac, kicks
from watchdog_mdm.system import without_url_secrets

SYSLOG_STAND_IN = """
import json, os
LOG_PID, LOG_DAEMON, LOG_NOTICE, LOG_INFO = "LOG_PID", "LOG_DAEMON", "LOG_NOTICE", "LOG_INFO"
def openlog(*args): pass
def closelog(): pass
def syslog(priority, message):
    with open(os.environ["SYSLOG_CALLS"], "a") as calls:
        calls.write(json.dumps([priority, message]) + "\\n")
"""

SECRET = "tok3n-S3CRET"
# The MDM server's URL, as mdmclient names it when it connects (tests/test_client_state
# has the real line, host redacted), with a token in its query string as some servers
# put there.
SERVER = f"https://mdm.example.com/mdm/connect?token={SECRET}&udid=1"
CONNECT_WITH_TOKEN = CONNECT.replace("https://<host>/...", SERVER)
STUCK = [*IDLE, (30 * MINUTE, mdm(CONNECT_WITH_TOKEN, "MDMDaemon"))]

RESULT_KEYS = (
    "MDMEnrolled",
    "MDMIdentityError",
    "MDMClientStuck",
    "MDMSoftwareUpdatesStuck",
    "MDMClientRestarted",
    "SoftwareUpdateDaemonRestarted",
    "LastMDMKickstart",
    "LastSoftwareUpdateDaemonKickstart",
)
OUTPUT_LOST = (
    "mdm-watchdog: error: could not write the output: {}; what the run did stands "
    "(a -heal run is recorded in state.json)\n"
)
FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here (Linux has it)")


class Logged:
    """The installed command, run with the syslog stand-in; what it logged, by level."""

    def __init__(self, mac: FakeMac) -> None:
        self.mac = mac
        self.folder = mac.root.parent / "syslog-stand-in"
        self.folder.mkdir(exist_ok=True)
        (self.folder / "syslog.py").write_text(SYSLOG_STAND_IN)
        self.calls = self.folder / "calls"

    def run(
        self,
        *args: str,
        stdout: int | IO[Any] = subprocess.PIPE,
        stderr: int | IO[Any] = subprocess.PIPE,
    ) -> subprocess.CompletedProcess[str]:
        self.calls.unlink(missing_ok=True)
        return subprocess.run(
            [installed_command(), "--system-root", str(self.mac.root), *args],
            stdout=stdout,
            stderr=stderr,
            text=True,
            timeout=120,
            check=False,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(self.folder), "SYSLOG_CALLS": str(self.calls)},
        )

    def run_with_stdout_closed(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The command started as by ``mdm-watchdog … >&-``: no standard output at all."""
        self.calls.unlink(missing_ok=True)
        return subprocess.run(
            [
                "/bin/sh",
                "-c",
                'exec "$@" >&-',
                "sh",
                installed_command(),
                "--system-root",
                str(self.mac.root),
                *args,
            ],
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(self.folder), "SYSLOG_CALLS": str(self.calls)},
        )

    def lines(self, level: str) -> list[str]:
        """The lines written at a level: LOG_NOTICE is the unified log's default level,
        LOG_INFO its info level."""
        if not self.calls.exists():
            return []
        calls = [json.loads(x) for x in self.calls.read_text().splitlines()]
        return [message for priority, message in calls if priority == level]

    def everything(self) -> str:
        return self.calls.read_text() if self.calls.exists() else ""


@pytest.fixture
def logged(fake_mac: FakeMac) -> Logged:
    return Logged(fake_mac)


# ------------------------------------------------------------------ the system log


def test_a_heal_writes_its_result_line_at_the_default_level_and_its_restart_as_a_detail(
    fake_mac: FakeMac, logged: Logged
) -> None:
    fake_live_mac(fake_mac, STUCK)
    done = logged.run("-heal", "--explain")
    assert done.returncode == 0, done.stderr
    result_line = done.stdout.splitlines()[0]
    assert logged.lines("LOG_NOTICE") == [result_line]
    assert re.findall(r"(\w+): ", result_line) == list(RESULT_KEYS)
    assert "MDMClientRestarted: true" in result_line
    (restart,) = logged.lines("LOG_INFO")
    assert restart.startswith("mdmclient: restarted by ")
    # the admin is shown the evidence, server and all; the system log never is
    assert SECRET in done.stdout
    assert SECRET not in logged.everything()


@pytest.mark.parametrize("command", ["-heal", "-diagnose"])
def test_a_quiet_run_writes_one_line_and_nothing_else(
    fake_mac: FakeMac, logged: Logged, command: str
) -> None:
    fake_live_mac(fake_mac, IDLE)
    done = logged.run(command)
    assert done.returncode == 0, done.stderr
    assert logged.lines("LOG_NOTICE") == [done.stdout.splitlines()[0]]
    assert logged.lines("LOG_INFO") == []


def test_warnings_and_errors_are_details_and_urls_lose_their_query_strings(
    fake_mac: FakeMac, logged: Logged
) -> None:
    fake_live_mac(fake_mac, STUCK)
    prefs(fake_mac, StuckRule=SERVER)
    fake_mac.install("/usr/bin/log", rc=1, stderr=f"log: cannot fetch {SERVER}\n".encode())
    done = logged.run("-heal")
    assert done.returncode == 3
    assert logged.lines("LOG_NOTICE") == []  # the run ended before any result
    assert logged.lines("LOG_INFO") == [
        "warning: /Library/Managed Preferences/com.github.mdm-watchdog.plist: StuckRule must "
        "be one of evidence, quiet, not 'https://mdm.example.com/mdm/connect'; ignored",
        "error: could not read the unified log: /usr/bin/log exited with status 1: log: cannot "
        "fetch https://mdm.example.com/mdm/connect; nothing was restarted",
    ]
    assert SECRET in done.stderr  # the admin sees what was wrong
    assert SECRET not in logged.everything()
    assert kicks(fake_mac) == []


@pytest.mark.parametrize(
    ("text", "logged"),
    [
        (f"for: {SERVER}", "for: https://mdm.example.com/mdm/connect"),
        (f"'{SERVER}'; ignored", "'https://mdm.example.com/mdm/connect'; ignored"),
        ("https://admin:hunter2@mdm.example.com/x#t=1.", "https://mdm.example.com/x."),
        ("https://h/p?a=1;token=SECRET; next", "https://h/p; next"),
        ("no URL ?a=b", "no URL ?a=b"),
    ],
)
def test_urls_keep_their_host_and_path_only(text: str, logged: str) -> None:
    assert without_url_secrets(text) == logged


@pytest.mark.parametrize(
    ("text", "logged"),
    [
        # a password with a raw "@" in it: all of it goes, up to the host's "@"
        ("get https://user:p@ss@host.example.com/x now", "get https://host.example.com/x now"),
        ("https://u:p@ss@h", "https://h"),
        ("https://u:p#ss@h/x", "https://h/x"),
        # a session in the path's parameters, as Java servers put it
        ("https://h/app;jsessionid=0123ABCD?x=1 end", "https://h/app end"),
        ("https://h/app;jsessionid=0123ABCD", "https://h/app"),
        ("(https://h/a;s=1/b)", "(https://h/a)"),
    ],
)
def test_credentials_and_path_parameters_go_whole(text: str, logged: str) -> None:
    assert without_url_secrets(text) == logged


# A run (interpreter start-up included) takes a fraction of a second on these; a search
# that is quadratic in the line's length takes minutes, so the timeout only ends a hung run.
HANG_GUARD_SECONDS = 60


@pytest.mark.parametrize(
    "line",
    [
        "'a.' * 100_000",  # a scheme's characters with no "://" after them
        "'a://' * 50_000",
        "'a://@' * 40_000",
        "'https://h?' + ';' * 200_000",
        "'https://' + 'u@' * 100_000",
    ],
)
def test_a_long_line_is_redacted_in_one_pass(line: str) -> None:
    probe = (
        "from watchdog_mdm.system import without_url_secrets\n"
        f"text = {line}\n"
        "print(len(text), len(without_url_secrets(text)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=HANG_GUARD_SECONDS,
        cwd=REPO,
    )
    length, redacted = map(int, done.stdout.split())
    assert length >= 200_000
    assert 0 < redacted <= length


# ------------------------------------------------------------------ output that cannot be written


@needs_dev_full
def test_a_heal_whose_output_cannot_be_written_is_recorded_logged_and_exits_6(
    fake_mac: FakeMac, logged: Logged
) -> None:
    fake_live_mac(fake_mac, STUCK)
    with FULL.open("w") as full:
        done = logged.run("-heal", stdout=full)
    assert done.returncode == 6
    assert done.stderr == OUTPUT_LOST.format("No space left on device")
    assert kicks(fake_mac) == [["kickstart", "-k", "system/com.apple.mdmclient.daemon"]]
    state = saved_state(fake_mac)
    assert not state["last_mdm_kickstart"].startswith("0001-01-01")
    assert state["last_run"]["result"]["MDMClientRestarted"] is True
    (result_line,) = logged.lines("LOG_NOTICE")
    assert "MDMClientRestarted: true" in result_line


# One of each kind of command: healing, reporting, reading the state, the settings, an
# export, and the one answered without the command line
EVERY_COMMAND = [
    ["-heal", "--json"],
    ["-diagnose"],
    ["status"],
    ["config"],
    ["analyze", str(REPO / "tests/fixtures/logs/super-ad1495a/mdm.log")],
    ["-version"],
]
EVERY_COMMAND_ID = ["-heal --json", "-diagnose", "status", "config", "analyze", "-version"]


@needs_dev_full
@pytest.mark.parametrize(
    "args",
    EVERY_COMMAND,
    ids=EVERY_COMMAND_ID,
)
def test_every_command_with_its_output_on_a_full_device_says_so_in_one_line_and_exits_6(
    fake_mac: FakeMac, logged: Logged, args: list[str]
) -> None:
    fake_live_mac(fake_mac, IDLE)
    with FULL.open("w") as full:
        done = logged.run(*args, stdout=full)
    assert (done.returncode, done.stderr) == (6, OUTPUT_LOST.format("No space left on device"))


@needs_dev_full
def test_a_status_the_run_chose_stands_when_its_output_is_lost_too(
    fake_mac: FakeMac, logged: Logged
) -> None:
    fake_live_mac(fake_mac, [])
    fake_mac.install("/usr/bin/log", b"")
    with FULL.open("w") as full:
        done = logged.run("-heal", stdout=full)
    assert done.returncode == 3
    error, lost = done.stderr.splitlines(keepends=True)
    assert error.startswith("mdm-watchdog: error: the unified log could not be read as evidence")
    assert lost == OUTPUT_LOST.format("No space left on device")


@needs_dev_full
def test_with_nowhere_to_say_anything_the_run_still_counts_and_exits_6(
    fake_mac: FakeMac, logged: Logged
) -> None:
    fake_live_mac(fake_mac, STUCK)
    with FULL.open("w") as full:
        done = logged.run("-heal", stdout=full, stderr=full)
    assert done.returncode == 6
    assert saved_state(fake_mac)["last_run"]["result"]["MDMClientRestarted"] is True
    assert len(logged.lines("LOG_NOTICE")) == 1


@pytest.mark.parametrize(
    "args",
    EVERY_COMMAND,
    ids=EVERY_COMMAND_ID,
)
def test_every_command_started_with_standard_output_closed_says_so_and_exits_6(
    fake_mac: FakeMac, logged: Logged, args: list[str]
) -> None:
    fake_live_mac(fake_mac, IDLE)
    done = logged.run_with_stdout_closed(*args)
    assert (done.returncode, done.stderr) == (6, OUTPUT_LOST.format("Bad file descriptor"))


def test_a_heal_started_with_standard_output_closed_still_heals_and_is_recorded(
    fake_mac: FakeMac, logged: Logged
) -> None:
    fake_live_mac(fake_mac, STUCK)
    done = logged.run_with_stdout_closed("-heal")
    assert (done.returncode, done.stderr) == (6, OUTPUT_LOST.format("Bad file descriptor"))
    assert kicks(fake_mac) == [["kickstart", "-k", "system/com.apple.mdmclient.daemon"]]
    assert saved_state(fake_mac)["last_run"]["result"]["MDMClientRestarted"] is True
    (result_line,) = logged.lines("LOG_NOTICE")
    assert "MDMClientRestarted: true" in result_line


def test_a_closed_pipe_is_output_lost_too(fake_mac: FakeMac, logged: Logged) -> None:
    fake_live_mac(fake_mac, IDLE)
    reader, writer = os.pipe()
    os.close(reader)  # `| head -0`: nobody reads
    with os.fdopen(writer, "w") as pipe:
        done = logged.run("status", "--json", stdout=pipe)
    assert (done.returncode, done.stderr) == (6, OUTPUT_LOST.format("Broken pipe"))
