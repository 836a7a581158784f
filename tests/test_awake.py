"""awake.py's pure functions: sysctl's timevals, awake time from either source, the
quiet ledger across runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import reference_line
from watchdog_mdm.awake import (
    Power,
    PowerEvent,
    PowerSource,
    QuietLedger,
    account_quiet,
    parse_sysctl_times,
)

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class TestSysctl:
    def test_the_real_value(self) -> None:
        line = reference_line("power_lines.txt", "sec = 1732899912")
        assert parse_sysctl_times(line) == (datetime.fromtimestamp(1732899912.113437, UTC),)

    def test_never_slept_is_none(self) -> None:
        zero = reference_line("power_lines.txt", "sec = 0,")
        real = reference_line("power_lines.txt", "sec = 1732899912")
        wake, boot = parse_sysctl_times(f"{zero}\n{real}\n")
        assert wake is None
        assert boot == datetime.fromtimestamp(1732899912.113437, UTC)

    def test_usec_is_not_read_as_sec(self) -> None:
        # "usec = " contains "sec = ": a greedy parser reads the wrong number
        (value,) = parse_sysctl_times("{ sec = 100, usec = 999999 } Thu Jan  1 00:01:40 1970")
        assert value == datetime.fromtimestamp(100.999999, UTC)

    @pytest.mark.parametrize("text", ["garbage", "kern.waketime: unknown oid", "{ sec = x }"])
    def test_anything_else_raises(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_sysctl_times(text)


class TestAwakeBetween:
    def test_sysctl_counts_only_since_the_last_wake(self) -> None:
        power = Power(PowerSource.SYSCTL, boot=AT - 100 * HOUR, last_wake=AT - 2 * HOUR)
        assert power.awake_between(AT - 10 * HOUR, AT) == 2 * HOUR
        assert power.awake_between(AT - HOUR, AT) == HOUR
        assert power.awake_since_start(AT) == 2 * HOUR

    def test_sysctl_boot_without_wake(self) -> None:
        power = Power(PowerSource.SYSCTL, boot=AT - 3 * HOUR, last_wake=None)
        assert power.awake_start(AT) == AT - 3 * HOUR

    def test_log_takes_every_sleep_out(self) -> None:
        events = (
            PowerEvent(AT - 8 * HOUR, asleep=True),
            PowerEvent(AT - 5 * HOUR, asleep=False),
            PowerEvent(AT - 2 * HOUR, asleep=True),
        )
        power = Power(PowerSource.LOG, events=events)
        # 10 h span: asleep 3 h, then asleep again for the last 2 h
        assert power.awake_between(AT - 10 * HOUR, AT) == 5 * HOUR
        assert power.awake_start(AT) == AT - 5 * HOUR

    def test_nothing_known_is_wall_time(self) -> None:
        assert Power().awake_between(AT - 5 * HOUR, AT) == 5 * HOUR
        assert Power().awake_since_start(AT) is None
        assert not Power().accounts_for_sleep

    @given(
        st.lists(st.tuples(st.integers(0, 1000), st.booleans()), max_size=12),
        st.integers(0, 1000),
    )
    def test_awake_time_is_never_more_than_the_span(
        self, raw: list[tuple[int, bool]], since: int
    ) -> None:
        events = tuple(
            PowerEvent(AT - timedelta(minutes=m), asleep) for m, asleep in sorted(raw, reverse=True)
        )
        span = timedelta(minutes=since)
        awake = Power(PowerSource.LOG, events=events).awake_between(AT - span, AT)
        assert timedelta(0) <= awake <= span


class TestQuietLedger:
    power = Power(PowerSource.SYSCTL, boot=AT - 100 * HOUR, last_wake=AT - 50 * HOUR)

    def test_started_from_the_last_sign_of_life(self) -> None:
        ledger = account_quiet(None, AT - 3 * HOUR, AT, self.power, True)
        assert ledger == QuietLedger(AT - 3 * HOUR, 3 * HOUR, AT, True)

    def test_starts_now_at_zero_without_any_sign_of_life(self) -> None:
        # nothing known of mdmclient: counted from the first run, never from a guess
        assert account_quiet(None, None, AT, self.power, True) == QuietLedger(
            AT, timedelta(0), AT, True
        )

    def test_grows_only_while_online_at_both_ends(self) -> None:
        first = QuietLedger(AT - 5 * HOUR, 2 * HOUR, AT - HOUR, True)
        assert account_quiet(first, None, AT, self.power, True).quiet == 3 * HOUR
        assert account_quiet(first, None, AT, self.power, False).quiet == 2 * HOUR
        offline = QuietLedger(AT - 5 * HOUR, 2 * HOUR, AT - HOUR, False)
        assert account_quiet(offline, None, AT, self.power, True).quiet == 2 * HOUR

    def test_a_newer_sign_of_life_restarts_it(self) -> None:
        first = QuietLedger(AT - 50 * HOUR, 40 * HOUR, AT - HOUR, True)
        ledger = account_quiet(first, AT - 10 * 60 * timedelta(seconds=1), AT, self.power, True)
        assert ledger is not None and ledger.quiet == timedelta(minutes=10)

    def test_a_ledger_from_the_future_is_not_trusted(self) -> None:
        # the clock went back, or state.json was edited: counted again from now, so a
        # frozen ledger can never keep a Mac "quiet too long"
        first = QuietLedger(AT - 5 * HOUR, 2 * HOUR, AT, True)
        restarted = QuietLedger(AT - HOUR, timedelta(0), AT - HOUR, True)
        assert account_quiet(first, None, AT - HOUR, self.power, True) == restarted
        ahead = QuietLedger(AT + 2 * DAY, 50 * HOUR, AT + 2 * DAY, True)
        assert account_quiet(ahead, AT - 3 * HOUR, AT, self.power, True) == QuietLedger(
            AT - 3 * HOUR, 3 * HOUR, AT, True
        )

    def test_one_run_adds_at_most_two_intervals(self) -> None:
        # three days between runs with no wake: a clock set forward, not awake time
        first = QuietLedger(AT - 5 * HOUR, 2 * HOUR, AT - 3 * DAY, True)
        grown = account_quiet(first, None, AT, Power(PowerSource.SYSCTL, boot=AT - 9 * DAY), True)
        assert grown.quiet == 2 * HOUR + timedelta(minutes=190)

    def test_an_orphan_wake_counts_as_asleep_before_it(self) -> None:
        # the sleep before this wake is no longer in the log: nothing before it is awake
        power = Power(PowerSource.LOG, events=(PowerEvent(AT - 2 * HOUR, asleep=False),))
        assert power.awake_between(AT - 3 * DAY, AT) == 2 * HOUR

    def test_a_time_past_the_platforms_range_is_refused_not_a_crash(self) -> None:
        with pytest.raises(ValueError, match="not a time"):
            parse_sysctl_times("{ sec = 9999999999999999999999, usec = 0 } x")
