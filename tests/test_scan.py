"""The scanner: searching chunks for marker bytes finds exactly what reading every line
(the reference reader) finds, wherever the chunks cut the lines, in every style, with
either marker search."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import SupportsIndex

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference_reader import ReferenceReader
from tests.support import LOGS, FakeSystem, real_lines, render, write_export
from watchdog_mdm import patterns
from watchdog_mdm.evidence import Collector, Observations
from watchdog_mdm.markers import MarkerSearch, PassPerMarker
from watchdog_mdm.scan import Buffer, LogReader

MARKERS = patterns.RELEVANT_MARKERS


class PassPerMarkerReader(LogReader):
    """The scanner with the standard library's search, one pass per marker."""

    @staticmethod
    def search_for(markers: tuple[bytes, ...]) -> MarkerSearch:
        return PassPerMarker(markers)


def _what_matters(obs: Observations) -> Observations:
    # How many entries from the daemons were seen depends on the reader, by design: the
    # scanner parses only lines with a marker, and each block's last (a shuffled export
    # may end with a marker line, and then a daemon's other lines are never parsed). It
    # only tells a live run, whose output is all the daemons', that the log held any.
    # Everything else must be the same, however it was read.
    return replace(obs, daemon_entries=0)


def by_reading(lines: list[bytes]) -> Observations:
    return _what_matters(Collector().add_all(ReferenceReader().read(lines)).observations())


def by_scanning(chunks: Iterable[Buffer], *, one_pass: bool = True) -> Observations:
    reader = LogReader() if one_pass else PassPerMarkerReader()
    return _what_matters(Collector().add_all(reader.scan(chunks, MARKERS)).observations())


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def test_every_line_a_pattern_reads_holds_a_marker() -> None:
    matched = 0
    for line in real_lines():
        message = line
        wanted = (
            patterns.HTTP_EXCHANGE.search(message)
            or patterns.SERVER_REQUEST.search(message)
            or patterns.UPDATE_PROGRESS.search(message)
            or any(
                t in message for t in (*patterns.IDENTITY_ERRORS, *patterns.DDM_UPDATE_ENFORCEMENT)
            )
        )
        if wanted:
            matched += 1
            assert any(m.decode() in line for m in MARKERS), line
    assert matched > 50
    for text in (*patterns.IDENTITY_ERRORS, *patterns.DDM_UPDATE_ENFORCEMENT):
        assert any(m.decode() in text for m in MARKERS), text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.deferred(lambda: st.sampled_from(real_lines())), min_size=1, max_size=40),
    st.lists(st.text(max_size=60).filter(lambda t: "\n" not in t and "\r" not in t), max_size=10),
    st.lists(st.integers(0, 100_000), max_size=12),
    st.randoms(use_true_random=False),
)
def test_scanning_finds_what_reading_finds(
    lines: list[str], garbage: list[str], points: list[int], random: object
) -> None:
    mixed = lines + garbage
    random.shuffle(mixed)  # type: ignore[attr-defined]
    data = ("\n".join(mixed) + "\n").encode()
    read = by_reading(data.splitlines(keepends=True))
    scanned = by_scanning(cut(data, points))
    # Only the newest time may differ: a scan takes it from the last entry of each
    # chunk, which is the newest in a real (chronological) export, not in a shuffle.
    assert replace(scanned, newest_entry=None) == replace(read, newest_entry=None)
    assert by_scanning(cut(data, points), one_pass=False) == scanned


def test_the_newest_entry_of_a_chronological_export_is_found() -> None:
    data = (
        LOGS / "super-45fdb21" / "12.3-to-13.3.1-Apple-Silicon-Jamf-Pro-MDM" / "mdmWorkflow.log"
    ).read_bytes()
    read = by_reading(data.splitlines(keepends=True))
    for size in (1, 97, 4096, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert by_scanning(chunks).newest_entry == read.newest_entry


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.integers(0, 10**7), max_size=8))
def test_pretty_json_records_are_found_across_any_chunking(
    seed: int,
    points: list[int],
) -> None:
    import random

    rng = random.Random(seed)
    from tests.support import CHATTER, COMMANDS, EXCHANGES

    when = datetime(2026, 11, 25, tzinfo=UTC)
    bodies = []
    for _ in range(30):
        when += timedelta(seconds=rng.randint(1, 60))
        bodies.append(render("json", when, rng.choice([*EXCHANGES, *COMMANDS, *CHATTER])))
    text = "[{\n" + "},{\n".join(bodies) + "}]\n"
    lines = text.encode().splitlines(keepends=True)
    read = by_reading(lines)
    scanned = by_scanning(cut(text.encode(), points))
    assert scanned == read
    assert by_scanning(cut(text.encode(), points), one_pass=False) == read


def test_synthetic_exports_of_every_style_agree(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    results = {}
    for style in ("ndjson", "default", "compact", "syslog", "json"):
        path = folder / f"export.{style}"
        write_export(style, path, 300_000)
        data = path.read_bytes()
        read = by_reading(data.splitlines(keepends=True))
        scanned = by_scanning([data[i : i + 65536] for i in range(0, len(data), 65536)])
        assert scanned == read, style
        results[style] = scanned
    assert len({r.last_command for r in results.values()}) == 1  # same story in every style


def test_each_chunk_of_the_seam_is_read_before_the_next_is_asked_for(tmp_path: Path) -> None:
    """A chunk of System.read_export is invalid once the next is asked for; the fake
    closes each then, so a scanner that kept one (beyond the copy it carries of a line
    cut by the chunk's end) would raise here, or miss what it held."""
    # Pretty JSON is left out: the fake hands out one line a chunk, and fed so, the
    # scanner finds no record's closing "\n}" inside any chunk and loses records.
    for style in ("ndjson", "compact", "default"):
        path = tmp_path / f"export.{style}"
        write_export(style, path, 150_000)
        read = by_reading(path.read_bytes().splitlines(keepends=True))
        assert read.last_device_success is not None
        assert by_scanning(FakeSystem().read_export(str(path))) == read, style


def _pretty(newline: bytes) -> bytes:
    from tests.support import COMMANDS, EXCHANGES

    when = datetime(2026, 11, 25, tzinfo=UTC)
    bodies = [
        render("json", when + timedelta(seconds=n), record)
        for n, record in enumerate([*EXCHANGES, *COMMANDS])
    ]
    text = "[{\n" + "},{\n".join(bodies) + "}]\n"
    return text.encode().replace(b"\n", newline)


def test_pretty_json_with_crlf_line_ends() -> None:
    data = _pretty(b"\r\n")
    read = by_reading(data.splitlines(keepends=True))
    assert read.last_command is not None
    assert by_scanning([data]) == read


def test_pretty_json_after_several_preamble_lines() -> None:
    preamble = b"".join(b"note %d: captured by a script\n" % n for n in range(6))
    data = (
        preamble + b'Filtering the log data using "process == \\"mdmclient\\""\n' + _pretty(b"\n")
    )
    read = by_reading(data.splitlines(keepends=True))
    assert read.last_device_success is not None
    assert by_scanning([data]) == read


def test_two_exports_joined_with_cat_keep_the_second_ones_first_line() -> None:
    line = next(x for x in real_lines() if "Received HTTP response (200)" in x and x[:1] == "2")
    data = b"\xef\xbb\xbf" + line.encode() + b"\n" + b"\xef\xbb\xbf" + line.encode() + b"\n"
    assert by_scanning([data]).relevant_entries == 2


class CountingBytes(bytes):
    """Bytes that count how many bytes find() and rfind() looked at: from where each
    search began to where it found its match, or all of its range."""

    searched = 0

    # narrower than bytes.find: the scanner only ever searches for bytes
    def find(
        self,
        sub: bytes,  # type: ignore[override]
        start: SupportsIndex | None = None,
        end: SupportsIndex | None = None,
        /,
    ) -> int:
        low, high, _ = slice(start, end).indices(len(self))
        at = super().find(sub, low, high)
        CountingBytes.searched += (at + len(sub) if at != -1 else high) - low
        return at

    # narrower than bytes.rfind: the scanner only ever searches for bytes
    def rfind(
        self,
        sub: bytes,  # type: ignore[override]
        start: SupportsIndex | None = None,
        end: SupportsIndex | None = None,
        /,
    ) -> int:
        low, high, _ = slice(start, end).indices(len(self))
        at = super().rfind(sub, low, high)
        CountingBytes.searched += high - (at if at != -1 else low)
        return at


def test_finding_record_bounds_costs_about_one_read_of_the_block() -> None:
    """Each pretty JSON record holding a marker is bounded by searching back for its
    opening line. That search must stop at the record before (and must not look for a
    CRLF ending all the way back in an LF export): a day's export once took 30 s."""
    from tests.support import COMMANDS, EXCHANGES

    when = datetime(2026, 11, 25, tzinfo=UTC)
    bodies = [
        render(
            "json",
            when + timedelta(seconds=n),
            EXCHANGES[n % len(EXCHANGES)] if n % 2 else COMMANDS[n % len(COMMANDS)],
        )
        for n in range(2000)
    ]
    data = ("[{\n" + "},{\n".join(bodies) + "}]\n").encode()
    CountingBytes.searched = 0
    scanned = by_scanning([CountingBytes(data)])
    assert scanned.relevant_entries == 2000
    # quadratic was ~1000 x; looking for CRLF braces across every LF window, 2.4 x
    assert CountingBytes.searched < 2 * len(data)


def test_a_cut_off_json_export_joined_to_another_loses_none_of_the_others_records() -> None:
    """`cat` of an export cut off mid-record and a whole one: the cut record has no
    closing line, so it seems to run on into the next export; the records there are read
    all the same (found in review: a stuck verdict flipped on exactly this)."""
    from tests.support import EXCHANGES

    when = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    cut_off = render("json", when, EXCHANGES[1])
    cut_off = cut_off[: cut_off.index("Received HTTP response") + 30]  # mid-message
    whole = [
        render("json", when + timedelta(minutes=5), EXCHANGES[1]),
        render("json", when + timedelta(minutes=6), EXCHANGES[0]),
    ]
    data = ("[{\n" + cut_off + "\n[{\n" + "},{\n".join(whole) + "}]\n").encode()
    read = by_reading(data.splitlines(keepends=True))
    assert read.last_device_success is not None
    assert read.last_device_success.time == when + timedelta(minutes=5)
    for one_pass in (True, False):
        assert by_scanning([data], one_pass=one_pass) == read


def test_lines_that_only_began_like_pretty_json_are_read_on_their_own() -> None:
    """Text after lines that look like the start of `--style json` ("{", then a line
    that opens another object) is read line by line, as reading reads the lines that
    break a record; also when the would-be record runs on for over a megabyte (found
    by the property test above: the scan had taken it all for one broken record)."""
    line = next(x for x in real_lines() if "Received HTTP response (200)" in x and x[:1] == "2")
    chatter = line.replace("Received HTTP response", "Received a reply") + "\n"
    for filler in (0, (1 << 20) // len(chatter) + 1):
        data = ("{\n{\n" + chatter * filler + line + "\n").encode()
        read = by_reading(data.splitlines(keepends=True))
        assert read.last_device_success is not None
        for points in ([], [3, 1000, 700_000]):
            assert by_scanning(cut(data, points)) == read, (filler, points)


def test_lines_between_would_be_records_are_read_once() -> None:
    """Stray "[{" lines among text lines (cut-off pretty exports joined to a compact one)
    make would-be records that overlap; each text line must still be read once, not once
    per record around it (found in review: 51,001 entries for 2,001 lines)."""
    head = (
        '[{\n  "timestamp" : "2024-05-01 10:00:00.000000-0700",\n  "eventMessage" : "chatter"\n}\n'
    )
    lines = []
    for n in range(400):
        if n % 40 == 0:
            lines.append("[{\n")
        message = (
            "Unable to create MDM identity" if n % 7 == 0 else "Sending HTTP request (PUT) [Idle]"
        )
        lines.append(
            f"2024-05-01 10:{n // 60:02d}:{n % 60:02d}.000 Df mdmclient[12:ab] "
            f"[com.apple.ManagedClient:HTTPUtil] {message}\n"
        )
    data = (head + "".join(lines)).encode()
    read = by_reading(data.splitlines(keepends=True))
    assert read.relevant_entries == 400
    assert by_scanning([data]) == read
    assert by_scanning(cut(data, [5000, 20_000])) == read


def test_record_openers_that_never_close_cost_a_few_reads_of_the_block() -> None:
    """Thousands of "{" lines and no closing "}" line: each hit once searched forward to
    the end of the block, and each would-be record was re-read to the end (quadratic:
    13 s for 1.5 MB before, and 250 s once re-reading came in)."""
    record = (
        b'{\n  "timestamp" : "2024-05-01 10:00:00.000000-0700",\n'
        b'  "eventMessage" : "Sending HTTP request x",\n'
    )
    data = b"[" + record * 2000 + b"}\n"
    CountingBytes.searched = 0
    assert by_scanning([CountingBytes(data)]) == by_reading(data.splitlines(keepends=True))
    assert CountingBytes.searched < 4 * len(data)  # 3.4 reads, at 2,000 or 8,000 records
