"""Reading one large export in two processes (watchdog_mdm/splitting.py): whatever the
export, what the collector gathers and the reader counts are what one read gathers and
counts; a read that cannot go on in lines at the split, or a second process that fails,
is read whole in one."""

from __future__ import annotations

import itertools
import mmap
import os
import pickle
import random
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exports import (
    CHATTER,
    COMMANDS,
    EXCHANGES,
    POWER,
    PROGRESS,
    downloading,
    export_of,
    render,
)
from tests.support import DoneAtOnce, FakeSystem
from tests.test_client_state import OK, SENT, SLEEP, WAKE, mdm, powerd
from tests.test_span import result
from watchdog_mdm import patterns
from watchdog_mdm.config import Settings
from watchdog_mdm.diagnose import analyze_end, analyze_export
from watchdog_mdm.evidence import Collector
from watchdog_mdm.report import to_document
from watchdog_mdm.runs import ProgressRun
from watchdog_mdm.scan import STYLE_SAMPLE, LogReader, ReadCounts
from watchdog_mdm.splitting import FIRST_SHARE, MIN_WINDOWS, piece_starts, read_whole, split_point
from watchdog_mdm.system import (
    HandOn,
    MacSystem,
    Second,
    SecondFailed,
    SecondWork,
    Take,
    _ForkedSecond,
)

# A small window (a multiple of every page size), so that exports of a few hundred
# kilobytes are split, at windows' ends anywhere in their lines.
WINDOW = 16384
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RECORDS = [*EXCHANGES, *COMMANDS, *CHATTER, *POWER, PROGRESS[0]]
LINE_STYLES = ("default", "compact", "syslog", "ndjson")


class Forking(MacSystem):
    """The real seam, forking whatever the processors (a machine of one still forks)."""

    def __init__(self) -> None:
        super().__init__("/", export_window=WINDOW)
        self.forks = 0
        self.reads: list[tuple[int, int | None]] = []  # each read_export's start and end

    def in_second_process(self, work: SecondWork, pieces: int) -> Second | None:
        self.forks += 1
        return _ForkedSecond.start(work, pieces)

    def read_export(
        self, path: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes | bytearray | mmap.mmap]:
        self.reads.append((start, end))
        return super().read_export(path, start, end)


class OneProcess(MacSystem):
    def __init__(self) -> None:
        super().__init__("/", export_window=WINDOW)

    def in_second_process(self, work: SecondWork, pieces: int) -> Second | None:
        return None


def read(
    system: MacSystem | FakeSystem, path: Path, until: datetime | None = None, start: int = 0
) -> Any:
    """What a read from ``start`` gathers, and what its reader counted."""
    reader = LogReader(UTC)
    with system.map_export(str(path)) as data:
        assert data is not None
        new_collector = partial(Collector, until=until)
        collector = read_whole(system, str(path), data, reader, new_collector, start)
    return collector.observations(), reader.counts()


def updating(rng: random.Random, lines: int, start: datetime) -> list[Any]:
    """An updating Mac's rows: a quarter its progress, the rest chatter, exchanges,
    commands, sleeps and wakes, now and then two at one instant."""
    rows, when = [], start
    for _ in range(lines):
        when += timedelta(milliseconds=rng.choice([0, 40, 400, 3000]))
        record = downloading(rng.random()) if rng.random() < 0.3 else rng.choice(RECORDS)
        rows.append((when, record, rng.choice([0, 0, 501, None])))
    return rows


def export(seed: int, styles: list[str], lines: int) -> bytes:
    """Exports of ``styles`` joined, each of ``lines`` rows (out of order where a later
    one begins before an earlier one ends)."""
    rng = random.Random(seed)
    parts = []
    for style in styles:
        start = START + timedelta(minutes=rng.choice([-30, 0, 45]))
        parts.append(export_of(style, updating(rng, lines, start)))
    return b"".join(parts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    styles=st.lists(st.sampled_from(LINE_STYLES), min_size=1, max_size=2),
    until_minutes=st.sampled_from([None, 2, 10]),
)
def test_a_file_read_in_two_processes_gives_what_one_read_gives(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    styles: list[str],
    until_minutes: int | None,
) -> None:
    """Every line style, joined too, its progress in runs: and judged as of an instant in
    the middle (runs across it read line by line in the second process)."""
    data = export(seed, styles, 2400 // len(styles))
    path = tmp_path_factory.mktemp("split") / "export.log"
    path.write_bytes(data)
    until = None if until_minutes is None else START + timedelta(minutes=until_minutes)
    two = Forking()
    assert read(two, path, until) == read(OneProcess(), path, until)
    assert two.forks == 1  # (large enough: split)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    styles=st.lists(st.sampled_from(LINE_STYLES), min_size=1, max_size=2),
    share=st.floats(0, 0.6),
)
def test_a_file_read_from_a_line_in_its_middle_in_two_processes_gives_what_one_read_gives(
    tmp_path_factory: pytest.TempPathFactory, seed: int, styles: list[str], share: float
) -> None:
    """The end of an export read from where its span begins (diagnose.py), split as a
    whole read is: the same findings and counts."""
    data = export(seed, styles, 4000 // len(styles))
    start = data.index(b"\n", int(len(data) * share)) + 1
    path = tmp_path_factory.mktemp("split") / "export.log"
    path.write_bytes(data)
    two = Forking()
    assert read(two, path, start=start) == read(OneProcess(), path, start=start)
    assert two.forks == 1  # (large enough: split)


def test_what_is_read_from_a_start_is_split_within_it() -> None:
    data = export(8, ["ndjson"], 3000)
    start = data.index(b"\n", len(data) // 3) + 1
    at = split_point(data, WINDOW, start)
    assert at is not None
    assert start + STYLE_SAMPLE < at < len(data)
    assert data[at - 1 : at] == b"\n"
    share = (at - start) / (len(data) - start)
    assert abs(share - FIRST_SHARE / 100) < WINDOW / (len(data) - start) * 2
    # what is left to read is too little: one process
    assert split_point(data, WINDOW, len(data) - MIN_WINDOWS * WINDOW + 1) is None
    # within the reader's style sample of the start: one process
    short = data[: start + (STYLE_SAMPLE + WINDOW) * 100 // FIRST_SHARE]
    assert split_point(short, WINDOW, start) is None


def test_the_end_of_a_pretty_json_export_is_not_split() -> None:
    data = export(9, ["json"], 2400)
    start = data.index(b"},{\n", len(data) // 3) + 2  # a record's start, as a step back finds
    assert split_point(data, WINDOW, start) is None


@pytest.mark.parametrize("style", LINE_STYLES)
def test_the_end_of_a_long_export_judged_from_it_is_read_in_two_processes(
    tmp_path: Path, style: str
) -> None:
    """Judged as of its newest entry, a long export is read from where its span begins
    (docs/performance.md, "Reading only the end of a long export"): large, that read is
    split as a whole read is, and the judgement and its counts are those of one."""
    path = tmp_path / f"long.{style}"
    path.write_bytes(export_of(style, healthy_days(4)))
    two = judged_alike_in_two_processes(path)
    # its first part read from where the span begins, up to the split
    assert any(start > 0 and end is not None for start, end in two.reads)


def judged_alike_in_two_processes(path: Path) -> Forking:
    """Judged from its end, forking and in one process, the same; the forking seam."""
    two = Forking()
    judged = [
        analyze_end(system, str(path), settings=Settings(), naive_tz=UTC, clock=AT, block=16384)
        for system in (two, OneProcess())
    ]
    assert judged[0] is not None and judged[1] is not None
    assert to_document(judged[0]) == to_document(judged[1])
    return two


def test_an_end_read_again_from_further_back_judges_as_reading_all_of_it(tmp_path: Path) -> None:
    """Default output, a powerd wake in it that the syslog style's pattern reads too, then
    40 hours of syslog output: the end is read from an offset, then again from further
    back for the wake before the span, each split, and judged as a read of all of it
    judges (found in review: a reader that tried the style it matched last first read
    the wake as syslog's after the syslog output, and the span's start and the sleep
    state differed; a line now reads as itself, entries.EntryParser)."""
    path = tmp_path / "joined.log"
    path.write_bytes(default_then_syslog(wake_hours_before=41, default_hours=4, syslog_hours=40))
    two = judged_alike_in_two_processes(path)
    assert len([read for read in two.reads if read[0] > 0 and read[1] is not None]) >= 2
    end = analyze_end(two, str(path), settings=Settings(), naive_tz=UTC, clock=AT, block=16384)
    whole = analyze_export(
        [OneProcess().read_export(str(path))], settings=Settings(), at=None, naive_tz=UTC, clock=AT
    )
    assert end is not None
    assert result(end) == result(whole)
    assert whole.judged_since == AT - timedelta(hours=41)  # the wake, read as default's


def default_then_syslog(wake_hours_before: int, default_hours: int, syslog_hours: int) -> bytes:
    def stamp(when: datetime) -> str:
        return when.strftime("%Y-%m-%d %H:%M:%S.%f%z")

    default = "{} 0x1a2b     Default     0x0                  {}    0    {}\n"
    lines = [
        "Timestamp                       Thread     Type        Activity             PID    TTL  \n"
    ]
    when = AT - timedelta(hours=syslog_hours + default_hours)
    wake = AT - timedelta(hours=wake_hours_before)
    while when < AT - timedelta(hours=syslog_hours):
        when += timedelta(minutes=1)
        if wake <= when < wake + timedelta(minutes=1):
            text = "powerd: foo[12]: Wake from Deep Idle [CDNVA]"
            lines.append(default.format(stamp(when), 757, text))
        else:
            lines.append(default.format(stamp(when), 99, "kernel: nothing much here at all"))
    n = 0
    while when < AT:
        when += timedelta(minutes=1)
        n += 1
        if n % 20 == 0:
            lines.append(render("syslog", when, mdm(SENT)))
            lines.append(render("syslog", when + timedelta(seconds=2), mdm(OK)))
        else:
            for k in range(6):
                at = stamp(when + timedelta(seconds=k * 10))
                lines.append(
                    f"{at}  localhost kernel[99]: nothing much here at all, just padding\n"
                )
    return "".join(lines).encode()


def healthy_days(days: int) -> list[Any]:
    """A healthy Mac: a check-in every 20 minutes, chatter every minute between, and a
    sleep or a wake every 4 hours or so."""
    rows: list[Any] = []
    when, n = AT - days * 24 * timedelta(hours=1), 0
    while when < AT:
        when += timedelta(minutes=1)
        n += 1
        if n % 20 == 0:
            rows += [(when, mdm(SENT), 0), (when + timedelta(seconds=2), mdm(OK), 0)]
        elif n % 241 == 0:
            rows.append((when, powerd(SLEEP if n % 2 else WAKE), 0))
        else:
            rows.append((when, CHATTER[n % len(CHATTER)], 0))
    return rows


@pytest.mark.parametrize("second", ["json", "json-cut-at-the-split"])
def test_an_export_in_json_open_at_the_split_is_read_whole_in_one(
    tmp_path: Path, second: str
) -> None:
    """Lines, then a pretty JSON export joined after them: where it is still open at the
    split, one read would not go on in lines there; the second process's findings are
    dropped."""
    lines = export(7, ["compact"], 900)
    pretty = export(8, ["json"], 400)
    data = lines + pretty if second == "json" else lines[: len(lines) // 2] + pretty
    path = tmp_path / "joined.log"
    path.write_bytes(data)
    two = Forking()
    at = split_point(bytes(data), WINDOW)
    assert at is not None and data.find(b"[{") < at  # open across the split
    assert read(two, path) == read(OneProcess(), path)
    assert two.forks == 1


@pytest.mark.parametrize("bracket", [b"[", b"[{", b"[ "])
@pytest.mark.parametrize("before_the_split", [100_000, 30_000, 300, 0, -5000])
def test_a_line_that_may_open_a_json_export_near_the_split_changes_nothing(
    tmp_path: Path, bracket: bytes, before_the_split: int
) -> None:
    """A line such a JSON export opens with (a message's continuation line, or an export
    of nothing joined in) makes one read tell the style anew from what follows it: where
    that reaches across the split, the file is read whole in one (found in review)."""
    lines = export(11, ["default"], 2500)
    at = split_point(lines, WINDOW)
    assert at is not None
    where = lines.rfind(b"\n", 0, at - before_the_split) + 1
    path = tmp_path / "bracket.log"
    path.write_bytes(lines[:where] + bracket + b"\n" + lines[where:])
    assert read(Forking(), path) == read(OneProcess(), path)


@pytest.mark.parametrize("after_it", [15_000, 60_000])
def test_a_json_export_that_closes_shortly_before_the_split_changes_nothing(
    tmp_path: Path, after_it: int
) -> None:
    """Lines, a pretty JSON export, lines again: the lines after it are a new shape,
    its first chunks joined as one read joins them (found in review)."""
    lines, pretty = export(39, ["syslog"], 600), export(40, ["json"], 200)
    closes = len(lines) + len(pretty)
    whole = lines + pretty + export(41, ["default"], 6400)
    data = whole[: (closes + after_it) * 100 // FIRST_SHARE]
    path = tmp_path / "closed.log"
    path.write_bytes(data[: data.rfind(b"\n") + 1])
    at = split_point(path.read_bytes(), WINDOW)
    assert at is not None and closes < at < closes + after_it  # (within the style sample)
    assert read(Forking(), path) == read(OneProcess(), path)


def test_a_line_two_styles_read_at_the_split_is_read_as_one_read_reads_it(
    tmp_path: Path,
) -> None:
    """A line in syslog output that the syslog style reads, and the default style too (a
    powerd wake in default output), across the boundary: the second process reads it as
    one read does (found in review, when a reader tried the style it matched last first;
    which style reads it: tests/test_logs.py)."""
    lines = export(3, ["syslog"], 3000)
    at = split_point(lines, WINDOW)
    assert at is not None
    boundary = len(lines) * FIRST_SHARE // 100 // WINDOW * WINDOW
    assert at < boundary  # the line below starts the second part and crosses the boundary
    both = (
        "2026-11-25 08:10:00.000000+0000 0x1a2b     Default     0x0                  757    0"
        "    powerd: foo[12]: Wake from Deep Idle [CDNVA] " + "a" * (boundary - at + 50) + "\n"
    ).encode()
    path = tmp_path / "both.log"
    path.write_bytes(lines[:at] + both + lines[at:])
    assert read(Forking(), path) == read(OneProcess(), path)


def test_two_text_styles_joined_are_split_as_one(tmp_path: Path) -> None:
    """Compact output, then syslog output joined to it, split in the syslog: how a line
    reads is its own, so the second process reads on as one read does."""
    path = tmp_path / "two-styles.log"
    path.write_bytes(export(12, ["compact"], 500) + export(13, ["syslog"], 3000))
    split = Forking()
    assert read(split, path) == read(OneProcess(), path)
    assert split.forks == 1


def test_utf16_text_is_never_split() -> None:
    text = export(3, ["compact"], 3000)
    utf16 = text.decode().encode("utf-16")
    assert split_point(text, WINDOW) is not None
    assert split_point(utf16 + text, WINDOW) is None


def test_a_pretty_json_export_is_never_split() -> None:
    data = export(3, ["json"], 1200)
    assert len(data) > MIN_WINDOWS * WINDOW
    assert split_point(data, WINDOW) is None
    assert split_point(export(3, ["ndjson"], 1200), WINDOW) is not None


def test_a_small_file_is_read_in_one_process(tmp_path: Path) -> None:
    data = export(4, ["ndjson"], 50)
    assert len(data) < MIN_WINDOWS * WINDOW
    path = tmp_path / "small.log"
    path.write_bytes(data)
    two = Forking()
    assert read(two, path) == read(OneProcess(), path)
    assert two.forks == 0


class Failing(Forking):
    """A second process that fails half-way (as on a file cut short meanwhile)."""

    def in_second_process(self, work: SecondWork, pieces: int) -> Second | None:
        def failing(hand_on: HandOn, take: Take) -> None:
            def half(piece: bytes) -> None:  # what it found before it failed
                hand_on(piece)
                raise OSError(5, "Input/output error")

            work(half, take)

        return super().in_second_process(failing, pieces)


def test_a_second_process_that_fails_leaves_the_file_to_be_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "export.log"
    path.write_bytes(export(5, ["syslog"], 2000))
    failing = Failing()
    assert read(failing, path) == read(OneProcess(), path)
    assert failing.forks == 1


@pytest.mark.parametrize("styles", [["default", "ndjson"], ["compact"], ["syslog"]])
def test_the_fake_system_splits_as_the_real_one_does(tmp_path: Path, styles: list[str]) -> None:
    """The fake seam's chunks are lines and its second process is this one: a split
    read there gathers and counts what one read there does (the CLI's tests run so). A
    file of one style is not read again whole: the second part begins with the order of
    text styles the first leaves."""
    path = tmp_path / "export.log"
    path.write_bytes(export(6, styles, 1200 // len(styles)))
    split, whole = FakeSystem(), FakeSystem(second_process=False)
    assert read(split, path) == read(whole, path)
    data = path.read_bytes()
    at = split_point(data, 4096)
    assert at is not None
    pieces = piece_starts(data, 4096, at)
    reads = [call[2:] for call in split.calls if call[0] == "read_export"]
    # the second process's pieces (it takes them all, at once), then the first's part
    assert reads == [
        *((str(piece), str(end)) for piece, end in itertools.pairwise(pieces[:-1])),
        (str(pieces[-2]),),
        ("0", str(at)),
    ]


def test_the_pieces_of_the_rest_start_where_one_read_carries_a_line_on() -> None:
    """At each window boundary past the split, where the line it cuts starts: the start
    of the line one read carries into the next window. A window without a line break
    (one line longer than it) starts no piece: that line is carried on."""
    data = export(12, ["compact"], 3000)
    at = split_point(data, WINDOW)
    assert at is not None
    pieces = piece_starts(data, WINDOW, at)
    assert pieces[0] == at and pieces[-1] == len(data)
    assert pieces == sorted(set(pieces))
    for start in pieces[1:-1]:
        boundary = -(-start // WINDOW) * WINDOW  # the boundary at or after it
        assert data[start - 1 : start] == b"\n"
        assert b"\n" not in data[start:boundary]
    # every window of this export holds a line break: a piece from the split (the line
    # the first boundary after it cuts) and one from each boundary after that
    assert len(pieces) - 1 == len(range((at // WINDOW + 1) * WINDOW, len(data), WINDOW))
    long_line = b"x" * (3 * WINDOW)
    joined = data[:at] + long_line + data[at:]
    longer = piece_starts(joined, WINDOW, at)
    assert not any(at < start <= at + len(long_line) - WINDOW for start in longer)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    styles=st.lists(st.sampled_from(LINE_STYLES), min_size=1, max_size=2),
    takes=st.integers(0, 40),
    until_minutes=st.sampled_from([None, 2, 10]),
)
def test_pieces_taken_by_either_process_are_read_as_one_read_reads_them(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    styles: list[str],
    takes: int,
    until_minutes: int | None,
) -> None:
    """However the rest is shared out, the second process taking the first pieces and
    this one the others, from the last back: what one read gathers and counts."""
    path = tmp_path_factory.mktemp("pieces") / "export.log"
    path.write_bytes(export(seed, styles, 1200 // len(styles)))
    until = None if until_minutes is None else START + timedelta(minutes=until_minutes)
    split = FakeSystem(second_takes=takes)
    assert read(split, path, until) == read(FakeSystem(second_process=False), path, until)
    data = path.read_bytes()
    at = split_point(data, 4096)
    assert at is not None
    pieces = piece_starts(data, 4096, at)
    reads = [call[2:] for call in split.calls if call[0] == "read_export"]
    mine = reads[reads.index(("0", str(at))) + 1 :]
    left = range(len(pieces) - 2, min(takes, len(pieces) - 1) - 1, -1)  # the last back
    assert [int(read[0]) for read in mine] == [pieces[piece] for piece in left]


class InlineSecond(MacSystem):
    """The real windows, with a second process that does its work at once, here, taking
    at most ``takes`` pieces (None: all it can), the rest left to this one: every share
    of the pieces, whatever the timing."""

    def __init__(self, takes: int | None) -> None:
        super().__init__("/", export_window=WINDOW)
        self.takes = takes

    def in_second_process(self, work: SecondWork, pieces: int) -> Second | None:
        return DoneAtOnce(work, pieces, self.takes)


def reshaped(data: bytes, how: str, rng: random.Random) -> bytes:
    """An export with, in its second half, a line longer than a window or about one
    (unreadable: what is dropped must be dropped alike), or a line padded with spaces to
    end just before a window boundary (a piece then starts on the boundary)."""
    place = data.index(b"\n", rng.randrange(len(data) // 2, len(data) - 1)) + 1
    if how == "long":
        size = rng.choice([WINDOW - 1, WINDOW + 1, 2 * WINDOW + 7, 3 * WINDOW])
        return data[:place] + b"x" * size + b"\n" + data[place:]
    if how == "padded":
        boundary = -(-place // WINDOW) * WINDOW
        end = data.rfind(b"\n", 0, boundary)  # the line break to move onto boundary - 1
        return data[:end] + b" " * (boundary - 1 - end) + data[end:]
    return data


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    styles=st.lists(st.sampled_from(LINE_STYLES), min_size=1, max_size=2),
    takes=st.sampled_from([None, 0, 1, 2, 5, 9]),
    how=st.sampled_from(["as it is", "long", "padded"]),
)
def test_pieces_in_the_real_windows_are_read_as_one_read_reads_them(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    styles: list[str],
    takes: int | None,
    how: str,
) -> None:
    """Every share of the pieces, in the memory-mapped windows a read is made of: lines
    carried across a piece's start, a piece that starts on a window boundary, a line
    longer than a window. What one read gathers and counts."""
    data = reshaped(export(seed, styles, 2400 // len(styles)), how, random.Random(seed))
    path = tmp_path_factory.mktemp("windows") / "export.log"
    path.write_bytes(data)
    assert read(InlineSecond(takes), path) == read(OneProcess(), path)


def test_a_second_process_that_fails_leaves_no_piece_to_take() -> None:
    """Its findings dropped (the file is read again whole), this process need not read
    any more pieces: the failed work took every one left."""

    def work(hand_on: HandOn, take: Take) -> None:
        take()
        raise OSError(5, "Input/output error")

    second = _ForkedSecond.start(work, 50)
    assert second is not None
    assert ended_within(second._pid, seconds=20)
    assert second.take_last() is None
    with pytest.raises(SecondFailed):
        list(second.output())


class SlowSecond(Forking):
    """A second process that waits before each piece it takes but the first: this one,
    done with its own part, takes the others."""

    def in_second_process(self, work: SecondWork, pieces: int) -> Second | None:
        def slow(hand_on: HandOn, take: Take) -> None:
            taken = 0

            def take_slowly() -> int | None:
                nonlocal taken
                if taken:
                    time.sleep(0.3)
                taken += 1
                return take()

            work(hand_on, take_slowly)

        return super().in_second_process(slow, pieces)


@pytest.mark.parametrize("styles", [["ndjson"], ["compact", "default"]])
def test_a_slow_second_process_leaves_the_rest_to_the_first(
    tmp_path: Path, styles: list[str]
) -> None:
    """The second process slowed (by other work, or on a slower core): this one takes
    the pieces it has not, from the last back, and the read is what one read is."""
    path = tmp_path / "export.log"
    path.write_bytes(export(13, styles, 2400 // len(styles)))
    slow = SlowSecond()
    assert read(slow, path) == read(OneProcess(), path)
    data = path.read_bytes()
    at = split_point(data, WINDOW)
    assert at is not None
    pieces = piece_starts(data, WINDOW, at)
    taken = [start for start, _ in slow.reads[1:]]  # this process's, after its own part
    assert slow.reads[0] == (0, at)
    assert len(taken) > 1
    assert taken == [pieces[piece] for piece in range(len(pieces) - 2, -1, -1)][: len(taken)]


def test_each_piece_is_taken_once_by_two_processes_taking_at_once() -> None:
    """The second process from the first on, this one from the last back, both as fast
    as they can (a race: several rounds): every piece taken, none twice, each
    process's one after another."""
    count = 2000

    def work(hand_on: HandOn, take: Take) -> None:
        taken = []
        while (piece := take()) is not None:
            taken.append(piece)
        hand_on(pickle.dumps(taken))

    for _ in range(5):
        second = _ForkedSecond.start(work, count)
        assert second is not None
        mine = []
        while (piece := second.take_last()) is not None:
            mine.append(piece)
        theirs = pickle.loads(b"".join(second.output()))
        assert theirs == list(range(len(theirs)))
        assert mine == list(range(count - 1, len(theirs) - 1, -1))


@pytest.mark.parametrize("takes", [None, 0])
def test_a_piece_that_does_not_end_in_lines_leaves_the_file_to_be_read_whole(
    tmp_path: Path, takes: int | None
) -> None:
    """A pretty JSON export joined in after the split, open across a piece's end: read
    alone, the next piece would be read as lines, where one read reads records. Taken
    by the second process (which fails) or by this one, the file is read whole."""
    lines, pretty, more = (
        export(14, ["compact"], 1500),
        export(15, ["json"], 200),
        export(16, ["compact"], 900),
    )
    data = lines + pretty + more
    path = tmp_path / "joined.log"
    path.write_bytes(data)
    at = split_point(data, 4096)
    assert at is not None and at < len(lines)
    pieces = piece_starts(data, 4096, at)
    assert any(len(lines) < end < len(lines) + len(pretty) for end in pieces[:-1])
    split = FakeSystem(second_takes=takes)
    assert read(split, path) == read(FakeSystem(second_process=False), path)
    assert ("read_export", str(path)) in split.calls  # read whole, once split failed


def test_what_a_second_process_hands_on_comes_back_in_order_as_it_does() -> None:
    """Read while the work goes on: a piece is read once it is all written (here in
    several writes), and the first comes back before the work is done."""

    def work(hand_on: HandOn, take: Take) -> None:
        for n in range(3):
            hand_on(str(n).encode() * 100_000)
            time.sleep(0.2 if n == 0 else 0)

    second = _ForkedSecond.start(work, 0)
    assert second is not None
    output = second.output()
    first = next(output)
    assert first == b"0" * 100_000
    assert os.waitpid(second._pid, os.WNOHANG) == (0, 0)  # still at work
    assert [piece[:1] for piece in output] == [b"1", b"2"]
    with pytest.raises(ChildProcessError):  # reaped once read to the end
        os.waitpid(second._pid, os.WNOHANG)


def test_a_second_process_that_fails_part_way_raises_after_what_it_handed_on() -> None:
    def work(hand_on: HandOn, take: Take) -> None:
        hand_on(b"half")
        raise ValueError("no")

    second = _ForkedSecond.start(work, 0)
    assert second is not None
    output = second.output()
    assert next(output) == b"half"
    with pytest.raises(SecondFailed):
        next(output)


def test_a_second_process_killed_part_way_raises() -> None:
    def work(hand_on: HandOn, take: Take) -> None:
        hand_on(b"x" * 10)
        os.kill(os.getpid(), signal.SIGKILL)

    second = _ForkedSecond.start(work, 0)
    assert second is not None
    with pytest.raises(SecondFailed):
        list(second.output())


def test_a_second_process_stops_once_the_first_is_killed() -> None:
    """Killed part-way (by hand, or a job's time limit), the first process leaves no
    second one reading on to the end of its part: it stops at what it hands on next."""
    said, says = os.pipe()
    first = os.fork()
    if first == 0:  # the first process: starts the second, says its pid, is killed
        try:

            def work(hand_on: HandOn, take: Take) -> None:
                for _ in range(3000):  # a minute, unless it stops
                    hand_on(b"x")
                    time.sleep(0.02)

            second = _ForkedSecond.start(work, 0)
            assert second is not None
            os.write(says, str(second._pid).encode())
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(says)
    second_pid = int(os.read(said, 32))
    os.close(said)
    os.kill(first, signal.SIGKILL)
    os.waitpid(first, 0)
    assert ended_within(second_pid, seconds=20)


def ended_within(pid: int, seconds: float) -> bool:
    """Whether the process (not this one's child) ends, or is left a zombie, by then."""
    for _ in range(int(seconds * 100)):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.01)
    return False


def test_a_cancelled_second_process_is_stopped_and_reaped() -> None:
    def work(hand_on: HandOn, take: Take) -> None:
        time.sleep(60)

    second = _ForkedSecond.start(work, 0)
    assert isinstance(second, _ForkedSecond)
    second.cancel()
    with pytest.raises(ChildProcessError):  # reaped: no such child any more
        os.waitpid(second._pid, os.WNOHANG)


def test_counts_of_a_reader_add_up() -> None:
    reader = LogReader(UTC)
    reader.add_counts(ReadCounts(10, 2, 1, 0, 3, 1))
    reader.add_counts(ReadCounts(5, 1, 0, 1, 2, 0))
    assert reader.counts() == ReadCounts(15, 3, 1, 1, 5, 1)


def test_a_run_is_handed_on_only_detached_from_its_lines() -> None:
    when = START
    records = "".join(
        render("ndjson", when + timedelta(seconds=n), downloading(n / 10)) for n in range(6)
    )
    runs = [
        found
        for found in LogReader(UTC).scan_runs([records.encode()], patterns.RELEVANT_MARKERS)
        if isinstance(found, ProgressRun)
    ]
    assert runs and runs[0].count > 1
    with pytest.raises(TypeError):
        pickle.dumps(runs[0])
    back = pickle.loads(pickle.dumps(runs[0].detached()))
    assert (back.first, back.last, back.count, back.prefix) == (
        runs[0].first,
        runs[0].last,
        runs[0].count,
        runs[0].prefix,
    )


def test_no_room_for_a_second_processs_output_leaves_the_work_to_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "gone"))
    assert _ForkedSecond.start(lambda hand_on, take: None, 0) is None


def test_a_second_processs_output_is_its_and_this_ones_alone_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Made in $TMPDIR, readable by its owner alone, and unlinked at once."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))

    def work(hand_on: HandOn, take: Take) -> None:
        hand_on(b"found")

    second = _ForkedSecond.start(work, 0)
    assert second is not None
    made = os.fstat(second._output.fileno())
    assert made.st_mode & 0o777 == 0o600
    assert made.st_nlink == 0
    assert list(tmp_path.iterdir()) == []
    assert list(second.output()) == [b"found"]
