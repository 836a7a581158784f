"""The four verdicts, each proved both ways on real mdmclient lines.

Where no real line exists for a case (a user-channel HTTP exchange, an Error or NotNow
bracket, macOS 26's ":0" command id, an identity failure), the test takes a real line
and changes only the part the case is about, in plain sight.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import (
    ENROLLMENT,
    HISTORY,
    NO_ENROLLMENT,
    WINDOW,
    diagnose,
    entries,
    observe,
    quiet_rule,
    reference_line,
    reference_lines,
    run_lines,
)
from watchdog_mdm.enrollment import enrollment_from_log
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.evidence import Collector
from watchdog_mdm.keys import Verdict
from watchdog_mdm.verdicts import judge

LAST_200 = datetime(2023, 5, 4, 5, 17, 24, 613000, tzinfo=UTC)


def device_line(*needles: str) -> str:
    return reference_line("mdmclient_lines.txt", "mdmclient[", "0:MDMDaemon", *needles)


class TestMDMClientStuck:
    def test_not_stuck_while_the_device_channel_got_a_200_within_the_window(self) -> None:
        d = diagnose(run_lines(), at=LAST_200 + timedelta(minutes=10))
        assert d.client_stuck is False
        assert "10 min ago" in d.reasons[Verdict.CLIENT_STUCK]

    def test_stuck_when_the_last_200_is_older_than_the_window(self) -> None:
        d = diagnose(run_lines(), at=LAST_200 + timedelta(minutes=91))
        assert d.client_stuck is True
        assert "1 h 31 min ago" in d.reasons[Verdict.CLIENT_STUCK]

    def test_window_boundary_is_inclusive(self) -> None:
        assert diagnose(run_lines(), at=LAST_200 + WINDOW).client_stuck is False
        at = LAST_200 + WINDOW + timedelta(microseconds=1)
        assert diagnose(run_lines(), at=at).client_stuck is True

    def test_user_channel_success_does_not_count(self) -> None:
        user = [x.replace("[0:MDMDaemon:", "[501:MDMAgent:") for x in run_lines()]
        d = diagnose(user, at=LAST_200 + timedelta(minutes=5))
        assert d.client_stuck is True
        assert "user channel succeeded" in d.reasons[Verdict.CLIENT_STUCK]
        assert d.observations.last_user_success is not None

    def test_a_user_id_on_the_daemon_tag_is_not_the_device_channel(self) -> None:
        odd = [x.replace("[0:MDMDaemon:", "[501:MDMDaemon:") for x in run_lines()]
        assert diagnose(odd, at=LAST_200 + timedelta(minutes=5)).client_stuck is True

    def test_a_200_without_a_channel_tag_proves_nothing(self) -> None:
        untagged = [x.replace("[0:MDMDaemon:HTTPUtil:", "[HTTPUtil:") for x in run_lines()]
        obs = observe(untagged)
        assert obs.last_device_success is None
        assert obs.last_user_success is None

    def test_user_channel_alone_does_not_prove_enrollment_offline(self) -> None:
        user = [x.replace("[0:MDMDaemon:", "[501:MDMAgent:") for x in run_lines()]
        assert enrollment_from_log(observe(user)).enrolled is None

    @pytest.mark.parametrize("status", ["Error", "NotNow"])
    def test_a_200_with_an_error_or_not_now_status_is_still_an_exchange(self, status: str) -> None:
        line = device_line("Received HTTP response (200) [Acknowledged(ScheduleOSUpdate)")
        answered = line.replace("[Acknowledged(", f"[{status}(")
        at = entries([answered])[0].timestamp + timedelta(minutes=30)
        d = diagnose([answered], at=at)
        assert d.client_stuck is False
        assert d.observations.last_command is not None
        assert d.observations.last_command.status == status
        assert diagnose([answered], at=at + WINDOW).client_stuck is True

    def test_a_non_200_response_is_no_exchange(self) -> None:
        line = device_line("Received HTTP response (200) [Idle]")
        refused = line.replace("(200)", "(401)")
        at = entries([refused])[0].timestamp + timedelta(minutes=5)
        d = diagnose([refused], at=at)
        assert d.client_stuck is True
        assert "last failed response" in d.reasons[Verdict.CLIENT_STUCK]

    def test_a_request_without_an_answer_is_no_exchange(self) -> None:
        # super issue #107: the Mac sent Acknowledged(ScheduleOSUpdate) and the log ends.
        sent = reference_line("mdmclient_lines.txt", "2023-07-14 08:13:24.323")
        at = entries([sent])[0].timestamp + timedelta(minutes=1)
        d = diagnose([sent], at=at)
        assert d.client_stuck is True
        assert d.updates_stuck is True

    def test_not_enrolled_is_never_stuck(self) -> None:
        d = diagnose([], at=LAST_200, enrollment=NO_ENROLLMENT)
        assert (d.enrolled, d.client_stuck, d.updates_stuck) == (False, False, False)
        assert "not enrolled" in d.reasons[Verdict.CLIENT_STUCK]

    def test_unknown_enrollment_is_not_judged_stuck(self) -> None:
        workflow = reference_lines("softwareupdated_lines.txt", "softwareupdated[12813")
        obs = observe(workflow)
        d = judge(obs, obs.newest_entry or LAST_200, quiet_rule(WINDOW), enrollment_from_log(obs))
        assert d.enrolled is None
        assert d.client_stuck is False
        assert "unknown" in d.reasons[Verdict.CLIENT_STUCK]

    def test_enrolled_with_no_traffic_at_all_is_stuck(self) -> None:
        d = diagnose([], at=LAST_200)
        assert d.client_stuck is True
        assert "none in the log read" in d.reasons[Verdict.CLIENT_STUCK]


class TestMDMSoftwareUpdatesStuck:
    def test_stuck_after_schedule_os_update_even_when_older_than_the_window(self) -> None:
        d = diagnose(run_lines(), at=LAST_200 + timedelta(hours=5))
        assert d.updates_stuck is True
        assert d.observations.last_command is not None
        assert d.observations.last_command.request_type == "ScheduleOSUpdate"
        assert "ScheduleOSUpdate" in d.reasons[Verdict.UPDATES_STUCK]

    def test_not_when_the_client_is_not_stuck(self) -> None:
        d = diagnose(run_lines(), at=LAST_200 + timedelta(minutes=1))
        assert d.updates_stuck is False

    def test_not_when_the_last_command_is_older_than_the_history(self) -> None:
        d = diagnose(run_lines(), at=LAST_200 + HISTORY + timedelta(minutes=1))
        assert d.client_stuck is True
        assert d.updates_stuck is False
        assert "no MDM command seen" in d.reasons[Verdict.UPDATES_STUCK]

    def test_not_when_the_last_command_is_something_else(self) -> None:
        # Elliot Jordan's FileVault escrow capture: the last command was SecurityInfo.
        lines = reference_lines("mdmclient_lines.txt", "2023-09-23 10:5")
        at = entries(lines)[-1].timestamp + timedelta(hours=3)
        d = diagnose(lines, at=at)
        assert d.client_stuck is True
        assert d.updates_stuck is False
        assert "SecurityInfo" in d.reasons[Verdict.UPDATES_STUCK]

    def test_idle_polls_and_check_ins_are_not_commands(self) -> None:
        lines = run_lines()
        cut = lines.index(next(x for x in lines if "Acknowledged(ScheduleOSUpdate)" in x))
        # An update command, then only Idle polls and a bootstrap-token check-in.
        tail = [device_line("[Idle]"), device_line("[MDM_GetBootstrapToken]")]
        observed = observe(lines[: cut + 2] + tail)
        assert observed.last_command is not None
        assert observed.last_command.request_type == "ScheduleOSUpdate"

    def test_macos_26_zero_command_id(self) -> None:
        line = device_line("Received HTTP response (200) [Acknowledged(ScheduleOSUpdate)")
        zero = line.split("ScheduleOSUpdate):")[0] + "ScheduleOSUpdate):0] <<<<<"
        d = diagnose([zero], at=entries([zero])[0].timestamp + timedelta(hours=2))
        assert d.observations.last_command is not None
        assert d.observations.last_command.request_type == "ScheduleOSUpdate"
        assert d.updates_stuck is True

    def test_every_update_command_of_the_protocol_counts(self) -> None:
        line = device_line("Received HTTP response (200) [Acknowledged(ScheduleOSUpdate)")
        for command in ("ScheduleOSUpdateScan", "AvailableOSUpdates", "OSUpdateStatus"):
            changed = line.replace("(ScheduleOSUpdate)", f"({command})")
            at = entries([changed])[0].timestamp + timedelta(hours=2)
            assert diagnose([changed], at=at).updates_stuck is True, command

    def test_declarative_management_alone_is_not_an_update(self) -> None:
        ddm = reference_line("mdmclient_lines.txt", "2024-12-21 13:04:21")
        d = diagnose([ddm], at=entries([ddm])[0].timestamp + timedelta(hours=2))
        assert d.client_stuck is True
        assert d.updates_stuck is False
        assert "DeclarativeManagement" in d.reasons[Verdict.UPDATES_STUCK]

    def test_declarative_management_with_ddm_update_enforcement_is_an_update(self) -> None:
        ddm = reference_line("mdmclient_lines.txt", "2024-12-21 13:04:21")
        (request,) = entries([ddm])
        # softwareupdated's message from sudoade.com's install.log sample, as its own entry.
        install_log = reference_line("softwareupdated_lines.txt", "Posted DDM notification")
        enforcement = LogEntry(
            request.timestamp - timedelta(minutes=1),
            "softwareupdated",
            install_log.split("softwareupdated[455]: ", 1)[1],
        )
        obs = Collector().add_all([enforcement, request]).observations()
        d = judge(obs, request.timestamp + timedelta(hours=2), quiet_rule(WINDOW), ENROLLMENT)
        assert d.updates_stuck is True


class TestMDMIdentityError:
    # No captured line carries the wording; admins' scripts grep mdmclient's output for it.
    def identity_line(self) -> str:
        line = reference_line("mdmclient_lines.txt", "2023-09-06 16:05:19.137")
        return line.split("Saved PRK")[0] + "Unable to create MDM identity"

    def test_identity_failure_within_the_window(self) -> None:
        line = self.identity_line()
        at = entries([line])[0].timestamp + timedelta(minutes=30)
        d = diagnose([line], at=at)
        assert d.identity_error is True
        assert "Unable to create MDM identity" in d.reasons[Verdict.IDENTITY_ERROR]

    def test_identity_failure_older_than_the_window(self) -> None:
        line = self.identity_line()
        at = entries([line])[0].timestamp + WINDOW + timedelta(minutes=1)
        assert diagnose([line], at=at).identity_error is False

    def test_only_mdmclient_counts(self) -> None:
        line = self.identity_line().replace("mdmclient[", "somethingelse[")
        line = line.replace("[com.apple.ManagedClient:", "[com.example.other:")
        at = entries([line])[0].timestamp
        assert diagnose([line], at=at).identity_error is False


class TestJudgingAsOf:
    def test_entries_after_the_judged_instant_are_ignored(self) -> None:
        lines = run_lines()
        first_200 = entries([x for x in lines if "(200)" in x])[0].timestamp
        obs = observe(lines, until=first_200)
        assert obs.last_device_success is not None
        assert obs.last_device_success.time == first_200
        assert obs.newest_entry == first_200

    def test_newest_identity_errors_are_kept_in_any_order(self) -> None:
        line = reference_line("mdmclient_lines.txt", "2023-09-06 16:05:19.137")
        base = entries([line.split("Saved PRK")[0] + "Unable to create MDM identity"])[0]
        week_old = [
            base._replace(timestamp=base.timestamp - timedelta(days=7, minutes=m)) for m in range(8)
        ]
        at = base.timestamp + timedelta(minutes=10)
        for order in ([base, *week_old], [*week_old, base]):
            obs = Collector().add_all(order).observations()
            assert obs.identity_errors[-1].time == base.timestamp
            assert judge(obs, at, quiet_rule(WINDOW), ENROLLMENT).identity_error is True

    def test_order_of_entries_does_not_matter(self) -> None:
        lines = run_lines() + reference_lines("mdmclient_lines.txt", "2023-09-23")
        shuffled = list(lines)
        random.Random(7).shuffle(shuffled)
        assert observe(shuffled) == observe(lines)


def _exchange(at: datetime, minutes_before: int) -> LogEntry:
    return LogEntry(
        at - timedelta(minutes=minutes_before),
        "mdmclient",
        "[0:MDMDaemon:HTTPUtil:<0x1>] <<<<< Received HTTP response (200) [Idle] <<<<<",
        "com.apple.ManagedClient",
        "HTTPUtil",
    )


@given(
    st.lists(st.integers(min_value=-30, max_value=3000), max_size=20),
    st.integers(min_value=5, max_value=600),
)
def test_stuck_exactly_when_no_device_200_falls_in_the_window(
    minutes_before: list[int], window_minutes: int
) -> None:
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    window = timedelta(minutes=window_minutes)
    obs = Collector(until=at).add_all(_exchange(at, m) for m in minutes_before).observations()
    d = judge(obs, at, quiet_rule(window), ENROLLMENT)
    expected = not any(0 <= m <= window_minutes for m in minutes_before)
    assert d.client_stuck is expected
    assert d.updates_stuck is False  # Idle polls are not commands
