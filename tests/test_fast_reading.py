"""Reading progress-heavy exports fast reads them as the general way does.

During an update softwareupdated reports progress several times a second, each line
with its own numbers, so the shortcuts that make such exports fast (a text line
remembered up to its progress wording, a collector that reads a progress line with one
match) are held here to the general reading: whatever comes before and after the
wording, forged, escaped or broken, the same entries and the same observations.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.exports import PROGRESS, downloading, render, write_export
from tests.reference_reader import ReferenceReader
from watchdog_mdm import patterns
from watchdog_mdm.entries import EntryParser, LogEntry
from watchdog_mdm.evidence import Collector, read_update_message, update_progress
from watchdog_mdm.scan import LogReader

WORDING = "[SUMacControllerProgressManager] Reported progress ("
SU_IMAGE = patterns.SOFTWARE_UPDATE_PATHS[0]


class MatchingEveryLine(EntryParser):
    """A parser that remembers no line ending: it matches every line against the styles."""

    REMEMBERED_CHARS = 0


TIMESTAMPS = st.sampled_from(
    [
        "2026-11-25 00:00:00.692000+0000",
        "2026-11-25 00:00:00.692",
        "2026-11-25 00:00:00",
        "2026-11-25T00:00:00Z",
        "2026-11-25 00:00:00-0400",
        "9999-11-25 00:00:00.000000+0000",
    ]
)
# What comes between the timestamp and the wording, in each style, and in none: the
# parts a style reads before the message (host, process, pid, sender, subsystem), with
# brackets, parentheses and spaces where they could be taken for the wording's.
_PIECES = st.text(alphabet="[]():. x0123456789abDf-_\t\u0085\u202e", max_size=12)
HEADS = st.one_of(
    st.sampled_from(
        [
            " Df softwareupdated[1718:2efa] [com.apple.SoftwareUpdateMacController:SU] ",
            " 0x2efa     Default     0x0    1718   0    softwareupdated: "
            "[com.apple.SoftwareUpdateMacController:SU] ",
            "  localhost softwareupdated[1718]: [com.apple.SoftwareUpdateMacController:SU] ",
            "  localhost softwareupdated[1718]: ",
            "  host",  # syslog's host running into the wording
            "  host softwareupdated",
            " Df softwareupdated[1718:2efa] (sender) ",
            " Df softwareupdated[1718:2efa] (sender ",  # a sender the wording's "(" ends
            " Df softwareupdated[1718:2efa] [com.apple.su:",  # a category open to its "]"
            " Df softwareupdated[1718:2efa] [com.apple.su:SU] x",
            " Df softwareupdated[1718:2efa] ",
            " Df softwareupdated",
            " 0x1 Default 0x0 12 0 proc: foo[12]: ",  # default and syslog both read it
            "",
        ]
    ),
    st.builds(lambda a, b: f" Df {a}[1:2] {b}", _PIECES, _PIECES),
    st.builds(lambda a, b: f"  {a} softwareupdated[7]: {b}", _PIECES, _PIECES),
    st.builds(lambda a, b: f" 0x1 Default 0x0 7 0 {a}: {b}", _PIECES, _PIECES),
)
# What follows the wording: a progress line's own numbers, or anything (a style's
# fields again, another wording, unsafe characters, a line break).
TAILS = st.one_of(
    st.builds(
        lambda edge, portion: (
            f"{edge}): phase:DOWNLOADING_UPDATE stalled:NO "
            f"portionComplete:{portion} totalWrittenBytes:1 estimatedTimeRemaining:2"
        ),
        st.sampled_from(["inter", "start", "end", "x y"]),
        st.sampled_from(["0.5", "1.2.3", "", "0.000001"]),
    ),
    st.text(alphabet="[]():. x0123456789]: \t\n\u0085\u202e\udc80a", max_size=30),
    st.sampled_from(["", "[12]: x", "x [1:2] y", "inter): phase:X " + WORDING + "end)"]),
)


@settings(max_examples=300, deadline=None)
@given(
    heads=st.lists(HEADS, min_size=1, max_size=3),
    lines=st.lists(
        st.tuples(TIMESTAMPS, st.integers(0, 2), TAILS, st.booleans()), min_size=1, max_size=30
    ),
)
def test_a_line_remembered_up_to_its_progress_wording_reads_as_one_matched_whole(
    heads: list[str], lines: list[tuple[str, int, str, bool]]
) -> None:
    """A text line is remembered up to softwareupdated's progress wording, the rest being
    each line's own: every line, whatever comes before and after the wording, reads as
    it does when every line is matched against the styles."""
    texts = [
        ts + heads[which % len(heads)] + (WORDING if worded else "") + tail
        for ts, which, tail, worded in lines
    ]
    remembering, matching = EntryParser(), MatchingEveryLine()
    assert [remembering.from_line(t) for t in texts] == [matching.from_line(t) for t in texts]
    assert remembering.entries == matching.entries
    assert remembering.naive_timestamps == matching.naive_timestamps


class CountingMatches(EntryParser):
    """A parser that counts the lines it matches against the styles."""

    matched = 0

    def _from_styles(self, line: str, has_offset: bool) -> object:  # type: ignore[override]
        self.matched += 1
        return super()._from_styles(line, has_offset)


def test_progress_lines_are_matched_once_for_all_that_begin_alike() -> None:
    """What makes them fast: one match per distinct beginning, not one per line."""
    parser = CountingMatches()
    head = "2026-11-25 00:00:00.692 Df softwareupdated[1718:2efa] [com.apple.SU:SU] "
    lines = [f"{head}{WORDING}inter): phase:DOWNLOADING portionComplete:0.{n}" for n in range(50)]
    read = list(ReferenceReader(parser=parser).read(lines))
    assert [e.message for e in read] == [line[len(head) :] for line in lines]
    assert parser.matched == 1


# ----------------------------------------------------------------- the collector

PROGRESS_MESSAGES = st.builds(
    lambda before, edge, phase, after: f"{before}Reported progress ({edge}): phase:{phase}{after}",
    st.sampled_from(
        ["[SUMacControllerProgressManager] ", "Scan r", "", "x [SUMacControllerProgressManager] "]
    ),
    st.sampled_from(["inter", "start", "end", "é"]),
    st.sampled_from(["DOWNLOADING_UPDATE", "ACCEPTED", "lower", ""]),
    st.lists(
        st.sampled_from(
            [
                " stalled:NO",
                " portionComplete:0.25",
                " portionComplete:1.2.3",
                " portionComplete:",
                " scheduleEnforcedManagedUpdateWithVersion",
                " Reported progress (end): phase:APPLYING portionComplete:0.5",
                " estimatedTimeRemaining:3.0",
            ]
        ),
        max_size=4,
    ).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(messages=st.lists(PROGRESS_MESSAGES, min_size=1, max_size=8), order=st.randoms())
def test_the_collector_reads_progress_as_the_general_reading_says(
    messages: list[str], order: object
) -> None:
    """Each progress line is read by one match where it starts; what it adds up to is
    what the general reading of a softwareupdated line says, in any order of lines."""
    times = [datetime(2026, 11, 25, 0, 0, n, tzinfo=UTC) for n in range(len(messages))]
    entries = [
        LogEntry(time, "softwareupdated", message, image_path=SU_IMAGE, user_id=0)
        for time, message in zip(times, messages, strict=True)
    ]
    order.shuffle(entries)  # type: ignore[attr-defined]
    obs = Collector().add_all(entries).observations()
    readings = [read_update_message(m) for m in messages]
    declarations = sum(patterns.DDM_DECLARATION_LINE.match(m) is not None for m in messages)
    assert obs.relevant_entries == sum(p + e for p, e in readings) + declarations
    progressed = [t for t, (p, _) in zip(times, readings, strict=True) if p]
    assert (obs.last_update_progress.time if obs.last_update_progress else None) == max(
        progressed, default=None
    )
    assert [(p.time, p.phase, p.edge, p.portion) for p in obs.update_progress] == kept_by_runs(
        [(e.timestamp, update_progress(e.message)) for e in entries]
    )


def kept_by_runs(
    reports: list[tuple[datetime, tuple[str, str, float | None] | None]],
) -> list[tuple[datetime, str, str, float | None]]:
    """The reports an update's progress lines leave, in the order read (docs/detection.md,
    "Update progress"): reports of one phase and edge one after another, each as new as
    the one before, are a run, kept as its first and last; in time order, then the order
    read."""
    runs: list[list[tuple[int, datetime, str, str, float | None]]] = []
    for arrival, (time, update) in enumerate(reports):
        if update is None:
            continue
        report = (arrival, time, *update)
        last = runs[-1][-1] if runs else None
        if last is not None and last[2:4] == update[:2] and time >= last[1]:
            runs[-1][1:] = [report]
        else:
            runs.append([report])
    kept = sorted(report for run in runs for report in run)
    return [report[1:] for report in sorted(kept, key=lambda r: (r[1], r[0]))]


@settings(max_examples=200, deadline=None)
@given(messages=st.lists(PROGRESS_MESSAGES, min_size=1, max_size=40))
def test_runs_of_a_phase_keep_the_order_of_phases_and_the_newest_report(
    messages: list[str],
) -> None:
    """Read in time order, the reports kept go through the phases as every report does,
    and end with the newest: what loops and stalls are judged by."""
    times = [
        datetime(2026, 11, 25, tzinfo=UTC) + timedelta(seconds=n // 2) for n in range(len(messages))
    ]
    entries = [
        LogEntry(time, "softwareupdated", message, image_path=SU_IMAGE, user_id=0)
        for time, message in zip(times, messages, strict=True)
    ]
    kept = Collector().add_all(entries).observations().update_progress
    every = [(t, u) for t, m in zip(times, messages, strict=True) if (u := update_progress(m))]
    assert [key for key, _ in itertools.groupby((p.phase, p.edge) for p in kept)] == [
        key for key, _ in itertools.groupby(u[:2] for _, u in every)
    ]
    if every:
        assert (kept[-1].time, kept[-1].phase, kept[-1].edge, kept[-1].portion) == (
            every[-1][0],
            *every[-1][1],
        )


# ------------------------------------------------------------ JSON records by layout


class ReadingEveryRecordWhole(EntryParser):
    """A parser that keeps no layout: it parses every JSON record whole."""

    LAYOUTS = 0


WHEN = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
MDMCLIENT_PATH = "\\/usr\\/libexec\\/mdmclient"

# Edits of a progress record's text: other values where a layout has holes (plain or
# not), values a layout has as text, keys added, doubled, reordered, forged in the
# message, white space, and damage. (old, new): the first occurrence is replaced.
_RECORD_EDITS = st.one_of(
    st.tuples(
        st.just('"machTimestamp":23247436516259'),
        st.sampled_from(
            [
                '"machTimestamp":1',
                '"machTimestamp":0',
                '"machTimestamp":01',
                '"machTimestamp":-5',
                '"machTimestamp":1.5',
                '"machTimestamp":1e3',
                '"machTimestamp":123456789012345678901234',
                '"machTimestamp":"12"',
                '"machTimestamp":null',
                '"machTimestamp": 7',
            ]
        ),
    ),
    st.tuples(
        st.just('"traceID":13353070231556'),
        st.sampled_from(['"traceID":1', '"traceID":99', '"traceID":-1', '"traceID":1.0']),
    ),
    st.tuples(st.just('"threadID":'), st.sampled_from(['"threadID":1', '"threadID":-'])),
    st.tuples(
        st.just('"activityIdentifier":0'),
        st.sampled_from(['"activityIdentifier":5', '"activityIdentifier":07']),
    ),
    st.tuples(
        st.just('"timestamp":"2026-11-25'),
        st.sampled_from(
            [
                '"timestamp":"2027-01-02',
                '"timestamp":"9999-11-25',
                '"timestamp":"x2026-11-25',
                '"timestamp":"2026\\u002d11-25',
                '"timestamp":"\\u0032026-11-25',
            ]
        ),
    ),
    st.tuples(
        st.just('"eventMessage":"'),
        st.builds(lambda text: '"eventMessage":' + json.dumps(text)[:-1], st.text(max_size=20)),
    ),
    st.tuples(
        st.just('"eventMessage":"'),
        st.builds(
            lambda text: '"eventMessage":"' + text,
            st.text(alphabet="\t\x01\x1f\x7f\x85é\u2028\udc80 a", min_size=1, max_size=3),
        ),
    ),
    st.tuples(
        st.just('"eventMessage":"'),
        st.builds(
            lambda text: '"eventMessage":"' + text,
            st.text(alphabet='"\\/ ,:{}\t\x01\x7fu0aé\udc80', max_size=8),
        ),
    ),
    st.tuples(
        st.just('"eventMessage":"'),
        st.just(
            '"eventMessage":"\\",\\"processImagePath\\":\\"' + MDMCLIENT_PATH + '\\",\\"x\\":\\"'
        ),
    ),
    st.tuples(
        st.just('"processImagePath":"'),
        st.sampled_from(
            [
                '"processImagePath":"' + MDMCLIENT_PATH + '","x":"',
                '"processImage\\u0050ath":"',
                '"processImagePath":"\\/usr\\/local',
            ]
        ),
    ),
    st.tuples(
        st.just('"parentActivityIdentifier":0}'),
        st.sampled_from(
            [
                '"parentActivityIdentifier":0,"processImagePath":"' + MDMCLIENT_PATH + '"}',
                '"parentActivityIdentifier":0,"timestamp":"2026-11-26 00:00:00.000000+0000"}',
                '"parentActivityIdentifier":0,"eventMessage":"hello"}',
                '"parentActivityIdentifier":0,"userID":501}',
                '"parentActivityIdentifier":0} ',
                '"parentActivityIdentifier":0}}',
                '"parentActivityIdentifier":0',
                '"parentActivityIdentifier":NaN}',
            ]
        ),
    ),
    st.tuples(st.just('"userID":0'), st.sampled_from(['"userID":501', '"userID" : 0'])),
    st.tuples(st.just('{"timezoneName"'), st.sampled_from(['{ "timezoneName"', '["timezoneName"'])),
    st.tuples(st.just('"source":null,'), st.just("")),
)


def _progress_record(style: str, seconds: int, portion: float, user_id: int | None) -> str:
    record = downloading(portion) if portion >= 0 else PROGRESS[0]
    text = render(style, WHEN + timedelta(seconds=seconds), record, user_id)
    return text.strip() if style == "ndjson" else "{\n" + text.rstrip("\n") + "\n}"


def _edited(old: str, new: str) -> list[tuple[int, float, int | None, list[tuple[str, str]]]]:
    return [(2, 0.25, 0, [(old, new)])]


@settings(max_examples=300, deadline=None)
@example(style="ndjson", records=_edited('"eventMessage":"', '"eventMessage":"\x01'))
@example(style="ndjson", records=_edited('"eventMessage":"', '"eventMessage":"\x7f'))
@example(style="json", records=_edited('"eventMessage":"', '"eventMessage":"é'))
@example(style="ndjson", records=_edited('"eventMessage":"', '"eventMessage":"\\u00e9'))
@example(style="ndjson", records=_edited('"machTimestamp":2', '"machTimestamp":-2'))
@example(style="ndjson", records=_edited('"eventMessage":"', '"eventMessage":"x"'))
@example(  # a message that closes itself and names a key, the record's text otherwise alike
    style="ndjson",
    records=_edited('"eventMessage":"', '"eventMessage":"a","processImageUUID":"X'),
)
@example(style="json", records=_edited('"eventMessage":"', '"eventMessage":"\\"'))
@given(
    style=st.sampled_from(["ndjson", "json"]),
    records=st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.sampled_from([-1.0, 0.0, 0.25, 0.999999]),
            st.sampled_from([0, 0, 200, 501, None]),
            st.lists(_RECORD_EDITS, min_size=1, max_size=2),
        ),
        min_size=1,
        max_size=25,
    ),
)
def test_a_record_read_by_the_layout_of_another_reads_as_one_parsed_whole(
    style: str, records: list[tuple[int, float, int | None, list[tuple[str, str]]]]
) -> None:
    """A progress record like one read before but for its time, message and counters is
    read by that one's layout; any record, whatever its values, keys, escapes, forged
    keys in its message, white space or damage, reads as it does parsed whole."""
    # two records alike first: a layout is learnt from them, for the edited ones to fit
    texts = [_progress_record(style, 0, 0.5, 0), _progress_record(style, 1, 0.6, 0)]
    for seconds, portion, user_id, edits in records:
        text = _progress_record(style, seconds, portion, user_id)
        for old, new in edits:
            text = text.replace(old, new, 1)
        texts.append(text)
    by_layout, whole = EntryParser(), ReadingEveryRecordWhole()
    read = [by_layout.from_record(t) for t in texts]
    assert read == [whole.from_record(t) for t in texts]
    assert [by_layout.from_line(t.strip()) for t in texts] == read
    assert by_layout.entries == whole.entries * 2


def test_progress_records_are_read_by_their_layout() -> None:
    """What makes them fast: after the first, each is read by its layout, not parsed."""
    parser = EntryParser()
    texts = [_progress_record("ndjson", n, n / 100, 0) for n in range(50)]
    entries = [parser.from_line(text) for text in texts]
    assert [e.message for e in entries if e] == [json.loads(t)["eventMessage"] for t in texts]
    assert parser._layouts_used >= 48


def test_a_record_forging_the_daemons_path_in_its_message_is_not_the_daemons() -> None:
    parser = EntryParser()
    daemon = _progress_record("ndjson", 0, 0.5, 0)
    parser.from_line(daemon)
    parser.from_line(_progress_record("ndjson", 1, 0.6, 0))
    forged = daemon.replace(
        '"eventMessage":"',
        '"eventMessage":"\\",\\"processImagePath\\":\\"' + MDMCLIENT_PATH + '\\"',
    )
    forged = forged.replace(patterns.SOFTWARE_UPDATE_PATHS[0].replace("/", "\\/"), "\\/tmp\\/x")
    entry = parser.from_line(forged)
    assert entry is not None
    assert entry.image_path == "/tmp/x"
    assert entry.message.startswith('","processImagePath":"/usr/libexec/mdmclient"')


def test_progress_exports_of_every_style_read_as_the_reference_reader_reads_them(
    tmp_path: Path,
) -> None:
    """An updating Mac's export, read by the scanner in chunks, in every style, says
    what reading every line says (the count of the daemons' entries aside: the scanner
    parses only the lines that may matter, tests/test_scan.py)."""
    for style in ("ndjson", "default", "compact", "syslog", "json"):
        path = tmp_path / f"export.{style}"
        write_export(style, path, 300_000, mix="progress")
        data = path.read_bytes()
        read = Collector().add_all(ReferenceReader().read(data.splitlines(keepends=True)))
        chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
        expected = replace(read.observations(), daemon_entries=0)
        for runs in (False, True):
            scanned = Collector().add_all(
                LogReader().scan_runs(chunks, patterns.RELEVANT_MARKERS, runs=runs)
            )
            assert replace(scanned.observations(), daemon_entries=0) == expected, style
        # kept as runs of one phase and edge: a download's reports between two reports
        # of another phase are two
        downloading = data.count(b"Reported progress (inter)")
        assert 2 < len(expected.update_progress) < downloading / 4, style


@given(
    st.lists(
        st.sampled_from(
            [
                "[SUMacControllerProgressManager] ",
                "Reported progress (",
                "Scan reported progress (",
                "inter",
                "é",
                "): phase:",
                "DOWNLOADING_UPDATE",
                " stalled:NO",
                " portionComplete:",
                "0.5",
                "1.2.3",
                " ",
                "(",
                ")",
            ]
        ),
        max_size=10,
    ).map("".join)
)
def test_the_progress_wording_compared_as_text_reads_as_the_whole_match(message: str) -> None:
    """The collector compares a progress line's wording as text and matches only what
    follows: the same lines, and the same phase, edge and portion, as the one match."""
    whole = patterns.UPDATE_PROGRESS_AT_START.match(message)
    start = patterns.UPDATE_PROGRESS_START
    after = (
        patterns.UPDATE_PROGRESS_AFTER_START.match(message, len(start))
        if message.startswith(start)
        else None
    )
    assert (whole is None) == (after is None)
    if whole is not None and after is not None:
        names = ("edge", "phase", "stalled", "portion")
        assert whole.group(*names) == after.group(*names)
        assert whole.end() == after.end()


@settings(max_examples=60, deadline=None)
@example(  # a lone surrogate in a message: bytes that are no UTF-8, read alike
    style="ndjson", rows=[(-1.0, 0, [('"eventMessage":"', '"eventMessage":"\udc80')])], points=[]
)
@given(
    style=st.sampled_from(["ndjson", "json", "compact", "syslog", "default"]),
    rows=st.lists(
        st.tuples(
            st.sampled_from([-1.0, 0.25, 0.5, 0.75]),
            st.sampled_from([0, 0, 501]),
            st.lists(_RECORD_EDITS, max_size=1),
        ),
        min_size=1,
        max_size=30,
    ),
    points=st.lists(st.integers(0, 100_000), max_size=8),
)
def test_progress_exports_cut_anywhere_read_as_the_reference_reader_reads_them(
    style: str, rows: list[tuple[float, int, list[tuple[str, str]]]], points: list[int]
) -> None:
    """Progress in any style, some of it forged, escaped or broken, cut anywhere: the
    scanner, with its shortcuts, says what reading every line with the reference reader
    says (the count of the daemons' entries aside, as in tests/test_scan.py)."""
    bodies = []
    for n, (portion, user_id, edits) in enumerate(rows):
        record = downloading(portion) if portion >= 0 else PROGRESS[0]
        text = render(style, WHEN + timedelta(seconds=n), record, user_id)
        for old, new in edits if style in ("ndjson", "json") else []:
            text = text.replace(old, new, 1)
        bodies.append(text if text.endswith("\n") else text + "\n")
    text = "[{\n" + "},{\n".join(bodies) + "}]\n" if style == "json" else "".join(bodies)
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate edited in: bad UTF-8
    read = Collector().add_all(ReferenceReader().read(data.splitlines(keepends=True)))
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    chunks = [data[a:b] for a, b in itertools.pairwise(edges)]
    scanned = Collector().add_all(LogReader().scan(chunks, patterns.RELEVANT_MARKERS))
    expected = replace(read.observations(), daemon_entries=0)
    assert replace(scanned.observations(), daemon_entries=0) == expected


def test_a_record_that_starts_like_a_layout_and_does_not_fit_it_is_read_at_once() -> None:
    """Another program's record in the older key order (traceID and the message first),
    whose message is the progress wording and a long run of digits: with the holes of a
    layout free to give back what they took, matching it tried every way of sizing them
    (minutes for this one record); it reads as one parsed whole does, at once."""

    def record(n: int, message: str, path: str = SU_IMAGE) -> str:
        fields = {
            "traceID": 1000 + n,
            "eventMessage": message,
            "eventType": "logEvent",
            "source": None,
            "formatString": "%{public}s",
            "activityIdentifier": n,
            "subsystem": "com.apple.SoftwareUpdateMacController",
            "category": "SU",
            "threadID": 77 + n,
            "processImagePath": path,
            "senderImagePath": path,
            "timestamp": f"2026-11-25 10:00:{n:02d}.000000+0000",
            "machTimestamp": 5 + n,
            "messageType": "Default",
            "processID": 327,
            "parentActivityIdentifier": n,
        }
        return json.dumps(fields, separators=(",", ":")).replace("/", "\\/")

    progress = WORDING + "inter): phase:DOWNLOADING_UPDATE portionComplete:0.%d"
    lines = [record(n, progress % n) for n in range(3)]
    lines.append(record(9, "Reported progress (" + "1" * 1000, "/tmp/not-softwareupdated"))
    data = ("\n".join(lines) + "\n").encode()
    fast = list(LogReader().scan([data], patterns.RELEVANT_MARKERS))
    assert fast == list(ReferenceReader().read(data.splitlines(keepends=True)))
    assert fast[-1].image_path == "/tmp/not-softwareupdated"
