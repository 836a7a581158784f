"""The Jamf extension attributes built on the run history and the version, and the
status attribute that is never blank: each script run against the fake Mac."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import (
    QUIET_WINDOW,
    REPO,
    FakeMac,
    export,
    extension_attribute,
    reconstructed_lines,
    run_heal,
    run_installed,
)
from watchdog_mdm import __version__
from watchdog_mdm.history import HISTORY_PATH, RunRecord, record_run
from watchdog_mdm.state import STATE_PATH
from watchdog_mdm.system import MacSystem

JAMF = REPO / "docs" / "jamf"


def failing_tool(folder: Path, stderr: str, stdout: str = "") -> str:
    """A stand-in mdm-watchdog that fails as a damaged install would."""
    tool = folder / "mdm-watchdog"
    tool.write_text(f"#!/bin/sh\nprintf '{stdout}'\nprintf '{stderr}' >&2\nexit 1\n")
    tool.chmod(0o755)
    return str(tool)


def restarted(mac: FakeMac, days_ago: float, *, mdm_client: bool, software_update: bool) -> None:
    started = datetime.now(UTC) - timedelta(days=days_ago)
    row = RunRecord(
        started,
        started,
        "heal",
        0,
        mdm_client_restarted=mdm_client,
        software_update_restarted=software_update,
    )
    assert record_run(MacSystem(mac.root), row, 90) == []


class TestRestartsInThirtyDays:
    def test_none_before_any_run(self, enrolled_mac: FakeMac) -> None:
        assert extension_attribute("mdm-restarts-30d", enrolled_mac) == "<result>0</result>\n"
        assert extension_attribute("software-update-restarts-30d", enrolled_mac) == (
            "<result>0</result>\n"
        )

    def test_a_run_that_restarted_both(self, enrolled_mac: FakeMac) -> None:
        enrolled_mac.install("/usr/bin/log", [QUIET_WINDOW, export(reconstructed_lines(), 3)])
        assert run_heal(enrolled_mac).returncode == 0
        assert extension_attribute("mdm-restarts-30d", enrolled_mac) == "<result>1</result>\n"
        assert extension_attribute("software-update-restarts-30d", enrolled_mac) == (
            "<result>1</result>\n"
        )

    def test_only_the_last_thirty_days_count(self, fake_mac: FakeMac) -> None:
        restarted(fake_mac, 45, mdm_client=True, software_update=True)
        restarted(fake_mac, 20, mdm_client=True, software_update=False)
        restarted(fake_mac, 3, mdm_client=True, software_update=False)
        restarted(fake_mac, 1, mdm_client=False, software_update=True)
        assert extension_attribute("mdm-restarts-30d", fake_mac) == "<result>2</result>\n"
        assert extension_attribute("software-update-restarts-30d", fake_mac) == (
            "<result>1</result>\n"
        )

    def test_an_unreadable_history_or_no_program_is_empty(
        self, fake_mac: FakeMac, tmp_path: Path
    ) -> None:
        fake_mac.write(HISTORY_PATH, b"damaged" * 100)
        assert extension_attribute("mdm-restarts-30d", fake_mac) == "<result></result>\n"
        missing = str(tmp_path / "nowhere" / "mdm-watchdog")
        assert extension_attribute("mdm-restarts-30d", None, missing) == "<result></result>\n"


class TestVersion:
    def test_the_installed_version(self) -> None:
        assert extension_attribute("version", None) == f"<result>{__version__}</result>\n"
        assert run_installed("-version").stdout.strip() == __version__

    def test_not_installed_or_broken(self, tmp_path: Path) -> None:
        missing = str(tmp_path / "nowhere" / "mdm-watchdog")
        assert extension_attribute("version", None, missing) == "<result>Not installed</result>\n"
        broken = failing_tool(tmp_path, "mdm-watchdog: internal error: ImportError: no click\\n")
        assert extension_attribute("version", None, broken) == (
            "<result>Error: internal error: ImportError: no click</result>\n"
        )


class TestStatusIsNeverBlank:
    def test_a_failing_program_says_error_and_why(self, tmp_path: Path) -> None:
        broken = failing_tool(tmp_path, "mdm-watchdog: internal error: OSError: disk gone\\n")
        assert extension_attribute("status", None, broken) == (
            "<result>Error: internal error: OSError: disk gone</result>\n"
        )

    def test_a_traceback_gives_its_last_line(self, tmp_path: Path) -> None:
        broken = failing_tool(
            tmp_path, "Traceback (most recent call last):\\n  File x\\nMemoryError: out\\n"
        )
        assert (
            extension_attribute("status", None, broken)
            == "<result>Error: MemoryError: out</result>\n"
        )

    def test_a_program_that_prints_nothing_at_all(self, tmp_path: Path) -> None:
        silent = failing_tool(tmp_path, "")
        assert extension_attribute("status", None, silent) == (
            "<result>Error: mdm-watchdog status printed nothing</result>\n"
        )

    def test_a_status_printed_before_an_error_is_kept(self, enrolled_mac: FakeMac) -> None:
        enrolled_mac.write(STATE_PATH, b"{broken")
        assert extension_attribute("status", enrolled_mac) == "<result>State unreadable</result>\n"


def test_the_quiet_for_a_week_recipe_reads_the_remembered_exchange(
    enrolled_mac: FakeMac,
) -> None:
    """The smart group "quiet for a week" compares Last MDM Check-in with 7 days ago: a
    week of runs whose windows held no exchange still shows the last one."""
    enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 24 * 8))
    assert run_heal(enrolled_mac).returncode == 0
    quiet = [x for x in reconstructed_lines() if "softwareupdated" in x]
    enrolled_mac.install("/usr/bin/log", export(quiet, 0.1))
    for _ in range(3):
        assert run_heal(enrolled_mac).returncode == 0
    shown = extension_attribute("last-mdm-checkin", enrolled_mac)
    checkin = datetime.strptime(shown[len("<result>") : -len("</result>\n")], "%Y-%m-%d %H:%M:%S")
    assert checkin < datetime.now() - timedelta(days=7)  # in the smart group
    deployment = (REPO / "docs" / "deployment.md").read_text()
    recipes = deployment.split("## Jamf Pro: run history", 1)[1].split("\n## ", 1)[0]
    assert "`MDM Watchdog Last MDM Check-in` *more than x days ago* 7" in recipes


def test_every_new_attribute_is_documented_with_its_smart_groups() -> None:
    deployment = (REPO / "docs" / "deployment.md").read_text()
    section = deployment.split("## Jamf Pro: run history", 1)[1].split("\n## ", 1)[0]
    for script in ("ea-version.sh", "ea-mdm-restarts-30d.sh", "ea-software-update-restarts-30d.sh"):
        assert f"`{script}`" in section
        assert os.access(JAMF / script, os.X_OK)
    assert "`Error: " in section
