"""Exports as admins hand them over: several joined into one file with `cat`, whatever
their styles, or a `--style json` export re-indented by another tool. Each is read as
its parts would be read one by one, never to a different verdict.

The exports are built from real wordings (tests/exports.py, from tests/fixtures) in each
of the five `log show` styles.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exports import CHATTER, EXCHANGES, STYLES, choose, export_of
from tests.support import FakeSystem
from watchdog_mdm import patterns
from watchdog_mdm.cli import cli
from watchdog_mdm.evidence import Collector, Observations
from watchdog_mdm.scan import Buffer, LogReader

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
MDMCLIENT = "/usr/libexec/mdmclient"
APSD = "/System/Library/PrivateFrameworks/ApplePushService.framework/apsd"
SENT, OK = EXCHANGES[0], EXCHANGES[1]  # real device-channel lines (mdmclient_lines.txt)
# source: apsd's format string (checkin_lines.txt) filled in as in tests/test_client_state.py
PUSH = (
    "apsd",
    APSD,
    "com.apple.apsd",
    "courier",
    "<private>: Received message for enabled topic "
    "'com.apple.mgmt.External.c809ab17-5b2e-4c1e-9d1f-3a5c1b7e2d40' onInterface: NonCellular "
    "with payload '<private>' with priority 10 for device token: YES",
)

Row = tuple[datetime, tuple[str, str, str, str, str], int | None]


def row(ago: timedelta, record: tuple[str, str, str, str, str]) -> Row:
    return (AT - ago, record, 0)


# Other processes' chatter, every 10 s for an hour: more than the first 64 KB in any
# style, where the style of an input is first told.
CHATTER_HOUR = [row(4 * HOUR - n * 10 * timedelta(seconds=1), CHATTER[n % 5]) for n in range(360)]
# The first export: the daily check-in 3 h ago, then a push 20 minutes ago. Alone, the
# push is unanswered: stuck. The second export, taken later, holds the answer.
PUSHED = [
    *CHATTER_HOUR,
    row(80 * MINUTE, CHATTER[2]),
    row(3 * HOUR + MINUTE, SENT),
    row(3 * HOUR, OK),
    row(20 * MINUTE, PUSH),
]
ANSWERED = [row(19 * MINUTE, SENT), row(19 * MINUTE - timedelta(seconds=1), OK)]

PAIRS = list(itertools.product(STYLES, STYLES))


def analyzed(*paths: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli, ["analyze", *map(str, paths), "--json"], obj=FakeSystem(clock=AT)
    )
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def verdicts(document: dict[str, Any]) -> dict[str, Any]:
    """All but how much was read (a joined file has no second header to skip), and how
    many of the daemons' entries were parsed besides those that matter: that depends on
    where chunks end, by design (tests/test_scan.py)."""
    evidence = dict(document["evidence"])
    log = dict(evidence.pop("log"))
    kept = {k: log[k] for k in ("relevant_entries", "newest_entry", "timestamps_without_offset")}
    senders = {**evidence.pop("senders"), "daemon_entries": None}
    return {**document, "evidence": {**evidence, "log": kept, "senders": senders}}


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}-then-{b}" for a, b in PAIRS])
def test_exports_joined_with_cat_give_the_verdicts_of_the_two_files(
    tmp_path: Path, first: str, second: str
) -> None:
    older, newer = tmp_path / f"older.{first}", tmp_path / f"newer.{second}"
    older.write_bytes(export_of(first, PUSHED))
    newer.write_bytes(export_of(second, ANSWERED))
    joined = tmp_path / "joined.log"
    joined.write_bytes(older.read_bytes() + newer.read_bytes())
    apart = analyzed(older, newer)
    assert (apart["MDMClientStuck"], apart["mdm_client"]["state"]) == (False, "healthy")
    assert verdicts(analyzed(joined)) == verdicts(apart)


def _what_matters(obs: Observations) -> Observations:
    # how many daemon entries were parsed depends on where blocks end (tests/test_scan.py)
    return replace(obs, daemon_entries=0)


def scanned(inputs: Iterable[Iterable[Buffer]], block: int | None = None) -> Observations:
    """What the inputs show, read one by one; ``block``: how much the reader searches at
    once, small to put the ends of its blocks anywhere."""
    reader = LogReader() if block is None else LogReader(block_size=block)
    collector = Collector()
    for chunks in inputs:
        collector.add_all(reader.scan(chunks, patterns.RELEVANT_MARKERS))
    return _what_matters(collector.observations())


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**31),
    st.integers(2, 40),
    st.integers(0, 40),
    st.sampled_from([0, 5, 400]),
    st.sampled_from(PAIRS),
    st.lists(st.integers(0, 10**6), max_size=6),
)
def test_a_joined_export_reads_as_its_parts_wherever_it_is_split(
    seed: int, count: int, split: int, chatter: int, pair: tuple[str, str], points: list[int]
) -> None:
    import random

    rng = random.Random(seed)
    when = AT - HOUR
    rows: list[Row] = []
    for _ in range(chatter):  # 400: more than the 64 KB the style is first told from
        when += timedelta(seconds=rng.randint(1, 9))
        rows.append((when, rng.choice(CHATTER), 0))
    count += chatter
    split += chatter
    for _ in range(count - chatter):
        when += timedelta(seconds=rng.randint(1, 90))
        rows.append((when, choose(rng), 0))
    split = split % (count + 1)
    first, second = export_of(pair[0], rows[:split]), export_of(pair[1], rows[split:])
    apart = scanned([[first], [second]])
    assert scanned([cut(first + second, points)]) == apart


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**31),
    st.lists(st.sampled_from([0, 3, 40]), min_size=3, max_size=3),
    st.tuples(*[st.sampled_from(STYLES)] * 3),
    st.lists(st.integers(0, 10**6), max_size=6),
)
def test_three_joined_exports_read_as_their_parts(
    seed: int, sizes: list[int], styles: tuple[str, str, str], points: list[int]
) -> None:
    """A JSON export between two others, all in one block of the reader."""
    import random

    rng = random.Random(seed)
    when = AT - HOUR
    parts = []
    for style, size in zip(styles, sizes, strict=True):
        rows: list[Row] = []
        for _ in range(size):
            when += timedelta(seconds=rng.randint(1, 90))
            rows.append((when, choose(rng), 0))
        parts.append(export_of(style, rows))
    apart = scanned([[part] for part in parts])
    assert scanned([cut(b"".join(parts), points)]) == apart


# ------------------------------------------------------------------ re-indented JSON


def records_of(export: bytes) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(export)
    return records


def entries_of(data: bytes) -> list[Any]:
    return list(LogReader().scan([data], patterns.RELEVANT_MARKERS))


def jq_like(records: list[dict[str, Any]]) -> bytes:
    """As `jq .` prints it: "[" alone, records indented by two, no "\\/" escapes."""
    return (json.dumps(records, indent=2, ensure_ascii=False) + "\n").encode()


REFORMATS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "indent=2": lambda records: json.dumps(records, indent=2).encode(),
    "indent=4": lambda records: json.dumps(records, indent=4).encode(),
    "compact": lambda records: json.dumps(records).encode(),
    "jq .": jq_like,
    "tabs, CRLF": lambda records: json.dumps(records, indent="\t").replace("\n", "\r\n").encode(),
}


@pytest.mark.parametrize("layout", REFORMATS)
def test_any_json_array_of_log_records_is_read_as_the_export_it_came_from(layout: str) -> None:
    export = export_of("json", [*PUSHED, *ANSWERED])
    original = entries_of(export)
    assert len(original) >= 5
    assert entries_of(REFORMATS[layout](records_of(export))) == original


@pytest.mark.parametrize("layout", REFORMATS)
def test_a_re_indented_export_is_judged_as_the_original(tmp_path: Path, layout: str) -> None:
    export = export_of("json", [*PUSHED, *ANSWERED])
    original, again = tmp_path / "export.json", tmp_path / "reindented.json"
    original.write_bytes(export)
    again.write_bytes(REFORMATS[layout](records_of(export)))
    assert verdicts(analyzed(again)) == verdicts(analyzed(original))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**31),
    st.sampled_from(sorted(REFORMATS)),
    st.lists(st.integers(0, 10**6), max_size=6),
)
def test_a_re_indented_export_is_read_across_any_chunking(
    seed: int, layout: str, points: list[int]
) -> None:
    import random

    rng = random.Random(seed)
    when = AT - HOUR
    rows: list[Row] = []
    for _ in range(30):
        when += timedelta(seconds=rng.randint(1, 90))
        rows.append((when, choose(rng), 0))
    export = export_of("json", rows)
    data = REFORMATS[layout](records_of(export))
    assert scanned([cut(data, points)]) == scanned([[export]])


@pytest.mark.parametrize("layout", REFORMATS)
@pytest.mark.parametrize("other", STYLES)
def test_a_re_indented_export_joined_to_another_reads_as_the_two(layout: str, other: str) -> None:
    rows = [*PUSHED, *ANSWERED]
    middle = len(rows) // 2
    array = REFORMATS[layout](records_of(export_of("json", rows[:middle]))) + b"\n"
    after = export_of(other, rows[middle:])
    assert scanned([[array + after]]) == scanned([[array], [after]])
    before = export_of(other, rows[:middle])
    array = REFORMATS[layout](records_of(export_of("json", rows[middle:]))) + b"\n"
    assert scanned([[before + array]]) == scanned([[before], [array]])


PIECES = st.sampled_from(
    [b"[", b"[{", b"]", b"}]", b"},{", b"{", b"}", b"\n", b'"a" : 1', b",", b"\xff\xfe", b"\r\n"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(PIECES, st.binary(max_size=20)), max_size=60),
    st.sampled_from(STYLES),
    st.lists(st.integers(0, 10**5), max_size=6),
)
def test_no_mix_of_json_pieces_and_lines_makes_the_reader_raise_or_loop(
    pieces: list[bytes], style: str, points: list[int]
) -> None:
    """Every restart of the style is at a later byte than the last, so reading ends."""
    export = export_of(style, PUSHED[-6:])
    data = export[: len(export) // 2] + b"".join(pieces) + export[len(export) // 2 :]
    reader = LogReader()
    entries = list(reader.scan(cut(data, points), patterns.RELEVANT_MARKERS))
    assert all(entry.timestamp.tzinfo is not None for entry in entries)
    assert reader.bytes_read == len(data)


# ------------------------------------------- re-laid-out JSON between other exports


def one_line(records: list[dict[str, Any]]) -> bytes:
    """As ``json.dumps(array)`` writes it, with the newline a shell adds."""
    return (json.dumps(records) + "\n").encode()


# What each part of a joined file may be: a style of `log show`, or its JSON export as
# another tool laid it out.
LAYOUTS: dict[str, Callable[[list[Row]], bytes]] = {
    **{style: partial(export_of, style) for style in STYLES},
    "jq .": lambda rows: jq_like(records_of(export_of("json", rows))),
    "one line": lambda rows: one_line(records_of(export_of("json", rows))),
}


@pytest.mark.parametrize("layout", ["one line", "jq ."])
@pytest.mark.parametrize("text", ["compact", "ndjson", "default"])
def test_a_small_text_export_then_a_re_laid_out_answer_gives_the_verdict_of_the_two(
    tmp_path: Path, layout: str, text: str
) -> None:
    """The answer to the push, in a JSON array another tool laid out, after a small
    export (a few lines: where the reader tells the first part's style from, the array
    opens too), then another small export: three parts, read as the three files."""
    older = export_of(text, PUSHED[-3:])
    answer = LAYOUTS[layout]([row(19 * MINUTE + 5 * timedelta(seconds=1), CHATTER[2]), *ANSWERED])
    later = export_of(text, [row(10 * MINUTE, CHATTER[2])])
    paths = [tmp_path / "1.log", tmp_path / "2.json", tmp_path / "3.log"]
    for path, data in zip(paths, (older, answer, later), strict=True):
        path.write_bytes(data)
    apart = analyzed(*paths)
    assert (apart["MDMClientStuck"], apart["mdm_client"]["state"]) == (False, "healthy")
    for parts in (paths, paths[:2]):
        joined = tmp_path / "joined.log"
        joined.write_bytes(b"".join(path.read_bytes() for path in parts))
        assert verdicts(analyzed(joined)) == verdicts(analyzed(*parts))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**31),
    st.lists(st.sampled_from([0, 1, 3, 40]), min_size=3, max_size=3),
    st.tuples(*[st.sampled_from(sorted(LAYOUTS))] * 3),
    st.lists(st.integers(0, 10**6), max_size=6),
    st.sampled_from([64, 1000, 4 << 20]),
)
def test_three_joined_exports_of_any_layout_read_as_their_parts(
    seed: int,
    sizes: list[int],
    layouts: tuple[str, str, str],
    points: list[int],
    block: int,
) -> None:
    """Whatever the layouts, and wherever chunks and the reader's blocks end."""
    import random

    rng = random.Random(seed)
    when = AT - HOUR
    parts = []
    for layout, size in zip(layouts, sizes, strict=True):
        rows: list[Row] = []
        for _ in range(size):
            when += timedelta(seconds=rng.randint(1, 90))
            rows.append((when, choose(rng), 0))
        parts.append(LAYOUTS[layout](rows))
    apart = scanned([[part] for part in parts])
    assert scanned([cut(b"".join(parts), points)], block) == apart


@pytest.mark.parametrize("layout", ["jq .", "one line"])
def test_a_re_laid_out_array_between_two_json_exports_reads_as_the_three(layout: str) -> None:
    """The first export's records would otherwise run on to the third's first close."""
    parts = [
        export_of("json", PUSHED[-3:]),
        LAYOUTS[layout](ANSWERED),
        export_of("json", [row(10 * MINUTE, CHATTER[2])]),
    ]
    assert scanned([[b"".join(parts)]]) == scanned([[part] for part in parts])


# What may follow the "[" that opens an array (json.dumps laid out five ways): the reader
# searches for each where a line opens with "[", and for "[" alone at the end of input.
OPENINGS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "[{": lambda records: json.dumps(records).encode(),
    "[ LF": lambda records: json.dumps(records, indent=1).encode(),
    "[ CRLF": lambda records: json.dumps(records, indent=1).replace("\n", "\r\n").encode(),
    "[ space": lambda records: b"[ " + json.dumps(records)[1:].encode(),
    "[ tab": lambda records: b"[\t" + json.dumps(records)[1:].encode(),
}


@pytest.mark.parametrize("opening", OPENINGS)
@pytest.mark.parametrize("text", ["compact", "ndjson", "default"])
def test_an_array_of_no_marker_opening_among_lines_is_found_where_it_opens(
    opening: str, text: str
) -> None:
    """Chatter alone, in an array after a text export: no line of it holds a marker to
    find it by, so only the line that opens it does; its newest entry is the newest."""
    before = export_of(text, [*PUSHED[-3:], *ANSWERED])
    chatter = [row(10 * MINUTE - n * timedelta(seconds=5), CHATTER[n % 5]) for n in range(6)]
    array = OPENINGS[opening](records_of(export_of("json", chatter))) + b"\n"
    apart = scanned([[before], [array]])
    assert apart.newest_entry == AT - 10 * MINUTE + 5 * 5 * timedelta(seconds=1)
    assert scanned([[before + array]]) == apart
    assert scanned([[before + b"[\n" + array]]) == apart  # "[" alone, then the array
