"""The installed `mdm-watchdog` command, run as an admin would, against a fake Mac.

The fake Mac is a folder given as --system-root: stand-in /usr/bin/log and
/usr/bin/profiles record their arguments and print real output, its timestamps moved
to just before now (the only thing changed), because the installed command reads the
real clock.
"""

from __future__ import annotations

import json

from tests.support import (
    ENROLLED,
    HISTORY_QUERY,
    LOGS,
    NOT_ENROLLED,
    QUIET_WINDOW,
    TRAILER,
    FakeMac,
    export,
    prefs,
    reconstructed_lines,
    run_installed,
)
from watchdog_mdm import __version__
from watchdog_mdm.diagnose import WINDOW_PREDICATE


def test_healthy_mac(fake_mac: FakeMac) -> None:
    fake_mac.install("/usr/bin/profiles", ENROLLED)
    fake_mac.install("/usr/bin/log", export(reconstructed_lines(), hours_ago=5 / 60))
    done = run_installed("-diagnose", "--system-root", str(fake_mac.root))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "MDMEnrolled: true MDMIdentityError: false MDMClientStuck: false "
        "MDMSoftwareUpdatesStuck: false\n"
    )
    assert done.stderr == ""
    assert fake_mac.calls("profiles") == [["status", "-type", "enrollment"]]
    assert fake_mac.calls("log") == [
        ["show", "--style", "ndjson", "--info", "--last", "91m", "--predicate", WINDOW_PREDICATE]
    ]


def test_six_quiet_hours_after_an_update_are_stuck_by_the_original_rule(
    fake_mac: FakeMac,
) -> None:
    fake_mac.install("/usr/bin/profiles", ENROLLED)
    fake_mac.install("/usr/bin/log", [QUIET_WINDOW, export(reconstructed_lines(), hours_ago=6)])
    prefs(fake_mac, StuckRule="quiet")
    done = run_installed("-diagnose", "-system-root", str(fake_mac.root))
    assert done.stdout == (
        "MDMEnrolled: true MDMIdentityError: false MDMClientStuck: true "
        "MDMSoftwareUpdatesStuck: true\n"
    )
    assert fake_mac.calls("log")[1] == list(HISTORY_QUERY)


def test_six_quiet_hours_after_an_update_are_idle_by_the_evidence(fake_mac: FakeMac) -> None:
    # Nothing was asked of mdmclient since it acknowledged the update: a healthy Mac.
    fake_mac.install("/usr/bin/profiles", ENROLLED)
    fake_mac.install("/usr/bin/log", [QUIET_WINDOW, export(reconstructed_lines(), hours_ago=6)])
    done = run_installed("-diagnose", "--json", "-system-root", str(fake_mac.root))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["MDMClientStuck"] is False and doc["MDMSoftwareUpdatesStuck"] is False
    assert doc["mdm_client"]["state"] == "idle"
    # the first run, with nothing remembered, reaches back over QuietHours once
    assert fake_mac.calls("log")[1][:5] == ["show", "--style", "ndjson", "--last", "2880m"]


def test_json_on_a_fake_mac(fake_mac: FakeMac) -> None:
    fake_mac.install("/usr/bin/profiles", NOT_ENROLLED)
    fake_mac.install("/usr/bin/log", TRAILER)
    done = run_installed("--diagnose", "--json", "--system-root", str(fake_mac.root))
    doc = json.loads(done.stdout)
    assert list(doc)[:8] == [
        "MDMEnrolled",
        "MDMIdentityError",
        "MDMClientStuck",
        "MDMSoftwareUpdatesStuck",
        "MDMClientRestarted",
        "SoftwareUpdateDaemonRestarted",
        "LastMDMKickstart",
        "LastSoftwareUpdateDaemonKickstart",
    ]
    assert doc["MDMEnrolled"] is False
    assert doc["LastMDMKickstart"] is None
    assert doc["evidence"]["reasons"]["MDMClientStuck"].startswith("not enrolled")


def test_log_missing_exits_3_without_a_traceback(fake_mac: FakeMac) -> None:
    fake_mac.install("/usr/bin/profiles", ENROLLED)
    done = run_installed("-diagnose", "--system-root", str(fake_mac.root))
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr == (
        "mdm-watchdog: error: could not read the unified log: "
        "/usr/bin/log is missing or not executable\n"
    )


def test_log_failing_exits_3(fake_mac: FakeMac) -> None:
    fake_mac.install("/usr/bin/profiles", ENROLLED)
    fake_mac.install("/usr/bin/log", b"", rc=64, stderr=b"log: Invalid predicate\n")
    done = run_installed("-diagnose", "--system-root", str(fake_mac.root))
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert "Invalid predicate" in done.stderr


def test_analyze_reads_stdin_and_files_on_any_computer() -> None:
    run = LOGS / "super-45fdb21" / "13.0-to-13.3.1-Apple-Silicon-Jamf-Pro-MDM"
    data = (run / "mdmCommand.log").read_bytes()
    at = ("--at", "2023-05-03T18:00:00", "--stuck-rule", "quiet")
    piped = run_installed("analyze", "-", *at, stdin=data)
    named = run_installed("analyze", str(run / "mdmCommand.log"), *at)
    assert piped.returncode == named.returncode == 0
    assert piped.stdout == named.stdout
    assert piped.stdout.startswith(
        "MDMEnrolled: true MDMIdentityError: false "
        "MDMClientStuck: true MDMSoftwareUpdatesStuck: true\n"
    )


def test_usage_error_is_one_line_and_exits_2() -> None:
    done = run_installed("-diagnose", "--window", "forever")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "mdm-watchdog: error: Invalid value for '-window' / '--window': "
        "'forever' is not a duration (examples: 90m, 1h30m, 24h, 2d) "
        "(see mdm-watchdog -help)\n"
    )


def test_version() -> None:
    done = run_installed("-version")
    assert done.returncode == 0
    assert done.stdout == f"{__version__}\n"
