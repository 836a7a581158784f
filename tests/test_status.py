"""`mdm-watchdog status`: the stored result for inventory, without checking anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from tests.support import FakeSystem, fake_system, heal
from watchdog_mdm.cli import cli
from watchdog_mdm.state import STATE_PATH
from watchdog_mdm.status import overall_status

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def run(minutes_ago: float, **result: object) -> dict[str, object]:
    return {
        "started_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
        "result": {
            "MDMEnrolled": True,
            "MDMIdentityError": False,
            "MDMClientStuck": False,
            "MDMSoftwareUpdatesStuck": False,
        }
        | result,
    }


@pytest.mark.parametrize(
    ("last_run", "expected"),
    [
        (None, "Never run"),
        (run(10), "Healthy"),
        (run(10, MDMClientStuck=True), "MDM client stuck"),
        (run(10, MDMClientStuck=True, MDMSoftwareUpdatesStuck=True), "Software updates stuck"),
        (run(10, MDMIdentityError=True, MDMClientStuck=True), "Identity error"),
        (run(10, MDMEnrolled=False), "Not enrolled"),
        (
            {"started_at": NOW.isoformat(), "result": None, "error": "log failed"},
            "Evidence unavailable",
        ),
        (run(60 * 49), "Not run since 2026-11-23 11:00:00"),
        # the log proved nothing: verdicts unknown, never "Healthy"
        (
            run(
                10,
                MDMIdentityError=None,
                MDMClientStuck=None,
                MDMSoftwareUpdatesStuck=None,
            ),
            "Evidence unavailable",
        ),
    ],
)
def test_overall_status(last_run: dict[str, object] | None, expected: str) -> None:
    assert overall_status(last_run, NOW, UTC) == expected


def status(system: FakeSystem, *args: str) -> str:
    result = CliRunner().invoke(cli, ["status", *args], obj=system)
    assert result.exit_code == 0, result.output
    return result.output


def test_after_a_heal_run_status_reads_the_stored_result_without_checking() -> None:
    system = fake_system()
    heal(system)
    system.calls.clear()
    assert status(system, "--field", "overall") == "Software updates stuck\n"
    kick = status(system, "--field", "last-mdm-kickstart").strip()
    assert kick == system.clock.strftime("%Y-%m-%d %H:%M:%S")
    checkin = status(system, "--field", "last-mdm-checkin").strip()
    assert checkin == "2022-08-01 12:59:36"
    assert status(system, "--field", "last-software-update-kickstart").strip() == kick
    text = status(system).splitlines()
    assert text[0] == "Software updates stuck"
    assert text[1].startswith(
        "MDMEnrolled: true MDMIdentityError: false MDMClientStuck: true "
        "MDMSoftwareUpdatesStuck: true MDMClientRestarted: true"
    )
    doc = json.loads(status(system, "--json"))
    assert doc["fields"]["overall"] == "Software updates stuck"
    assert system.calls == []
    assert system.writes == [STATE_PATH, STATE_PATH, STATE_PATH]  # all from the heal run


def test_dates_are_local_time_for_jamf() -> None:
    system = fake_system()
    heal(system)
    system.clock = system.clock.astimezone(timezone(timedelta(hours=2)))
    kick = status(system, "--field", "last-mdm-kickstart").strip()
    assert kick == system.clock.strftime("%Y-%m-%d %H:%M:%S")


def test_never_run_and_empty_dates() -> None:
    system = FakeSystem()
    assert status(system, "--field", "overall") == "Never run\n"
    assert status(system, "--field", "last-mdm-kickstart") == "\n"


def test_unreadable_state_is_reported_not_repaired() -> None:
    system = FakeSystem()
    system.files[STATE_PATH] = b"{broken"
    result = CliRunner().invoke(cli, ["status", "--field", "overall"], obj=system)
    assert result.exit_code == 5
    assert result.output.splitlines()[0] == "State unreadable"
    assert system.files[STATE_PATH] == b"{broken"


@pytest.mark.parametrize(
    "last_run",
    [
        '"yesterday"',
        "[1, 2]",
        "7",
        '{"result": "ok"}',
        '{"result": {"evidence": [1]}}',
        '{"result": {"evidence": {"last_device_exchange": 3}}}',
    ],
)
def test_a_state_file_of_another_shape_prints_what_it_can(last_run: str) -> None:
    system = FakeSystem()
    system.files[STATE_PATH] = f'{{"last_run": {last_run}}}'.encode()
    result = CliRunner().invoke(cli, ["status"], obj=system)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Never run"
