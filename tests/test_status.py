"""`mdm-watchdog status`: the stored result for inventory, without checking anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from tests.support import FakeSystem, fake_system, heal
from watchdog_mdm.cli import cli
from watchdog_mdm.state import STATE_PATH
from watchdog_mdm.status import UPDATE_STATUSES, overall_status, software_update_status

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


BERLIN = timezone(timedelta(hours=1))


def update(**fields: object) -> dict[str, object]:
    """A stored `software_update`, as -heal writes it (times in UTC, shown in Berlin)."""
    return {
        "channel": "ddm",
        "target_version": "26.1",
        "target_build": "25B78",
        "deadline": "2026-11-20T17:00:00.000000+00:00",
        "running_version": "26.0.1",
        "phase": None,
        "last_progress_at": None,
        "state": "pending",
        "reason": "a DDM declaration asks for 26.1 by 2026-11-20 18:00:00",
    } | fields


STALLED = {"phase": "DOWNLOADING_UPDATE", "last_progress_at": "2026-11-20T13:30:00+00:00"}


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (update(state="overdue"), "Overdue: 26.1 since 2026-11-20"),
        (
            update(state="stalled", **STALLED),
            "Stalled: 26.1 in DOWNLOADING_UPDATE since 2026-11-20 14:30:00",
        ),
        (update(state="looping", phase="PREPARED_COMMITTING_STASH"), "Looping: 26.1"),
        (update(state="downloading", **STALLED), "Downloading: 26.1"),
        (update(state="preparing", phase="PREPARING_UPDATE"), "Preparing: 26.1"),
        (update(state="installing", phase="APPLYING"), "Installing: 26.1"),
        (update(state="pending"), "Pending: 26.1 by 2026-11-20 18:00:00"),
        (update(state="done", running_version="26.1"), "Up to date"),
        (
            update(channel="none", state="none", target_version=None, deadline=None),
            "Up to date",
        ),
        (update(state="unknown"), "Unknown"),
        # an MDM-era update has no target version or deadline: the rest is still said
        (
            update(channel="mdm", state="stalled", target_version=None, **STALLED),
            "Stalled in DOWNLOADING_UPDATE since 2026-11-20 14:30:00",
        ),
        (update(state="overdue", target_version=None), "Overdue since 2026-11-20"),
        (update(state="pending", deadline=None), "Pending: 26.1"),
        (update(state="stalled"), "Stalled: 26.1"),
        (
            update(state="stalled", phase="DOWNLOADING_UPDATE"),
            "Stalled: 26.1 in DOWNLOADING_UPDATE",
        ),
        (
            update(state="overdue", target_version="26.1.1 (a)"),
            "Overdue: 26.1.1 (a) since 2026-11-20",
        ),
        # the deadline near midnight: the local date, not UTC's
        (
            update(state="overdue", deadline="2026-11-20T23:30:00+00:00"),
            "Overdue: 26.1 since 2026-11-21",
        ),
    ],
)
def test_software_update_status(stored: dict[str, object], expected: str) -> None:
    assert software_update_status({"software_update": stored}, BERLIN) == expected


def test_every_state_has_a_summary() -> None:
    states = {"none", "pending", "downloading", "preparing", "installing"}
    states |= {"stalled", "looping", "overdue", "done", "unknown"}
    assert set(UPDATE_STATUSES) == states
    for state in states:
        shown = software_update_status({"software_update": update(state=state)}, UTC)
        assert shown.startswith(UPDATE_STATUSES[state]), state


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        # the whole object is not there or not an object
        (None, "Unknown"),
        ("ok", "Unknown"),
        ([1, 2], "Unknown"),
        ({}, "Unknown"),
        ({"software_update": None}, "Unknown"),
        ({"software_update": "overdue"}, "Unknown"),
        ({"software_update": ["overdue"]}, "Unknown"),
        ({"software_update": 7}, "Unknown"),
        ({"software_update": {}}, "Unknown"),
        # a state this version does not know, or not a string
        ({"software_update": update(state="rebooting")}, "Unknown"),
        ({"software_update": update(state="Overdue")}, "Unknown"),
        ({"software_update": update(state=None)}, "Unknown"),
        ({"software_update": update(state=["overdue"])}, "Unknown"),
        ({"software_update": update(state={"overdue": True})}, "Unknown"),
        ({"software_update": update(state=3)}, "Unknown"),
        # the details damaged: left out, the state still said
        ({"software_update": update(state="overdue", deadline="yesterday")}, "Overdue: 26.1"),
        ({"software_update": update(state="overdue", deadline=20261120)}, "Overdue: 26.1"),
        ({"software_update": update(state="overdue", deadline={})}, "Overdue: 26.1"),
        (
            {"software_update": update(state="pending", deadline="2026-11-20T18:00:00")},
            "Pending: 26.1",  # no offset: not a stored time
        ),
        (
            {"software_update": update(state="overdue", deadline="9999-12-31T23:59:59-05:00")},
            "Overdue: 26.1",  # beyond what a date can hold once made local
        ),
        (
            {"software_update": update(state="overdue", deadline="0001-01-01T00:00:00Z")},
            "Overdue: 26.1",  # the zero time: none
        ),
        ({"software_update": update(state="looping", target_version=26.1)}, "Looping"),
        ({"software_update": update(state="looping", target_version="")}, "Looping"),
        ({"software_update": update(state="looping", target_version=["26.1"])}, "Looping"),
        (
            {"software_update": update(state="looping", target_version="26.1</result>")},
            "Looping",  # never markup into an extension attribute's result
        ),
        ({"software_update": update(state="looping", target_version="26.1\nx")}, "Looping"),
        ({"software_update": update(state="looping", target_version="9" * 41)}, "Looping"),
        (
            {"software_update": update(state="stalled", phase=7, last_progress_at=[])},
            "Stalled: 26.1",
        ),
        (
            {"software_update": update(state="stalled", phase="DOWNLOADING UPDATE\n")},
            "Stalled: 26.1",
        ),
    ],
)
def test_a_damaged_software_update_never_crashes(result: object, expected: str) -> None:
    assert software_update_status(result, UTC) == expected


def stored_run(software_update: object) -> dict[str, object]:
    last = run(10)
    assert isinstance(last["result"], dict)
    last["result"]["software_update"] = software_update
    return {"last_run": last}


def test_status_prints_the_software_update_field_text_and_json() -> None:
    system = FakeSystem()
    system.clock = NOW.astimezone(BERLIN)
    stored = stored_run(update(state="stalled", **STALLED))
    system.files[STATE_PATH] = json.dumps(stored).encode()
    expected = "Stalled: 26.1 in DOWNLOADING_UPDATE since 2026-11-20 14:30:00"
    assert status(system, "--field", "software-update") == f"{expected}\n"
    assert f"software-update: {expected}" in status(system).splitlines()
    doc = json.loads(status(system, "--json"))
    assert doc["fields"]["software-update"] == expected
    assert doc["state"]["last_run"]["result"]["software_update"]["state"] == "stalled"


def test_a_state_from_before_software_updates_were_judged_is_unknown() -> None:
    system = FakeSystem()
    system.files[STATE_PATH] = json.dumps({"last_run": run(10)}).encode()
    assert status(system, "--field", "software-update") == "Unknown\n"
    assert status(system, "--field", "overall") == "Healthy\n"


def test_never_run_is_unknown() -> None:
    assert status(FakeSystem(), "--field", "software-update") == "Unknown\n"


@pytest.mark.parametrize(
    "last_run",
    [
        '"yesterday"',
        "[1, 2]",
        "null",
        '{"result": "ok"}',
        '{"result": {"software_update": [1]}}',
        '{"result": {"software_update": {"state": {"a": 1}}}}',
        '{"result": {"software_update": {"state": "overdue", "deadline": [1]}}}',
    ],
)
def test_a_state_file_of_another_shape_gives_an_update_summary(last_run: str) -> None:
    system = FakeSystem()
    system.files[STATE_PATH] = f'{{"last_run": {last_run}}}'.encode()
    shown = status(system, "--field", "software-update").strip()
    assert shown in ("Unknown", "Overdue")
    assert "software-update: " + shown in status(system).splitlines()
