"""Reading progress-heavy exports fast reads them as the general way does.

During an update softwareupdated reports progress several times a second, each line
with its own numbers, so the shortcuts that make such exports fast (a text line
remembered up to its progress wording, a collector that reads a progress line with one
match) are held here to the general reading: whatever comes before and after the
wording, forged, escaped or broken, the same entries and the same observations.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference_reader import ReferenceReader
from watchdog_mdm import patterns
from watchdog_mdm.entries import EntryParser, LogEntry
from watchdog_mdm.evidence import Collector, read_update_message, update_progress

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

    def _from_styles(self, line: str) -> object:  # type: ignore[override]
        self.matched += 1
        return super()._from_styles(line)


def test_progress_lines_are_matched_once_for_all_that_begin_alike() -> None:
    """What makes them fast: one match per distinct beginning, not one per line."""
    parser = CountingMatches()
    head = "2026-11-25 00:00:00.692 Df softwareupdated[1718:2efa] [com.apple.SU:SU] "
    lines = [f"{head}{WORDING}inter): phase:DOWNLOADING portionComplete:0.{n}" for n in range(50)]
    read = list(ReferenceReader(parser=parser).read(lines))
    assert [e.message for e in read] == [line[len(head) :] for line in lines]
    assert parser.matched <= 2  # the style order is remembered with the line: it changes once


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
    expected = [
        (t, *update)
        for t, m in zip(times, messages, strict=True)
        if (update := update_progress(m)) is not None
    ]
    assert [(p.time, p.phase, p.edge, p.portion) for p in obs.update_progress] == expected
