"""Where the last hours of an export begin, found from its end: scanning from there
finds, of the entries from an instant on, exactly what scanning the whole export finds;
anything unusual (exports joined out of order, damage, UTF-16) says read it all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.exports import CHATTER, COMMANDS, EXCHANGES, PROGRESS, STYLES, export_of
from tests.test_scan import CountingBytes
from watchdog_mdm import patterns
from watchdog_mdm.evidence import Collector, Observations
from watchdog_mdm.scan import LogReader
from watchdog_mdm.tail import span_start

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
RECORDS = [*EXCHANGES, *COMMANDS, *PROGRESS, *CHATTER]

Row = tuple[datetime, tuple[str, str, str, str, str], int | None]

rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 90_000),  # ms since the row before: ties included
        st.integers(0, len(RECORDS) - 1),
        st.sampled_from([0, 501, None]),
    ),
    min_size=1,
    max_size=120,
)


def timed_rows(spec: list[tuple[int, int, int | None]], start: datetime = START) -> list[Row]:
    rows, when = [], start
    for gap, record, user in spec:
        when += timedelta(milliseconds=gap)
        rows.append((when, RECORDS[record], user))
    return rows


def observed_since(data: bytes, since: datetime) -> Observations:
    """What the entries from ``since`` on make, as scanning ``data`` finds them. How many
    of the daemons' entries were parsed depends on where blocks end (tests/test_scan.py)."""
    entries = (
        e for e in LogReader().scan([data], patterns.RELEVANT_MARKERS) if e.timestamp >= since
    )
    return replace(Collector().add_all(entries).observations(), daemon_entries=0)


def assert_tail_reads_alike(data: bytes, since: datetime, block: int) -> int | None:
    start = span_start(data, since, UTC, block)
    if start is not None:
        assert observed_since(data[start:], since) == observed_since(data, since)
    return start


@given(
    style=st.sampled_from(STYLES),
    spec=rows_strategy,
    cut=st.floats(0, 1.05),
    block=st.sampled_from([200, 700, 3000]),
)
def test_reading_from_where_the_span_begins_finds_what_reading_all_finds(
    style: str, spec: list[tuple[int, int, int | None]], cut: float, block: int
) -> None:
    rows = timed_rows(spec)
    since = rows[0][0] + (rows[-1][0] - rows[0][0]) * cut
    data = export_of(style, rows)
    assert assert_tail_reads_alike(data, since, block) is not None  # nothing unusual here


@given(
    style=st.sampled_from(STYLES),
    first=rows_strategy,
    second=rows_strategy,
    gap_hours=st.integers(-30, 30),
    cut=st.floats(0, 1),
    block=st.sampled_from([200, 700, 3000]),
)
def test_joined_exports_are_read_from_their_span_or_read_whole(
    style: str,
    first: list[tuple[int, int, int | None]],
    second: list[tuple[int, int, int | None]],
    gap_hours: int,
    cut: float,
    block: int,
) -> None:
    """Joined with `cat`, in time order or not: what a start found finds is exact."""
    older, newer = timed_rows(first), timed_rows(second, START + timedelta(hours=gap_hours))
    data = export_of(style, older) + export_of(style, newer)
    times = [row[0] for row in older + newer]
    since = min(times) + (max(times) - min(times)) * cut
    assert_tail_reads_alike(data, since, block)


def long_export(style: str, hours: int = 6) -> tuple[bytes, list[Row]]:
    rows = timed_rows([(10_000, n % len(RECORDS), 0) for n in range(hours * 360)])
    return export_of(style, rows), rows


def test_only_the_end_is_read_for_the_last_minutes() -> None:
    for style in STYLES:
        data, rows = long_export(style)
        since = rows[-1][0] - timedelta(minutes=10)
        start = assert_tail_reads_alike(data, since, 4096)
        assert start is not None
        assert len(data) - start < len(data) // 20, style  # 10 minutes of 6 hours, and a block


def test_an_export_that_begins_within_the_span_is_read_from_its_start_at_once() -> None:
    """No block of it is stepped back through: its first entry says it is all in the span
    (a whole-file read once paid a probe per 4 MB block before it began)."""
    for style in STYLES:
        data, rows = long_export(style)
        CountingBytes.searched = 0
        assert span_start(CountingBytes(data), rows[0][0], UTC, 4096) == 0
        assert CountingBytes.searched < 2048, style  # its first few lines, not every block
        CountingBytes.searched = 0
        assert span_start(CountingBytes(data), rows[10][0], UTC, 4096) is not None
        assert CountingBytes.searched > len(data) // 4096 * 50, style  # stepped back


def test_exports_joined_newest_first_are_read_whole() -> None:
    data, rows = long_export("ndjson")
    older = export_of("ndjson", timed_rows([(10_000, 1, 0)] * 100, START - timedelta(days=2)))
    since = rows[-1][0] - timedelta(minutes=10)
    assert span_start(older + data, since, UTC, 4096) is not None
    assert span_start(data + older, since, UTC, 4096) is None  # told by the first entry
    # back to before either: read whole, from its start (no block stepped back through)
    assert span_start(data + older, START - timedelta(days=3), UTC, 4096) == 0


def test_a_block_without_a_readable_entry_means_reading_everything() -> None:
    data, rows = long_export("compact")
    middle = data.index(b"\n", len(data) // 2) + 1
    for lines, since, found in (
        (20, rows[-1][0] - timedelta(minutes=10), True),  # a few damaged lines before
        (5000, rows[0][0] + timedelta(minutes=10), False),  # blocks of them on the way
        (5000, rows[-1][0] - timedelta(minutes=10), False),  # blocks of them before
    ):
        damaged = data[:middle] + b"not a log line\n" * lines + data[middle:]
        assert (assert_tail_reads_alike(damaged, since, 4096) is not None) == found


def test_utf16_input_is_read_whole() -> None:
    data, rows = long_export("syslog", hours=1)
    utf16 = data.decode().encode("utf-16")
    assert span_start(utf16, rows[-1][0], UTC, 4096) is None
