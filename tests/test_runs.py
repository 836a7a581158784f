"""Runs of progress lines (watchdog_mdm/runs.py): reading softwareupdated's progress a run
at a time gives what reading each line whole gives: the same facts, the same counts,
in every style, wherever blocks end, on real lines and on damaged ones."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
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
)
from watchdog_mdm import patterns
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.evidence import Collector, Observations
from watchdog_mdm.framing import Buffer
from watchdog_mdm.runs import AlikeLines, ProgressRun
from watchdog_mdm.scan import LogReader

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures"

Record = tuple[str, str, str, str, str]  # process, image path, subsystem, category, message
Row = tuple[datetime, Record, int | None]  # when, what, userID


def said(message: str) -> Record:
    """softwareupdated saying ``message``."""
    process, image, subsystem, category, _ = PROGRESS[0]
    return (process, image, subsystem, category, message)


def progress(edge: str, phase: str, tail: str = " stalled:NO portionComplete:0.5") -> Record:
    return said(f"[SUMacControllerProgressManager] Reported progress ({edge}): phase:{phase}{tail}")


# Real wordings (tests/fixtures/softwareupdated_lines.txt, from super's example logs):
# the phases an update goes through, a download's reports, a catalog scan's.
RECORDS: list[Record] = [
    PROGRESS[0],
    downloading(0.25),
    downloading(0.5),
    progress("start", "RELOADING_SU", " stalled:NO portionComplete:0.010000"),
    progress("end", "RELOADING_SU", " stalled:NO portionComplete:0.019000"),
    progress("start", "PREPARED_COMMITTING_STASH", " stalled:NO portionComplete:0.9"),
    progress("inter", "PREPARING_UPDATE", " stalled:NO portionComplete:0.6"),
    said("Scan reported progress (end): phase:SCAN_COMPLETE stalled:NO portionComplete:1.0"),
    progress("inter", "DOWNLOADING_UPDATE", ""),
    *EXCHANGES,
    *COMMANDS,
    *CHATTER[:3],
]
DOWNLOADS = [1, 2]  # mostly these: runs of them


def rows_of(spec: Sequence[tuple[int, int, int | None]]) -> list[Row]:
    rows, when = [], START
    for gap, record, user in spec:
        when += timedelta(milliseconds=gap)
        rows.append((when, RECORDS[record], user))
    return rows


def every(gap_ms: int, records: list[Record]) -> list[Row]:
    return [(START + timedelta(milliseconds=n * gap_ms), r, 0) for n, r in enumerate(records)]


row = st.tuples(
    st.sampled_from([0, 1, 7, 40, 250]),
    st.one_of(st.sampled_from(DOWNLOADS), st.integers(0, len(RECORDS) - 1)),
    st.sampled_from([0, 0, 0, 501, None]),
)
rows = st.lists(row, min_size=1, max_size=120)


def read(
    data: bytes,
    runs: bool,
    block: int,
    chunk: int | None = None,
    until: datetime | None = None,
    verified_only: bool = False,
    naive_tz: tzinfo = UTC,
) -> tuple[Observations, tuple[int, ...]]:
    """What a collector gathers of ``data`` (in ``chunk``-sized buffers read into, as
    from standard input), with the reader's counts."""
    reader = LogReader(naive_tz, block_size=block)
    chunks: list[bytes | bytearray] = [data]
    if chunk is not None:
        chunks = [bytearray(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    collector = Collector(until, verified_only=verified_only)
    alike = runs and collector.takes_every_entry
    collector.add_all(reader.scan_runs(chunks, patterns.RELEVANT_MARKERS, runs=runs, alike=alike))
    counts = (
        reader.entries,
        reader.candidates,
        reader.lines_skipped,
        reader.naive_timestamps,
        reader.bytes_read,
    )
    return collector.observations(), counts


def assert_read_alike(
    data: bytes,
    block: int,
    chunk: int | None = None,
    until: datetime | None = None,
    verified_only: bool = False,
) -> None:
    in_runs = read(data, True, block, chunk, until, verified_only)
    assert in_runs == read(data, False, block, chunk, until, verified_only)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(style=st.sampled_from(STYLES), spec=rows, block=st.sampled_from([700, 4000, 1 << 20]))
def test_runs_read_as_every_line_read_whole(
    style: str, spec: list[tuple[int, int, int | None]], block: int
) -> None:
    assert_read_alike(export_of(style, rows_of(spec)), block)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(style=st.sampled_from(STYLES), spec=rows, chunk=st.sampled_from([97, 1000, 65536]))
def test_runs_read_alike_from_a_stream_in_chunks(
    style: str, spec: list[tuple[int, int, int | None]], chunk: int
) -> None:
    """Standard input comes in one buffer read into again and again (a bytearray)."""
    assert_read_alike(export_of(style, rows_of(spec)), 1 << 20, chunk)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    style=st.sampled_from(STYLES),
    spec=rows,
    cut=st.integers(0, 100),
    verified_only=st.booleans(),
)
def test_runs_read_alike_as_of_an_instant_and_for_live_runs(
    style: str, spec: list[tuple[int, int, int | None]], cut: int, verified_only: bool
) -> None:
    """A run crossing the instant judged is read line by line: those after it count not."""
    data = export_of(style, rows_of(spec))
    until = START + timedelta(milliseconds=cut * 40)
    assert_read_alike(data, 4000, None, until, verified_only)


MUTATIONS = [b"0", b"9", b"\n", b'"', b"\\", b"\x00", b"x", b" ", b"", b"\xff", b"-", b":"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    style=st.sampled_from(STYLES),
    spec=st.lists(
        st.tuples(st.sampled_from([0, 3, 40]), st.sampled_from(DOWNLOADS), st.sampled_from([0])),
        min_size=4,
        max_size=30,
    ),
    damage=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from(MUTATIONS)),
        min_size=1,
        max_size=4,
    ),
)
@example(style="ndjson", spec=[(3, 1, 0)] * 6, damage=[(0.5, b"0")])
def test_damaged_lines_among_a_run_read_as_they_read_whole(
    style: str, spec: list[tuple[int, int, int]], damage: list[tuple[float, bytes]]
) -> None:
    """A byte changed anywhere in a run (a digit, a quote, a line break, a byte that is
    no UTF-8...): the lines it damages read as they would read whole."""
    data = bytearray(export_of(style, rows_of(spec)))
    for where, byte in damage:
        at = int(where * len(data))
        data[at : at + 1] = byte
    assert_read_alike(bytes(data), 4000)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=rows,
    zone=st.sampled_from([ZoneInfo("Europe/Paris"), timezone(timedelta(hours=5, minutes=30)), UTC]),
)
def test_runs_of_local_times_read_alike_in_any_zone(
    spec: list[tuple[int, int, int | None]], zone: tzinfo
) -> None:
    """Compact style's timestamps name no offset: read in the zone the reader is given."""
    data = export_of("compact", rows_of(spec))
    assert read(data, True, 4000, naive_tz=zone) == read(data, False, 4000, naive_tz=zone)


def test_a_run_is_read_as_one_and_counted_as_its_lines() -> None:
    rows = every(30, [downloading(n / 100) for n in range(50)])
    for style in STYLES:
        if style == "json":
            continue  # a pretty-printed export's records are read one by one
        data = export_of(style, rows)
        found = list(LogReader().scan_runs([data], patterns.RELEVANT_MARKERS))
        runs = [f for f in found if isinstance(f, ProgressRun)]
        # (an ndjson export's first line has no line break before it to prove it a line:
        # it is read alone)
        assert [run.count for run in runs] == [49 if style == "ndjson" else 50], style
        assert runs[0].last[0] == rows[-1][0], style
        assert runs[0].last[1] == downloading(0.49)[4], style
        observations, counts = read(data, True, 1 << 20)
        assert counts[:2] == (50, 50), style
        assert observations.relevant_entries == 50, style


def test_a_line_with_another_marker_ends_a_run_and_is_read_whole() -> None:
    """An enforcement named in a progress line is found, as in any line."""
    enforced = said(downloading(0.3)[4] + " scheduleEnforcedManagedUpdateWithVersion")
    rows = every(30, [*(downloading(n / 10) for n in range(4)), enforced, *[downloading(0.5)] * 4])
    for style in ("ndjson", "default", "compact", "syslog"):
        data = export_of(style, rows)
        assert_read_alike(data, 1 << 20)
        observations, _ = read(data, True, 1 << 20)
        assert observations.last_ddm_enforcement is not None, style


def test_reports_out_of_time_order_end_a_run() -> None:
    """Two exports joined out of order: each is read in runs of its own."""
    first = every(1000, [downloading(n / 10) for n in range(5)])
    second = [(when - timedelta(hours=1), record, user) for when, record, user in first]
    for style in ("ndjson", "default", "compact", "syslog"):
        data = export_of(style, first).rstrip(b"\n") + b"\n" + export_of(style, second)
        assert_read_alike(data, 1 << 20)


def test_real_progress_lines_read_alike() -> None:
    """super's example log of a real update (tests/fixtures/softwareupdated_lines.txt)."""
    lines = [
        line
        for line in (FIXTURES / "softwareupdated_lines.txt").read_bytes().splitlines(keepends=True)
        if not line.startswith(b"#")
    ]
    data = b"".join(lines)
    for block in (500, 4000, 1 << 20):
        assert_read_alike(data, block)


@pytest.mark.parametrize("style", ["ndjson", "default", "compact", "syslog"])
def test_every_byte_of_a_line_in_a_run_damaged_reads_as_the_line_reads_whole(style: str) -> None:
    """Each byte of a line between two of a run replaced, one at a time, by a digit, a
    zero, a letter, a quote or a line break, or taken out."""
    data = export_of(style, every(30, [downloading(n / 10) for n in range(6)]))
    lines = data.splitlines(keepends=True)
    third = sum(map(len, lines[: len(lines) - 4]))  # a line between others of the run
    for at in range(third, third + len(lines[-4])):
        for byte in (b"7", b"0", b"x", b'"', b"\n", b"\\", b"\x01", b""):
            damaged = data[:at] + byte + data[at + 1 :]
            assert read(damaged, True, 1 << 20) == read(damaged, False, 1 << 20), (at - third, byte)


def test_lines_alike_come_as_one_and_count_as_each() -> None:
    """mdmclient's exchanges, the same line but for its time, among others: the newest
    read whole, the rest counted; a line naming an identity error is read each time."""
    process, image, subsystem, category, _ = EXCHANGES[0]
    identity = (process, image, subsystem, category, "[0:MDMDaemon] Unable to create MDM identity")
    records = [EXCHANGES[1], CHATTER[0], EXCHANGES[1], identity, identity, EXCHANGES[1]] * 5
    for style in ("ndjson", "default", "compact", "syslog"):
        data = export_of(style, every(20, records))
        found = list(LogReader().scan_runs([data], patterns.RELEVANT_MARKERS, alike=True))
        alike = [f for f in found if isinstance(f, AlikeLines)]
        # (an ndjson export's first line has no line break before it: it is read alone)
        assert [group.count for group in alike] == [14 if style == "ndjson" else 15], style
        assert alike[0].newest.timestamp == START + timedelta(milliseconds=20 * 29), style
        assert_read_alike(data, 1 << 20)
        observations, _ = read(data, True, 1 << 20)
        assert len(observations.identity_errors) == 5, style


def test_a_group_whose_newest_is_not_the_last_line_of_a_block_is_counted_once() -> None:
    """The block's last line is read for its time unless read already: a line of a
    group counts as read, though only its newest was read whole (found in review)."""
    for style in ("default", "compact", "syslog", "ndjson"):
        lines = [
            render(style, START + timedelta(seconds=seconds), EXCHANGES[1])
            for seconds in (1, 9, 2, 3)  # the newest, second, is not the last
        ]
        data = ("\n" + "".join(lines)).encode()
        assert_read_alike(data, 1 << 20)
        found = list(LogReader().scan_runs([data], patterns.RELEVANT_MARKERS, alike=True))
        assert [f.count for f in found if isinstance(f, AlikeLines)] == [4], style


def test_lines_too_long_to_remember_a_making_of_are_read_one_by_one() -> None:
    """A making keeps its sender's message: none is told from a line over 4 KB (a log
    line is a few hundred bytes), so 16 makings cannot hold 16 MB."""
    long_tail = " stalled:NO portionComplete:0.5 " + "x" * 5000
    rows = every(30, [progress("inter", "DOWNLOADING_UPDATE", long_tail)] * 6)
    for style in ("ndjson", "default", "compact", "syslog"):
        data = export_of(style, rows)
        found = list(LogReader().scan_runs([data], patterns.RELEVANT_MARKERS, alike=True))
        assert not [f for f in found if not isinstance(f, LogEntry)], style
        assert_read_alike(data, 1 << 20)


def test_a_line_of_a_run_holding_another_progress_marker_is_read_whole() -> None:
    """A second progress marker after the phase, that no line was found by: the line is
    read whole, as any line holding two markers is, and counted once."""
    twice = " stalled:NO portionComplete:0.5 Reported progress (end): phase:INSTALLED"
    records = [downloading(n / 10) for n in range(6)]
    records[3] = progress("inter", "DOWNLOADING_UPDATE", twice)
    # and in a line of a making fewer lines are of than another
    preparing = [
        progress("inter", "PREPARING_UPDATE", f" stalled:NO portionComplete:0.{n}")
        for n in range(4)
    ]
    preparing[2] = progress("inter", "PREPARING_UPDATE", " stalled:NO Reported progress (x")
    for style in ("ndjson", "default", "compact", "syslog"):
        for these in (records, [*records, *preparing, *records]):
            assert_read_alike(export_of(style, every(30, these)), 1 << 20)


def test_a_line_of_a_run_too_long_to_be_read_is_skipped_as_it_is_read_whole() -> None:
    """A line of a run's making but over MAX_RECORD_CHARS long (the scanner skips such a
    line, unread): the run ends before it."""
    records = [downloading(n / 10) for n in range(6)]
    records[3] = progress("inter", "DOWNLOADING_UPDATE", " stalled:NO " + "x" * (1 << 20))
    for style in ("ndjson", "default", "compact", "syslog"):
        data = export_of(style, every(30, records))
        assert_read_alike(data, 4 << 20)  # (a block holds the long line and the run)
        _, counts = read(data, True, 4 << 20)
        assert counts[2] == 1, style  # the long line skipped


def test_a_line_of_two_makings_is_read_whole() -> None:
    """A line with two progress markers, each followed by a phase: taken for a line of
    one making by the first and of another by the second. Neither making is the one
    most lines are of: the line is read whole, once, as its first progress."""
    two = progress(
        "inter", "PREPARING_UPDATE", " stalled:NO Reported progress (end): phase:X stalled:NO"
    )
    records = [downloading(n / 20) for n in range(12)]
    records[3] = records[7] = two
    for style in ("ndjson", "default", "compact", "syslog"):
        data = export_of(style, every(30, records))
        for block in (700, 1 << 20):
            assert_read_alike(data, block)


def test_runs_across_a_change_of_offset_are_put_in_order_by_time() -> None:
    """Lines of a run whose offsets differ (New York falls back at 06:00 UTC): 01:50
    -0500 is later than 01:55 -0400, though its text sorts before it."""
    new_york = ZoneInfo("America/New_York")
    fall_back = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    rows: list[Row] = [
        ((fall_back + timedelta(minutes=minutes)).astimezone(new_york), downloading(n / 10), 0)
        for n, minutes in enumerate((-10, -5, -2, 50, 52, 55))
    ]
    for style in ("ndjson", "default", "syslog"):
        data = export_of(style, rows)
        assert_read_alike(data, 1 << 20)
        found = list(LogReader().scan_runs([data], patterns.RELEVANT_MARKERS))
        assert sum(f.count for f in found if isinstance(f, ProgressRun)) >= 5, style


def test_a_line_of_a_run_past_midnight_with_an_hour_that_does_not_read_is_read_whole() -> None:
    """Between 23:59 of one day and 00:00 of the next, "24:00" sorts as text but does not
    read: each timestamp is read when a run's lines are not all of one day."""
    rows: list[Row] = [
        (datetime(2026, 11, 25, 23, 59, 59, 900_000, tzinfo=UTC), downloading(0.1), 0),
        (datetime(2026, 11, 25, 23, 59, 59, 950_000, tzinfo=UTC), downloading(0.2), 0),
        (datetime(2026, 11, 25, 23, 59, 59, 990_000, tzinfo=UTC), downloading(0.3), 0),
        (datetime(2026, 11, 26, 0, 0, 0, 100_000, tzinfo=UTC), downloading(0.4), 0),
        (datetime(2026, 11, 26, 0, 0, 0, 200_000, tzinfo=UTC), downloading(0.5), 0),
    ]
    for style in ("ndjson", "default", "compact", "syslog"):
        data = export_of(style, rows)
        data = data.replace(b"2026-11-25 23:59:59.99", b"2026-11-25 24:00:00.00")  # the third
        assert data.count(b"24:00:00") == 1, style
        assert_read_alike(data, 1 << 20)
        _, counts = read(data, True, 1 << 20)
        assert counts[0] == 4, style  # the line whose hour does not read is no entry


@pytest.mark.parametrize("damaged", [b"09:60:00.00", b"09:59:60.00"])
def test_a_line_of_a_run_whose_minutes_or_seconds_do_not_read_is_read_whole(
    damaged: bytes,
) -> None:
    """Between 09:59 and 10:00, "09:60" and "09:59:60" sort as text but do not read."""
    rows: list[Row] = [
        (START + timedelta(minutes=59, seconds=seconds), downloading(n / 10), 0)
        for n, seconds in enumerate((58, 59, 59.5, 61, 62))
    ]
    for style in ("ndjson", "default", "compact", "syslog"):
        data = export_of(style, rows).replace(b"09:59:59.50", damaged)  # the third
        assert data.count(damaged) == 1, style
        assert_read_alike(data, 1 << 20)
        _, counts = read(data, True, 1 << 20)
        assert counts[0] == 4, style  # the line whose time does not read is no entry


def test_the_newest_of_lines_alike_is_the_last_of_equal_times_past_six_fraction_digits() -> None:
    """fromisoformat skips fraction digits past the sixth: stamps that differ only there
    are one time, and the newest of a group is the last of them, as read whole."""
    lines = []
    for seventh, pid in ((1, 111), (9, 222), (5, 333)):
        line = render("ndjson", START, EXCHANGES[0]).replace(
            ".000000+0000", f".000000{seventh}+0000"
        )
        lines.append(re.sub(r'"processID":[0-9]+', f'"processID":{pid}', line))
    data = "".join(lines).encode()
    assert_read_alike(data, 1 << 20)
    found = list(LogReader().scan_runs([data], patterns.RELEVANT_MARKERS, alike=True))
    assert [f.newest.pid for f in found if isinstance(f, AlikeLines)] == [333]


class _CountingReader(LogReader):
    """A reader that notes where each line it reads whole to tell a making from starts."""

    def __init__(self) -> None:
        super().__init__(UTC, block_size=1 << 20)
        self.read_at: list[int] = []

    def _parse_line(self, block: Buffer, start: int, stop: int) -> LogEntry | None:
        self.read_at.append(start)
        return super()._parse_line(block, start, stop)


def test_a_line_holding_many_progress_markers_is_read_whole_once() -> None:
    """Each progress marker may be a line's making, told from its line read whole: a line
    of hundreds, of none, is read once, not once for each (that was quadratic)."""
    for style in ("ndjson", "compact"):
        runs = export_of(style, every(30, [downloading(n / 10) for n in range(6)]))
        junk = b"x" + b" Reported progress (" * 500 + b"\n"
        reader = _CountingReader()
        list(reader.scan_runs([runs + junk + runs], patterns.RELEVANT_MARKERS))
        assert max(map(reader.read_at.count, reader.read_at)) == 1, style
