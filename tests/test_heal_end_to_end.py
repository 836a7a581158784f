"""`mdm-watchdog -heal`, installed, against a fake Mac with real daemon processes.

The fake Mac has stand-ins for log, profiles, launchctl, dscacheutil, killall and pkill,
and a fake launchd keeping copies of `sleep` running at /usr/libexec/mdmclient and at
softwareupdated's path: a kickstart or a signal ends one, and launchd starts it again.
"""

from __future__ import annotations

import fcntl
import json
import os
import plistlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import (
    ENROLLED,
    NOT_ENROLLED,
    SLEEP,
    FakeLaunchd,
    FakeMac,
    rebase,
    reference_lines,
    run_installed,
)
from watchdog_mdm.heal import MDM_CLIENT, SOFTWARE_UPDATE

NDJSON = reference_lines("reconstructed_mdmclient.ndjson", "")
NO_UPDATE = [x.replace("ScheduleOSUpdate)", "SecurityInfo)") for x in NDJSON]
TRAILER = b'{"count":0,"finished":1}\n'
STATE = "Library/Application Support/mdm-watchdog/state.json"
MANAGED = "Library/Managed Preferences/com.github.mdm-watchdog.plist"
SIP = b"Could not kickstart service: 150: Operation not permitted while System Integrity Protection is engaged\n"  # noqa: E501 - verbatim, profiles_status.txt
MDM_LABEL, SU_LABEL = MDM_CLIENT.label, SOFTWARE_UPDATE.label
KICK_MDM = f"launchctl kickstart -k system/{MDM_LABEL}"
KICK_SU = f"launchctl kickstart -k system/{SU_LABEL}"
SU_SEQUENCE = ["dscacheutil -flushcache", "killall -HUP mDNSResponder", "pkill BrainService",
               KICK_SU]
RFC3339_MICRO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d"


def export(lines: list[str], hours_ago: float) -> bytes:
    newest = datetime.now().astimezone() - timedelta(hours=hours_ago)
    return ("\n".join(rebase(lines, newest)) + "\n").encode()


@pytest.fixture
def mac(fake_mac: FakeMac, launchd: FakeLaunchd) -> Iterator[FakeMac]:
    """An enrolled Mac with both daemons running and the remediation tools present."""
    fake_mac.install("/usr/bin/profiles", ENROLLED)
    for tool in ("/bin/launchctl", "/usr/bin/dscacheutil", "/usr/bin/killall", "/usr/bin/pkill"):
        fake_mac.install(tool)
    launchd.add(MDM_LABEL, MDM_CLIENT.executable)
    launchd.add(SU_LABEL, SOFTWARE_UPDATE.executable)
    prefs(fake_mac, VerifySeconds=5)
    yield fake_mac


def prefs(mac: FakeMac, **values: object) -> None:
    mac.write("/" + MANAGED, plistlib.dumps(values))


def stuck(mac: FakeMac, *, updates: bool) -> None:
    """Nothing in the window; the history ends with an update command, or another one."""
    mac.install("/usr/bin/log", [TRAILER, export(NDJSON if updates else NO_UPDATE, 3)])
    (mac.root / ".fake" / "log" / "count").unlink(missing_ok=True)


def heal(mac: FakeMac, *args: str) -> subprocess.CompletedProcess[str]:
    return run_installed("-heal", "--system-root", str(mac.root), *args)


def remediation(mac: FakeMac) -> list[str]:
    return [x for x in mac.journal() if not x.startswith(("log ", "profiles "))]


def state(mac: FakeMac) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((mac.root / STATE).read_text())
    return document


def test_healthy_mac_runs_nothing(mac: FakeMac, launchd: FakeLaunchd) -> None:
    mac.install("/usr/bin/log", export(NDJSON, 0.1))
    pid = launchd.pid(MDM_LABEL)
    done = heal(mac)
    assert done.returncode == 0, done.stderr
    assert "MDMClientStuck: false" in done.stdout
    assert remediation(mac) == []
    assert launchd.pid(MDM_LABEL) == pid


def test_stuck_client_restarted_once_per_cooldown(mac: FakeMac, launchd: FakeLaunchd) -> None:
    stuck(mac, updates=False)
    before = launchd.pid(MDM_LABEL)
    done = heal(mac, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["MDMClientRestarted"] is True
    assert doc["SoftwareUpdateDaemonRestarted"] is False
    assert remediation(mac) == [KICK_MDM]
    (mdm,) = [d for d in doc["heal"]["daemons"] if d["daemon"] == "mdmclient"]
    assert mdm["verified"] is True
    assert mdm["new_pid"] != before

    stuck(mac, updates=False)
    again = heal(mac)
    assert "MDMClientRestarted: false" in again.stdout
    assert remediation(mac) == [KICK_MDM]  # no second one

    saved = state(mac)
    older = datetime.fromisoformat(saved["last_mdm_kickstart"]) - timedelta(hours=24, minutes=1)
    saved["last_mdm_kickstart"] = older.isoformat(timespec="microseconds")
    (mac.root / STATE).write_text(json.dumps(saved))
    stuck(mac, updates=False)
    heal(mac)
    assert remediation(mac) == [KICK_MDM, KICK_MDM]


def test_software_updates_stuck_runs_the_sequence(mac: FakeMac) -> None:
    stuck(mac, updates=True)
    done = heal(mac)
    assert ("MDMClientRestarted: true SoftwareUpdateDaemonRestarted: true") in done.stdout
    assert remediation(mac) == [KICK_MDM, *SU_SEQUENCE]


def test_not_enrolled_runs_nothing(mac: FakeMac) -> None:
    mac.install("/usr/bin/profiles", NOT_ENROLLED)
    mac.install("/usr/bin/log", TRAILER)
    done = heal(mac)
    assert done.stdout.startswith("MDMEnrolled: false ")
    assert remediation(mac) == []


def _start_as_nobody(path: Path) -> subprocess.Popen[bytes]:
    # exec through an open descriptor: nobody cannot walk into root's temporary folder
    fd = os.open(path, os.O_RDONLY)
    try:
        return subprocess.Popen([f"/proc/self/fd/{fd}", "3600"], pass_fds=(fd,),
                                user=65534, group=65534, extra_groups=[])
    finally:
        os.close(fd)


def test_refused_kickstart_signals_only_the_real_daemon(mac: FakeMac,
                                                        launchd: FakeLaunchd) -> None:
    if os.geteuid() != 0:
        pytest.skip("the daemon must be root-owned, so the test must run as root")
    stuck(mac, updates=False)
    mac.install("/bin/launchctl", rc=150, stderr=SIP)
    decoy_path = mac.root / "usr/local/bin/mdmclient"
    decoy_path.parent.mkdir(parents=True)
    shutil.copy2(SLEEP, decoy_path)
    decoy = subprocess.Popen([str(decoy_path), "3600"])
    agent = _start_as_nobody(launchd.paths[MDM_LABEL])  # a user's `mdmclient agent`
    daemon = launchd.pid(MDM_LABEL)
    try:
        done = heal(mac, "--json")
        doc = json.loads(done.stdout)
        assert doc["MDMClientRestarted"] is True
        (mdm,) = [d for d in doc["heal"]["daemons"] if d["daemon"] == "mdmclient"]
        assert mdm["method"] == "signal"
        assert mdm["verified"] is True
        assert not psutil.pid_exists(daemon) or psutil.Process(daemon).status() == "zombie"
        assert launchd.pid(MDM_LABEL) != daemon
        assert decoy.poll() is None
        assert psutil.Process(agent.pid).uids().real == 65534
        assert agent.poll() is None
    finally:
        for process in (decoy, agent):
            process.kill()
            process.wait()


def test_log_failing_exits_3_and_runs_nothing(mac: FakeMac) -> None:
    mac.install("/usr/bin/log", b"", rc=1, stderr=b"log: Invalid predicate\n")
    done = heal(mac)
    assert done.returncode == 3
    assert done.stderr.endswith("; nothing was restarted\n")
    assert remediation(mac) == []


def test_unwritable_state_runs_nothing(mac: FakeMac, tmp_path: Path) -> None:
    stuck(mac, updates=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    folder = mac.root / "Library/Application Support/mdm-watchdog"
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(victim)  # a planted link must not redirect root's writes
    done = heal(mac)
    assert done.returncode == 5
    assert remediation(mac) == []
    assert list(victim.iterdir()) == []
    assert "refusing to write in it" in done.stderr


def test_state_file_has_the_exact_compatible_form(mac: FakeMac) -> None:
    stuck(mac, updates=False)
    heal(mac)
    saved = state(mac)
    assert re.fullmatch(RFC3339_MICRO, saved["last_mdm_kickstart"])
    assert saved["last_software_update_kickstart"] == "0001-01-01T00:00:00Z"
    assert saved["schema_version"] == 1
    assert saved["last_run"]["result"]["MDMClientRestarted"] is True
    path = mac.root / STATE
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o755"
    # MunkiReport's mdm_status parses it this way (see original_tool.md)
    value = saved["last_mdm_kickstart"]
    datetime.strptime(value[:-6], "%Y-%m-%dT%H:%M:%S.%f")
    assert re.fullmatch(r"[+-]\d\d:\d\d", value[-6:])


def test_managed_preferences_change_window_and_cooldown(mac: FakeMac) -> None:
    prefs(mac, LookbackMinutes=30, KickstartCooldownHours=1, VerifySeconds=5)
    stuck(mac, updates=False)
    heal(mac)
    assert [c[5] for c in mac.calls("log")][:1] == ["31m"]
    saved = state(mac)
    older = datetime.fromisoformat(saved["last_mdm_kickstart"]) - timedelta(minutes=61)
    saved["last_mdm_kickstart"] = older.isoformat(timespec="microseconds")
    (mac.root / STATE).write_text(json.dumps(saved))
    stuck(mac, updates=False)
    heal(mac)
    assert remediation(mac) == [KICK_MDM, KICK_MDM]


def test_dry_run_changes_nothing(mac: FakeMac, launchd: FakeLaunchd) -> None:
    stuck(mac, updates=True)
    pid = launchd.pid(MDM_LABEL)
    done = heal(mac, "--dry-run")
    assert done.returncode == 0
    assert "would run: /bin/launchctl kickstart -k system/com.apple.mdmclient.daemon" in (
        done.stdout)
    assert remediation(mac) == []
    assert not (mac.root / STATE).exists()
    assert launchd.pid(MDM_LABEL) == pid


def test_a_second_run_waits_then_exits_4(mac: FakeMac) -> None:
    prefs(mac, LockWaitSeconds=0)
    stuck(mac, updates=True)
    lock = mac.write("/Library/Application Support/mdm-watchdog/.lock", b"")
    with lock.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = heal(mac)
    assert done.returncode == 4
    assert done.stderr == ("mdm-watchdog: error: another mdm-watchdog run is in progress "
                           "(waited 0 s for it); try again later\n")
    assert remediation(mac) == []


def test_killed_at_the_kickstart_the_cooldown_still_holds(mac: FakeMac) -> None:
    stuck(mac, updates=False)
    (mac.root / ".fake" / "launchctl" / "kill-caller").write_text("KILL\n")
    done = heal(mac)
    assert done.returncode == -9  # SIGKILL, right while launchctl ran
    saved = state(mac)
    assert re.fullmatch(RFC3339_MICRO, saved["last_mdm_kickstart"])
    (mac.root / ".fake" / "launchctl" / "kill-caller").unlink()
    stuck(mac, updates=False)
    again = heal(mac)
    assert again.returncode == 0
    assert "MDMClientRestarted: false" in again.stdout
    assert remediation(mac) == [KICK_MDM]  # only the interrupted one
