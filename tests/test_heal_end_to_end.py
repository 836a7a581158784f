"""`mdm-watchdog -heal`, installed, against a fake Mac with real daemon processes.

The fake Mac has stand-ins for log, profiles, launchctl, dscacheutil, killall and pkill,
and a fake launchd keeping copies of `sleep` running at /usr/libexec/mdmclient and at
softwareupdated's path: a kickstart or a signal ends one, and launchd starts it again.

Each healing scenario is tested once, on the recording fake System (test_heal.py);
these are the smoke tests that the installed command does the same on a Mac, and what
only real processes show (signals, a lock held by another process). Faults and crashes
are in test_reliability.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest

from tests.support import (
    KICK_MDM,
    QUIET_WINDOW,
    RFC3339_MICRO,
    SIP_REFUSAL,
    SLEEP,
    SU_SEQUENCE,
    FakeLaunchd,
    FakeMac,
    export,
    journal_line,
    prefs,
    reconstructed_lines,
    remediation,
    run_heal,
    saved_state,
)
from watchdog_mdm.heal import MDM_CLIENT, SOFTWARE_UPDATE
from watchdog_mdm.state import STATE_PATH

MDM_LABEL, SU_LABEL = MDM_CLIENT.label, SOFTWARE_UPDATE.label
KICK = journal_line(KICK_MDM)


@pytest.fixture
def running_mac(enrolled_mac: FakeMac, launchd: FakeLaunchd) -> FakeMac:
    """An enrolled Mac with both daemons running, waiting for them after a restart."""
    launchd.add(MDM_LABEL, MDM_CLIENT.executable)
    launchd.add(SU_LABEL, SOFTWARE_UPDATE.executable)
    prefs(enrolled_mac, VerifySeconds=5)  # ends as soon as launchd has started them again
    return enrolled_mac


def stuck(mac: FakeMac, *, updates: bool) -> None:
    """Nothing in the window; the history ends with an update command, or another one."""
    mac.install("/usr/bin/log", [QUIET_WINDOW, export(reconstructed_lines(updates=updates), 3)])
    (mac.root / ".fake" / "log" / "count").unlink(missing_ok=True)


def test_stuck_client_restarted_once_per_cooldown(
    running_mac: FakeMac, launchd: FakeLaunchd
) -> None:
    stuck(running_mac, updates=False)
    before = launchd.pid(MDM_LABEL)
    done = run_heal(running_mac, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["MDMClientRestarted"] is True
    assert doc["SoftwareUpdateDaemonRestarted"] is False
    assert remediation(running_mac) == [KICK]
    (mdm,) = [d for d in doc["heal"]["daemons"] if d["daemon"] == "mdmclient"]
    assert mdm["verified"] is True
    assert mdm["new_pid"] != before
    # the state file, in the form the original tool and its readers expect
    saved = saved_state(running_mac)
    stamp = saved["last_mdm_kickstart"]
    assert RFC3339_MICRO.fullmatch(stamp)
    datetime.strptime(stamp[:-6], "%Y-%m-%dT%H:%M:%S.%f")  # as MunkiReport's mdm_status
    assert saved["last_software_update_kickstart"] == "0001-01-01T00:00:00Z"
    state = running_mac.root / STATE_PATH.lstrip("/")
    assert (state.stat().st_mode & 0o777, state.parent.stat().st_mode & 0o777) == (0o644, 0o755)

    stuck(running_mac, updates=False)
    again = run_heal(running_mac)
    assert "MDMClientRestarted: false" in again.stdout
    assert remediation(running_mac) == [KICK]  # no second one

    saved = saved_state(running_mac)
    older = datetime.fromisoformat(saved["last_mdm_kickstart"]) - timedelta(hours=24, minutes=1)
    saved["last_mdm_kickstart"] = older.isoformat(timespec="microseconds")
    (running_mac.root / STATE_PATH.lstrip("/")).write_text(json.dumps(saved))
    stuck(running_mac, updates=False)
    run_heal(running_mac)
    assert remediation(running_mac) == [KICK, KICK]


def test_software_updates_stuck_runs_the_sequence(running_mac: FakeMac) -> None:
    stuck(running_mac, updates=True)
    done = run_heal(running_mac)
    assert ("MDMClientRestarted: true SoftwareUpdateDaemonRestarted: true") in done.stdout
    assert remediation(running_mac) == [KICK, *map(journal_line, SU_SEQUENCE)]


def _start_as_nobody(path: Path) -> subprocess.Popen[bytes]:
    # exec through an open descriptor: nobody cannot walk into root's temporary folder
    fd = os.open(path, os.O_RDONLY)
    try:
        return subprocess.Popen(
            [f"/proc/self/fd/{fd}", "3600"],
            pass_fds=(fd,),
            user=65534,
            group=65534,
            extra_groups=[],
        )
    finally:
        os.close(fd)


def test_refused_kickstart_signals_only_the_real_daemon(
    running_mac: FakeMac, launchd: FakeLaunchd
) -> None:
    if os.geteuid() != 0:
        pytest.skip("the daemon must be root-owned, so the test must run as root")
    stuck(running_mac, updates=False)
    running_mac.install("/bin/launchctl", rc=150, stderr=SIP_REFUSAL)
    decoy_path = running_mac.root / "usr/local/bin/mdmclient"
    decoy_path.parent.mkdir(parents=True)
    shutil.copy2(SLEEP, decoy_path)
    decoy = subprocess.Popen([str(decoy_path), "3600"])
    agent = _start_as_nobody(launchd.paths[MDM_LABEL])  # a user's `mdmclient agent`
    daemon = launchd.pid(MDM_LABEL)
    try:
        done = run_heal(running_mac, "--json")
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


def test_dry_run_changes_nothing(running_mac: FakeMac, launchd: FakeLaunchd) -> None:
    stuck(running_mac, updates=True)
    pid = launchd.pid(MDM_LABEL)
    done = run_heal(running_mac, "--dry-run")
    assert done.returncode == 0
    assert "would run: /bin/launchctl kickstart -k system/com.apple.mdmclient.daemon" in (
        done.stdout
    )
    assert remediation(running_mac) == []
    assert not (running_mac.root / STATE_PATH.lstrip("/")).exists()
    assert launchd.pid(MDM_LABEL) == pid


def test_a_second_run_waits_then_exits_4(running_mac: FakeMac) -> None:
    prefs(running_mac, LockWaitSeconds=0)
    stuck(running_mac, updates=True)
    lock = running_mac.write("/Library/Application Support/mdm-watchdog/.lock", b"")
    lock.chmod(0o600)  # as a run makes it: a lock others could open is replaced
    with lock.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = run_heal(running_mac)
    assert done.returncode == 4
    assert done.stderr == (
        "mdm-watchdog: error: another mdm-watchdog run is in progress "
        "(waited 0 s for it); try again later\n"
    )
    assert remediation(running_mac) == []
