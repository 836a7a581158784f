"""The span an export is judged over (watchdog_mdm/span.py), and reading only the end of
an export that settles it (diagnose.analyze_end): whatever the export, in every style,
the result is the result of reading all of it; only what was read differs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.exports import (
    CHATTER,
    COMMANDS,
    EXCHANGES,
    PROGRESS,
    STYLES,
    downloading,
    export_of,
    render,
    write_export,
)
from tests.support import FakeSystem, reference_line, run_installed
from tests.test_client_state import (
    CONNECT,
    IDENTITY,
    MDM_PUSH,
    OK,
    REDACTED_PUSH,
    REJECTED_401,
    SENT,
    SERVER_503,
    SLEEP,
    WAKE,
    apsd,
    mdm,
    powerd,
)
from watchdog_mdm.awake import PowerEvent
from watchdog_mdm.config import Settings, StuckRule
from watchdog_mdm.diagnose import GLANCE_SHARE, Examination, analyze_end, analyze_export
from watchdog_mdm.evidence import (
    POWER_EVENTS_KEPT,
    Observations,
    Outcome,
    OutcomeKind,
    Sighting,
)
from watchdog_mdm.framing import Buffer
from watchdog_mdm.patterns import POWER_MARKERS
from watchdog_mdm.report import explain, to_document
from watchdog_mdm.span import judged_since
from watchdog_mdm.system import MacSystem
from watchdog_mdm.tail import last_block, last_marker_before

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)
SOFTWAREUPDATED = PROGRESS[0][1]
DECLARATION = (
    "softwareupdated",
    SOFTWAREUPDATED,
    "com.apple.SoftwareUpdate",
    "SU",
    reference_line("ddm_update_lines.txt", "declarationFromKeys"),
)
# Short settings, so that exports of a few hundred lines reach far past the history.
SHORT = Settings(window=30 * MINUTE, history=2 * HOUR)


def seen(ago: timedelta, text: str = "line") -> Sighting:
    return Sighting(AT - ago, text)


def ended(ago: timedelta) -> Outcome:
    return Outcome(AT - ago, OutcomeKind.SUCCESS, "line", "200")


def talking(ago: timedelta, *power: PowerEvent) -> Observations:
    """mdmclient's last exchange ``ago``: a request answered by a 200."""
    return Observations(
        last_device_activity=seen(ago),
        last_device_success=seen(ago),
        last_device_outcome=ended(ago),
        last_device_request=seen(ago),
        power_events=power,
    )


def test_the_span_is_the_history_when_mdmclient_talked_within_it_and_the_mac_slept_before() -> None:
    obs = talking(30 * MINUTE, PowerEvent(AT - 30 * HOUR, True), PowerEvent(AT - 5 * HOUR, False))
    assert judged_since(obs, AT, SHORT, read_from=None) == AT - 5 * HOUR
    assert judged_since(obs, AT, Settings(), read_from=None) == AT - 30 * HOUR
    # read from an instant after them, the events say nothing of the state before
    assert judged_since(obs, AT, SHORT, read_from=AT - 4 * HOUR) == AT - 5 * HOUR


def test_the_span_reaches_back_to_mdmclients_last_exchange_however_old() -> None:
    quiet = Observations(
        last_device_activity=seen(9 * 24 * HOUR),
        last_device_success=seen(10 * 24 * HOUR),
        last_device_request=seen(9 * 24 * HOUR),
        last_device_outcome=ended(9 * 24 * HOUR),
    )
    assert judged_since(quiet, AT, SHORT, read_from=None) == AT - 10 * 24 * HOUR


def test_a_read_of_the_end_cannot_settle_a_span_whose_sighting_it_lacks() -> None:
    lacking_success = Observations(
        last_device_activity=seen(MINUTE),
        last_device_request=seen(MINUTE),
        last_device_outcome=ended(MINUTE),
    )
    # an older 200 may be before what was read
    assert judged_since(lacking_success, AT, SHORT, read_from=AT - 3 * HOUR) is None
    # read whole, there is none: the span is the history (before the sleep state)
    assert judged_since(lacking_success, AT, SHORT, read_from=None) == AT - 2 * HOUR


def test_the_sleep_state_at_the_spans_start_needs_an_event_before_it() -> None:
    after_only = talking(MINUTE, PowerEvent(AT - HOUR, False))
    assert judged_since(after_only, AT, SHORT, read_from=AT - 3 * HOUR) is None
    assert judged_since(after_only, AT, SHORT, read_from=None) == AT - 2 * HOUR
    # the newest events kept all after the start: older ones are not kept anyway
    full = talking(
        MINUTE,
        *(
            PowerEvent(AT - HOUR + n * 5 * timedelta(seconds=1), n % 2 == 0)
            for n in range(POWER_EVENTS_KEPT)
        ),
    )
    assert judged_since(full, AT, SHORT, read_from=AT - 3 * HOUR) == AT - 2 * HOUR


def test_facts_older_than_the_span_are_dropped_and_newer_ones_kept() -> None:
    obs = Observations(
        last_device_success=seen(3 * HOUR),
        last_device_failure=seen(HOUR),
        identity_errors=(seen(5 * HOUR), seen(HOUR)),
        power_events=(PowerEvent(AT - 5 * HOUR, True), PowerEvent(AT - HOUR, False)),
        redacted_pushes=7,
        daemon_entries=40,
    )
    span = obs.since(AT - 2 * HOUR)
    assert span.last_device_success is None
    assert span.last_device_failure == obs.last_device_failure
    assert span.identity_errors == (seen(HOUR),)
    assert span.power_events == (PowerEvent(AT - HOUR, False),)
    # counts are of the log read
    assert (span.redacted_pushes, span.daemon_entries) == (7, 40)


# Every kind of line the checks read, and chatter; real wordings (tests/test_client_state.py).
RECORDS = [
    mdm(SENT),
    mdm(OK),
    mdm(OK),
    mdm(SERVER_503),
    mdm(REJECTED_401),
    mdm(CONNECT, "MDMDaemon"),
    mdm(IDENTITY, "FVEscrow"),
    EXCHANGES[2],  # the user channel
    *COMMANDS,
    apsd(MDM_PUSH),
    apsd(REDACTED_PUSH),
    powerd(SLEEP),
    powerd(WAKE),
    # in default output the syslog style's pattern fits it too (tests/test_logs.py)
    powerd(f"foo[12]: {WAKE}"),
    PROGRESS[0],
    downloading(0.4),
    DECLARATION,
    *CHATTER[:4],
]

row_strategy = st.tuples(
    # minutes since the row before, ties included: hours of export against a history
    # of two
    st.sampled_from([5, 20, 45, 90, 240, 0, 1]),
    st.integers(0, len(RECORDS) - 1),
    st.sampled_from([0, 0, 501, None]),
)
rows_strategy = st.lists(row_strategy, min_size=1, max_size=200)
# long enough to reach past the history, most of the time
long_rows = st.lists(row_strategy, min_size=30, max_size=200)


def rows_of(spec: list[tuple[int, int, int | None]]) -> list[Any]:
    rows, when = [], AT - 60 * HOUR
    for gap, record, user in spec:
        when += gap * MINUTE
        rows.append((when, RECORDS[record], user))
    return rows


def result(examination: Examination) -> dict[str, Any]:
    """What analyze reports, but for what was read: how much, and what it counted."""
    document = to_document(examination)
    evidence = document["evidence"]
    for counted in ("log", "senders", "redacted_pushes"):
        del evidence[counted]
    return document


def both_reads(
    path: Path,
    rules: Settings = SHORT,
    block: int = 600,
    naive_tz: tzinfo = UTC,
    at: datetime | None = None,
) -> tuple[Examination, Examination | None]:
    """Read as analyze reads a file the user names: the fake System's chunks are single
    lines, which no real reader gives (and pretty JSON records cut there are read late:
    docs/performance.md)."""
    system = MacSystem("/")
    whole = analyze_export(
        [system.read_export(str(path))],
        settings=rules,
        at=at,
        naive_tz=naive_tz,
        clock=AT,
    )
    end = analyze_end(
        system, str(path), settings=rules, naive_tz=naive_tz, clock=AT, at=at, block=block
    )
    return whole, end


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    style=st.sampled_from(STYLES),
    spec=st.one_of(rows_strategy, long_rows),
    block=st.sampled_from([300, 600, 2500]),
    quiet_rule=st.booleans(),
)
def test_reading_only_the_end_gives_what_reading_all_of_it_gives(
    tmp_path_factory: pytest.TempPathFactory,
    style: str,
    spec: list[tuple[int, int, int | None]],
    block: int,
    quiet_rule: bool,
) -> None:
    path = tmp_path_factory.mktemp("span") / f"export.{style}"
    path.write_bytes(export_of(style, rows_of(spec)))
    rule = replace(SHORT, stuck_rule=StuckRule.QUIET if quiet_rule else StuckRule.EVIDENCE)
    whole, end = both_reads(path, rule, block)
    assert end is not None  # one export in time order: nothing unusual
    assert result(end) == result(whole)
    event("read from its end" if end.log.bytes_read < whole.log.bytes_read else "read whole")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    style=st.sampled_from(STYLES),
    first=long_rows,
    second=rows_strategy,
    gap_hours=st.integers(-80, 80),
    cut=st.integers(0, 400),
    block=st.sampled_from([300, 600, 2500]),
)
def test_joined_or_cut_short_exports_are_read_from_their_end_alike_or_read_whole(
    tmp_path_factory: pytest.TempPathFactory,
    style: str,
    first: list[tuple[int, int, int | None]],
    second: list[tuple[int, int, int | None]],
    gap_hours: int,
    cut: int,
    block: int,
) -> None:
    """Joined with `cat` in either order, and cut short anywhere in the last line or
    so (an export copied while it was written)."""
    joined = export_of(style, rows_of(first)) + export_of(
        style, [(when + gap_hours * HOUR, *rest) for when, *rest in rows_of(second)]
    )
    path = tmp_path_factory.mktemp("span") / f"joined.{style}"
    path.write_bytes(joined[: max(1, len(joined) - cut)])
    whole, end = both_reads(path, SHORT, block)
    if end is not None:
        assert result(end) == result(whole)
    event("read whole" if end is None else "read from its end")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    styles=st.tuples(st.sampled_from(STYLES), st.sampled_from(STYLES)),
    first=long_rows,
    second=rows_strategy,
    gap_hours=st.integers(-80, 80),
    block=st.sampled_from([300, 600, 2500]),
)
def test_exports_of_two_styles_joined_are_read_from_their_end_alike_or_read_whole(
    tmp_path_factory: pytest.TempPathFactory,
    styles: tuple[str, str],
    first: list[tuple[int, int, int | None]],
    second: list[tuple[int, int, int | None]],
    gap_hours: int,
    block: int,
) -> None:
    """Two exports of any styles joined with `cat` (found in review: default output then
    syslog output, the end read stepping back into the default part)."""
    joined = export_of(styles[0], rows_of(first)) + export_of(
        styles[1], [(when + gap_hours * HOUR, *rest) for when, *rest in rows_of(second)]
    )
    path = tmp_path_factory.mktemp("span") / "joined.log"
    path.write_bytes(joined)
    whole, end = both_reads(path, SHORT, block)
    if end is not None:
        assert result(end) == result(whole)
    event("read whole" if end is None else "read from its end")


def long_export(tmp_path: Path, style: str, *, with_power: bool = True) -> Path:
    """Five days of a healthy Mac: a check-in every 20 minutes, chatter between, and a
    sleep or a wake every 3 hours or so when the export holds powerd's events."""
    rows: list[Any] = []
    when = AT - 120 * HOUR
    n = 0
    while when < AT:
        when += 5 * MINUTE
        n += 1
        if n % 4 == 0:
            rows += [(when, mdm(SENT), 0), (when + MINUTE, mdm(OK), 0)]
        elif with_power and n % 37 == 0:
            rows.append((when, powerd(SLEEP if n % 2 else WAKE), 0))
        else:
            rows.append((when, CHATTER[n % 4], 0))
    path = tmp_path / f"long.{style}"
    path.write_bytes(export_of(style, rows))
    return path


class SlicesTaken(bytes):
    """An export's bytes that remember where each slice taken of them starts."""

    starts: ClassVar[list[int]] = []

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            SlicesTaken.starts.append(key.indices(len(self))[0])
        return super().__getitem__(key)


class MappingSlicesTaken(MacSystem):
    @contextmanager
    def map_export(self, path: str) -> Iterator[Buffer | None]:
        yield SlicesTaken(Path(path).read_bytes())


@pytest.mark.parametrize("style", STYLES)
def test_an_export_that_begins_within_the_span_is_read_whole_at_a_glance(
    tmp_path: Path, style: str
) -> None:
    """Five days of a healthy Mac judged over a history of a week: the newest entries of
    its last 64th of a block show that the span reaches its start, so all of it is read
    without its last block being read for its newest entry first."""
    path = long_export(tmp_path, style)
    week = replace(Settings(), history=7 * 24 * HOUR)
    SlicesTaken.starts = []
    end = analyze_end(
        MappingSlicesTaken("/"), str(path), settings=week, naive_tz=UTC, clock=AT, block=4096
    )
    whole = analyze_export(
        [MacSystem("/").read_export(str(path))], settings=week, at=None, naive_tz=UTC, clock=AT
    )
    assert end is not None and result(end) == result(whole)
    assert end.log.bytes_read == path.stat().st_size  # read once, whole
    data = path.read_bytes()
    assert last_block(data, 4096 // GLANCE_SHARE) in SlicesTaken.starts
    assert last_block(data, 4096) not in SlicesTaken.starts


@pytest.mark.parametrize("style", STYLES)
def test_a_healthy_macs_long_export_is_judged_from_its_end(tmp_path: Path, style: str) -> None:
    path = long_export(tmp_path, style)
    whole, end = both_reads(path, Settings(), block=4096)
    assert end is not None
    assert result(end) == result(whole)
    assert end.judged_since is not None
    # the history, and back to the sleep or wake before it (about every 3 hours)
    assert end.judged_since >= end.diagnosis.judged_at - 30 * HOUR
    assert end.log.bytes_read < path.stat().st_size * 0.8
    assert whole.log.bytes_read == path.stat().st_size


def test_an_export_without_sleep_events_is_searched_for_them_not_read_whole(
    tmp_path: Path,
) -> None:
    """That no sleep or wake precedes the span is ruled out by the bytes alone."""
    path = long_export(tmp_path, "ndjson", with_power=False)
    whole, end = both_reads(path, Settings(), block=4096)
    assert end is not None
    assert result(end) == result(whole)
    assert end.judged_since == whole.judged_since == whole.diagnosis.judged_at - 24 * HOUR
    assert end.log.bytes_read < path.stat().st_size * 0.4


def test_other_programs_lines_with_the_words_of_a_wake_do_not_make_it_step_back_slowly(
    tmp_path: Path,
) -> None:
    rows: list[Any] = []
    when = AT - 120 * HOUR
    while when < AT:
        when += 5 * MINUTE
        rows += [(when, mdm(SENT), 0), (when + MINUTE, mdm(OK), 0)]
        # every 5 minutes, another program's line with a wake's words
        rows.append((when + 2 * MINUTE, (*CHATTER[3][:4], "Wake from the dock"), 0))
    path = tmp_path / "worded.ndjson"
    path.write_bytes(export_of("ndjson", rows))
    whole, end = both_reads(path, Settings(), block=4096)
    assert end is not None
    assert result(end) == result(whole)
    assert end.log.bytes_read < path.stat().st_size * 3


def test_the_last_marker_is_found_across_a_blocks_start() -> None:
    data = b"x" * 100 + b"Wake from Deep Idle" + b"y" * 100
    for block in (7, 50, 105, 1000):
        assert last_marker_before(data, POWER_MARKERS, len(data), block) == 100
        assert last_marker_before(data, POWER_MARKERS, 109, block) is None  # cut by ``before``
    assert last_marker_before(b"no sleep here", POWER_MARKERS, 13) is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    style=st.sampled_from(STYLES),
    spec=long_rows,
    minutes=st.integers(-3000, 3000),
    block=st.sampled_from([300, 600, 2500]),
)
def test_judged_as_of_an_instant_the_end_is_read_only_when_it_is_after_the_newest_entry(
    tmp_path_factory: pytest.TempPathFactory,
    style: str,
    spec: list[tuple[int, int, int | None]],
    minutes: int,
    block: int,
) -> None:
    """--at after the newest entry: read from the end, as of that instant; before it (in
    the middle of the export): read whole, with what came later left out."""
    rows = rows_of(spec)
    path = tmp_path_factory.mktemp("span") / f"export.{style}"
    path.write_bytes(export_of(style, rows))
    at = max(when for when, *_ in rows) + minutes * MINUTE
    whole, end = both_reads(path, SHORT, block, at=at)
    assert end is not None
    assert result(end) == result(whole)
    assert end.diagnosis.judged_at == at
    if minutes < 0:
        assert end.log.bytes_read >= path.stat().st_size  # all of it


def test_standard_input_is_not_read_from_its_end() -> None:
    assert analyze_end(FakeSystem(), "-", settings=SHORT, naive_tz=UTC, clock=AT) is None


def healthy_day(start: datetime, hours: int, record_every: int = 6) -> list[Any]:
    """A healthy Mac's rows: a request and its 200 every half hour, a wake every three
    hours, chatter between, every 5 minutes."""
    rows: list[Any] = []
    for n in range(hours * 12):
        when = start + n * 5 * MINUTE
        kind = n % record_every
        record = mdm(SENT) if kind == 0 else mdm(OK) if kind == 1 else CHATTER[n % 4]
        rows.append((when, powerd(WAKE) if n % 36 == 2 else record, 0))
    return rows


def test_a_stuck_verdict_from_the_end_of_exports_joined_out_of_order_is_checked_whole(
    tmp_path: Path,
) -> None:
    """A short export whose last line is the newest 200, joined in front of a long one
    that ends with a request not yet answered: the steps back check the order only at a
    few points, and from the end the request looks hung; a read of all of it finds the
    200, which came later."""
    tiny: list[Any] = [
        (AT, CHATTER[0], 0),
        (AT + 60 * HOUR, mdm(SENT), 0),
        (AT + 61 * HOUR, mdm(OK), 0),
    ]
    rows = healthy_day(AT + HOUR, 50)
    last = rows[-1][0]
    rows += [(last + MINUTE, mdm(SENT), 0)]
    rows += [(last + (2 + k) * MINUTE, CHATTER[k % 4], 0) for k in range(20)]
    path = tmp_path / "joined.log"
    path.write_bytes(export_of("default", tiny) + export_of("default", rows))
    whole, end = both_reads(path)
    assert end is not None
    assert result(end) == result(whole)
    assert end.diagnosis.client_stuck is False


def test_a_stuck_verdict_the_older_log_contradicts_is_judged_over_all_of_the_export(
    tmp_path: Path,
) -> None:
    """A DDM declaration 30 hours old, then ScheduleOSUpdate and a hung request: over the
    span the update looks stalled; over all of it, declared, with the running version
    unknown. Never stuck where all of the export says otherwise."""
    rows: list[Any] = [
        (AT - 30 * HOUR, DECLARATION, 0),
        (AT - 29 * HOUR, powerd(WAKE), 0),
        (AT - 2 * HOUR, mdm(SENT), 0),
        (AT - 2 * HOUR + MINUTE, COMMANDS[0], 0),
        (AT - 20 * MINUTE, mdm(SENT), 0),
        *((AT - k * MINUTE, CHATTER[k % 4], 0) for k in range(19, -1, -1)),
    ]
    path = tmp_path / "declared.ndjson"
    path.write_bytes(export_of("ndjson", rows))
    whole, end = both_reads(path, Settings())
    assert end is not None
    assert result(end) == result(whole)
    assert (whole.diagnosis.client_stuck, whole.diagnosis.updates_stuck) == (True, None)
    assert whole.judged_whole
    assert to_document(whole)["evidence"]["judged_since"] is None
    assert "Judged over all of the export" in explain(whole)


def test_in_an_export_without_requests_the_span_reaches_back_to_the_last_command(
    tmp_path: Path,
) -> None:
    """Requests filtered out of the export: whether mdmclient is still carrying out its
    last command (30 hours ago) decides whether a push is unanswered."""
    rows: list[Any] = [
        (AT - 30 * HOUR, COMMANDS[1], 0),
        (AT - 26 * HOUR, powerd(WAKE), 0),
        (AT - HOUR, mdm(OK), 0),
        (AT - 30 * MINUTE, apsd(MDM_PUSH), 0),
        *((AT - k * MINUTE, CHATTER[k % 4], 0) for k in range(29, -1, -1)),
    ]
    path = tmp_path / "no-requests.log"
    path.write_bytes(export_of("default", rows))
    whole, end = both_reads(path, Settings())
    assert end is not None
    assert result(end) == result(whole)
    assert whole.diagnosis.client_stuck is False
    assert whole.judged_since == AT - 30 * HOUR


def compact_in(zone: ZoneInfo, rows: list[Any]) -> bytes:
    """Compact style as a Mac in ``zone`` prints it: local times, no offset."""
    body = "".join(render("compact", when.astimezone(zone), rec, uid) for when, rec, uid in rows)
    return ("Timestamp               Ty Process[PID:TID]\n" + body).encode()


def test_local_times_in_a_zone_whose_clocks_go_back_are_read_whole(tmp_path: Path) -> None:
    """Compact style has no offsets: read in New York's zone, the hour repeated on the
    night clocks go back runs times backwards, which the steps back cannot see."""
    new_york = ZoneInfo("America/New_York")
    path = tmp_path / "fall-back.compact"
    path.write_bytes(compact_in(new_york, healthy_day(datetime(2026, 10, 30, 12, tzinfo=UTC), 48)))
    whole, end = both_reads(path, SHORT, 600, new_york)
    assert end is not None
    assert result(end) == result(whole)
    assert end.log.bytes_read == path.stat().st_size  # all of it, at once


def test_exports_in_two_zones_joined_are_read_to_an_end(tmp_path: Path) -> None:
    """Times with their offsets joined with local times read in a zone with daylight
    saving: the steps back go further back each time, or all of it is read."""
    new_york = ZoneInfo("America/New_York")
    first = healthy_day(datetime(2026, 3, 7, 17, tzinfo=UTC), 8, record_every=7)
    second = healthy_day(datetime(2026, 3, 8, 2, 30, tzinfo=UTC), 14)
    path = tmp_path / "two-zones.log"
    path.write_bytes(export_of("default", first) + compact_in(new_york, second))
    whole, end = both_reads(path, SHORT, 600, new_york)
    assert end is not None
    assert result(end) == result(whole)


def test_the_installed_command_judges_a_long_export_from_its_end(tmp_path: Path) -> None:
    """As an admin runs it: 24 MB over eight days (steps back of 4 MB), judged over its
    last day and the sleep or wake before it, most of the file never read; on standard
    input, all of it, with the same result."""
    path = tmp_path / "days.ndjson"
    write_export("ndjson", path, 24_000_000, days=8)
    done = run_installed("analyze", str(path), "--json")
    assert done.returncode == 0, done.stderr
    from_end = json.loads(done.stdout)
    piped = run_installed("analyze", "-", "--json", stdin=path.read_bytes())
    whole = json.loads(piped.stdout)
    assert from_end["evidence"]["log"]["bytes_read"] < path.stat().st_size / 2
    assert whole["evidence"]["log"]["bytes_read"] == path.stat().st_size
    for document in (from_end, whole):
        for counted in ("log", "senders", "redacted_pushes"):
            del document["evidence"][counted]
    assert from_end == whole
    assert from_end["evidence"]["judged_since"] is not None
    assert from_end["MDMClientStuck"] is False
