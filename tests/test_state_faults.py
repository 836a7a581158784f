"""Faults around the state file: times that only look like "never", saves that fail,
foreign values that are not JSON; each ends well."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from tests.support import (
    actions,
    fake_system,
    heal,
    installed_command,
    reconstructed_export,
    saved_state,
)
from watchdog_mdm import report
from watchdog_mdm.cli import cli
from watchdog_mdm.state import NEVER, STATE_PATH, load_state, parse_rfc3339


class TestCooldown:
    @pytest.mark.parametrize(
        "value", ["0001-01-01 this is not a time", "0001-01-01", "0001-01-01T00:00:00Zjunk"]
    )
    def test_a_time_that_only_starts_like_the_zero_time_counts_as_now(self, value: str) -> None:
        system = fake_system(updates=False)  # mdmclient stuck: a restart is due unless cooling
        system.files[STATE_PATH] = json.dumps(
            {"last_mdm_kickstart": value, "last_software_update_kickstart": NEVER}
        ).encode()
        state, warnings = load_state(system, system.clock, repair=False)
        assert state.kickstarts.mdm_client == system.clock
        assert state.kickstarts.software_update is None
        assert any("is not a time; counting it as now" in w for w in warnings)

        result = heal(system)
        assert result.exit_code == 0, result.output
        assert actions(system) == []
        assert "MDMClientRestarted: false" in result.output
        saved = saved_state(system)
        assert datetime.fromisoformat(saved["last_mdm_kickstart"]) == system.clock
        assert saved["last_software_update_kickstart"] == NEVER

    @pytest.mark.parametrize("value", [NEVER, "0001-01-01T00:00:00+00:00"])
    def test_only_the_exact_zero_time_means_never(self, value: str) -> None:
        assert parse_rfc3339(value) is None
        system = fake_system(updates=False)
        system.files[STATE_PATH] = json.dumps({"last_mdm_kickstart": value}).encode()
        assert heal(system).exit_code == 0
        assert actions(system) != []

    def test_a_real_year_one_time_is_a_time(self) -> None:
        parsed = parse_rfc3339("0001-01-01T00:00:01+00:00")
        assert parsed is not None
        assert parsed.second == 1
        assert datetime.fromisoformat("0001-01-02T00:00:00+00:00") - parsed > timedelta(0)


class TestFullDisk:
    def test_the_line_shows_the_stored_times_when_the_restart_could_not_be_saved(self) -> None:
        system = fake_system()  # both daemons due for a restart
        old = (system.clock - timedelta(days=3)).isoformat(timespec="microseconds")
        system.files[STATE_PATH] = json.dumps(
            {"last_mdm_kickstart": old, "last_software_update_kickstart": NEVER}
        ).encode()
        before = system.files[STATE_PATH]
        system.write_error = OSError(28, "No space left on device")
        result = heal(system)
        assert result.exit_code == 5, result.output
        assert actions(system) == []
        assert system.files[STATE_PATH] == before
        line = result.output.splitlines()[0]
        stored = report.go_time(datetime.fromisoformat(old), system.clock.tzinfo)
        assert f"LastMDMKickstart: {stored} " in line
        assert line.endswith("LastSoftwareUpdateDaemonKickstart: 0001-01-01 00:00:00 +0000 UTC")
        assert "MDMClientRestarted: false SoftwareUpdateDaemonRestarted: false" in line
        assert system.system_log == [line]
        assert "No space left on device" in result.output

    def test_a_clock_gone_back_is_not_shown_as_saved_when_nothing_could_be_saved(self) -> None:
        system = fake_system(updates=False)
        future = (system.clock + timedelta(days=300)).isoformat(timespec="microseconds")
        system.files[STATE_PATH] = json.dumps({"last_mdm_kickstart": future}).encode()
        system.write_error = OSError(28, "No space left on device")
        result = heal(system)
        assert result.exit_code == 5, result.output
        assert actions(system) == []
        stored = report.go_time(datetime.fromisoformat(future), system.clock.tzinfo)
        assert f"LastMDMKickstart: {stored} " in result.output.splitlines()[0]


NINES = "9" * 30


def _one_error(result: Result) -> str:
    """The run's only error line: no traceback, no exception left to the interpreter."""
    assert isinstance(result.exception, SystemExit | None), result.exception
    errors = [x for x in result.output.splitlines() if "error:" in x]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


class TestExitCodes:
    @pytest.mark.parametrize(
        "args",
        [
            ["--at", "0001-01-01T00:00:00+00:00"],
            ["--at", "0001-01-20", "--history", "30d"],
            ["--at", "9999-12-31T23:00:00-12:00"],
        ],
    )
    def test_an_instant_whose_history_leaves_the_calendar_is_a_usage_error(
        self, args: list[str]
    ) -> None:
        result = CliRunner().invoke(
            cli, ["analyze", "-", *args], obj=fake_system(), input=reconstructed_export()
        )
        assert result.exit_code == 2, result.output
        assert "reaches outside the years 1 to 9999" in _one_error(result)

    @pytest.mark.parametrize(
        "args",
        [
            ["analyze", "-", "--window", NINES],
            ["analyze", "-", "--history", NINES],
            ["-diagnose", "--window", NINES],
            ["-heal", "--window", NINES],
        ],
    )
    def test_a_duration_no_time_can_hold_is_a_usage_error(self, args: list[str]) -> None:
        system = fake_system()
        result = CliRunner().invoke(cli, args, obj=system, input=reconstructed_export())
        assert result.exit_code == 2, result.output
        assert "is out of range (1m to 30d)" in _one_error(result)
        assert actions(system) == []

    def test_closed_standard_input_is_unreadable_evidence(self) -> None:
        done = subprocess.run(
            ["/bin/bash", "-c", f"'{installed_command()}' analyze - <&-"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 3, done.stderr
        assert done.stderr == "mdm-watchdog: error: cannot read - : standard input is closed\n"

    def test_a_last_run_time_at_the_edge_of_the_calendar_is_reported(self) -> None:
        system = fake_system(stuck=False)
        system.files[STATE_PATH] = json.dumps(
            {"last_run": {"started_at": "0001-01-02T00:00:00+23:59", "result": {}}}
        ).encode()
        for args in (["status"], ["status", "--json"], ["status", "--field", "overall"]):
            result = CliRunner().invoke(cli, args, obj=system)
            assert result.exit_code == 0, result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)
        overall = CliRunner().invoke(cli, ["status", "--field", "overall"], obj=system).output
        assert overall.startswith("Not run since 0001-01-0"), overall


class TestStrictJson:
    def test_foreign_non_finite_numbers_are_written_back_as_null(self) -> None:
        system = fake_system(stuck=False)
        system.files[STATE_PATH] = (
            b'{"last_mdm_kickstart": "0001-01-01T00:00:00Z", "vendor": '
            b'{"score": NaN, "limits": [Infinity, -Infinity, 1.5], "name": "x"}}'
        )
        result = heal(system)
        assert result.exit_code == 0, result.output

        def refuse(constant: str) -> None:
            raise AssertionError(f"non-strict JSON written: {constant}")

        saved = json.loads(system.files[STATE_PATH], parse_constant=refuse)
        assert saved["vendor"] == {"score": None, "limits": [None, None, 1.5], "name": "x"}
