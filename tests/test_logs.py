"""Every `log show` style from real Macs is read into entries, and anything else survived.

Read line by line by the reference reader (tests/reference_reader.py), which parses each
line with the program's EntryParser; test_scan.py holds the scanner to the same."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.exports import EXCHANGES, render
from tests.reference_reader import ReferenceReader
from tests.support import (
    LOGS,
    compact_mdm_logs,
    real_lines,
    reference,
    reference_line,
    reference_lines,
)
from watchdog_mdm.entries import EntryParser, LogEntry, parse_timestamp


def read(lines: list[str] | list[bytes] | bytes | str, naive_tz: timezone = UTC) -> list[LogEntry]:
    if isinstance(lines, bytes | str):
        lines = lines.splitlines(keepends=True)
    return list(ReferenceReader(naive_tz).read(lines))


def timestamped_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line[:2] == "20")


EDT = timezone(timedelta(hours=-4))


class TestDefaultStyle:
    def test_reads_every_entry_of_a_real_default_style_log(self) -> None:
        path = LOGS / "super-ad1495a" / "mdm.log"
        entries = read(path.read_bytes())
        assert len(entries) == timestamped_lines(path) == 20
        first = entries[0]
        assert first.timestamp == datetime(2022, 8, 1, 12, 33, 7, 2431, tzinfo=EDT)
        assert first.process == "mdmclient"
        assert (first.subsystem, first.category) == ("com.apple.ManagedClient", "HTTPUtil")
        assert first.message_type == "Default"
        assert first.pid == 2657
        assert first.message == (
            "[0:MDMDaemon:HTTPUtil:<0x2fdb>] >>>>> Sending HTTP request (PUT) [Idle] >>>>>"
        )

    def test_sender_image_in_parentheses_is_not_part_of_the_message(self) -> None:
        line = reference_line(
            "softwareupdated_lines.txt", "(SoftwareUpdateMacController)", "0x268c"
        )
        (entry,) = read([line])
        assert entry.process == "softwareupdated"
        assert entry.subsystem == "com.apple.SoftwareUpdateMacController"
        assert entry.category == "ScanManager"
        assert entry.message.startswith("[Progress] Scan reported progress (end)")

    def test_old_line_without_ttl_and_without_category(self) -> None:
        line = reference_line("mdmclient_lines.txt", "2017-04-29 21:30:02")
        (entry,) = read([line])
        assert entry.subsystem == "com.apple.ManagedClient.InstallApplication"
        assert entry.category == ""
        assert entry.pid == 616
        assert entry.message.startswith("Scheduled InstallApplication from:")

    def test_columns_collapsed_to_single_spaces(self) -> None:
        line = reference_line("mdmclient_lines.txt", "2024-12-21 13:04:21.263154-0500")
        (entry,) = read([line])
        assert entry.process == "mdmclient"
        assert entry.category == "MDMDaemon"
        assert "Processing server request: DeclarativeManagement" in entry.message

    def test_header_separator_and_footer_are_skipped_not_fatal(self) -> None:
        lines = reference_lines("mdmclient_lines.txt", "")
        start = lines.index(next(x for x in lines if x.startswith("username@computername")))
        session = lines[start : start + 8]
        reader = ReferenceReader()
        entries = list(reader.read(session))
        assert [e.timestamp.hour for e in entries] == [14]
        assert reader.lines_skipped == 7


class TestCompactStyle:
    @pytest.mark.parametrize("path", compact_mdm_logs(), ids=lambda p: p.parent.name + "/" + p.name)
    def test_reads_every_entry_of_the_real_compact_logs(self, path: Path) -> None:
        entries = read(path.read_bytes())
        assert len(entries) == timestamped_lines(path)

    def test_local_time_without_offset_is_read_in_the_given_zone(self) -> None:
        line = reference_line("mdmclient_lines.txt", "2023-05-04 05:12:03.908")
        (utc,) = read([line])
        (edt,) = read([line], naive_tz=EDT)
        assert utc.timestamp == datetime(2023, 5, 4, 5, 12, 3, 908000, tzinfo=UTC)
        assert edt.timestamp - utc.timestamp == timedelta(hours=4)
        assert utc.process == "mdmclient"
        assert utc.pid == 13645
        assert utc.message_type == "Default"

    def test_counts_timestamps_that_had_no_offset(self) -> None:
        reader = ReferenceReader()
        list(reader.read((LOGS / "super-ad1495a" / "mdm.log").read_text().splitlines()))
        assert reader.naive_timestamps == 0
        list(reader.read(reference_lines("mdmclient_lines.txt", " Df mdmclient[")))
        assert reader.naive_timestamps > 0


class TestSyslogStyle:
    def test_real_syslog_line_with_sender(self) -> None:
        # HackTricks, quoted in log_show_formats.md section 3.
        text = reference("log_show_formats.md").read_text()
        line = next(x for x in text.splitlines() if x.startswith("2023-09-27 22:55:39.622369"))
        (entry,) = read([line])
        assert entry.process == "legacyScreenSaver"
        assert entry.pid == 41737
        assert entry.message.startswith("hello_screensaver")

    def test_mdmclient_syslog_lines_with_microsoft_placeholders_filled_in(self) -> None:
        # Microsoft replaced date and time with "<Date> <Time>"; only those are filled in.
        lines = [
            x.replace("<Date> <Time>", "2021-02-10 10:00:00")
            for x in reference_lines("mdmclient_lines.txt", "<Date> <Time>", "mdmclient[")
        ]
        entries = read(lines)
        assert len(entries) == len(lines) == 8
        assert {e.process for e in entries} == {"mdmclient"}
        assert entries[4].category == "MDMDaemon"
        assert entries[4].message.startswith("[ERROR] submitManifestRequest completed.")

    def test_continuation_lines_of_multi_line_messages_are_skipped(self) -> None:
        block = reference("mdmclient_lines.txt").read_text().split("Installing with MDM options")[1]
        continuation = block.splitlines()[1:4]
        assert continuation[0].strip().startswith("ManagementFlags")
        assert read(continuation) == []


class TestJsonStyle:
    def records(self) -> list[str]:
        text = reference("json_style_examples.txt").read_text()
        body = [x for x in text.splitlines() if not x.startswith("#")]
        objects, current = [], []
        for line in body:
            if line == "{":
                current = [line]
            elif line == "}":
                objects.append("\n".join([*current, line]))
                current = []
            elif current:
                current.append(line)
        assert len(objects) == 2
        return objects

    def test_reads_real_pretty_printed_records(self) -> None:
        entries = read("\n".join(self.records()))
        assert [e.process for e in entries] == ["WindowServer", "trustd"]
        assert entries[0].timestamp == datetime(
            2026, 5, 7, 19, 48, 34, 701580, tzinfo=timezone(timedelta(hours=-5))
        )
        assert entries[0].subsystem == "com.apple.Multitouch"

    def test_reads_the_array_log_show_prints_after_its_filtering_line(self) -> None:
        a, b = self.records()
        # log show --style json: "[{" ... "},{" ... "}]" (log_show_formats.md section 4)
        inner_a, inner_b = a[2:-2], b[2:-2]  # without the lines "{" and "}"
        output = (
            'Filtering the log data using "process == \\"trustd\\""\n'
            f"[{{\n{inner_a}\n}},{{\n{inner_b}\n}}]\n"
        )
        assert "},{" in output
        entries = read(output)
        assert [e.process for e in entries] == ["WindowServer", "trustd"]

    def test_a_truncated_record_is_dropped_and_the_next_one_read(self) -> None:
        a, b = self.records()
        cut = "\n".join(a.splitlines()[:9])
        entries = read(f"[{cut[1:]}\n" + b)
        assert [e.process for e in entries] == ["trustd"]

    def test_a_stray_brace_does_not_swallow_the_lines_after_it(self) -> None:
        line = reference_line("mdmclient_lines.txt", "2023-05-04 05:12:03.908")
        assert len(read(["{", line, line])) == 2


class TestNdjsonStyle:
    def test_reads_real_records_in_both_key_orders(self) -> None:
        lines = [x for x in reference_lines("ndjson_examples.ndjson", "") if x.startswith("{")]
        entries = read(lines)
        assert [e.process for e in entries] == ["logger", "coreaudiod", "trustd"]
        assert entries[0].pid == 21314
        assert entries[0].timestamp.utcoffset() == timedelta(hours=2)
        assert entries[2].subsystem == "com.apple.securityd"

    def test_escaped_slashes_in_the_image_path(self) -> None:
        line = reference_line("reconstructed_mdmclient.ndjson", "Received HTTP response (200)")
        assert "\\/usr\\/libexec\\/mdmclient" in line
        (entry,) = read([line])
        assert entry.process == "mdmclient"
        assert entry.message.startswith("[0:MDMDaemon:HTTPUtil:<0x")

    def test_trailer_is_not_an_entry(self) -> None:
        line = reference_line("reconstructed_mdmclient.ndjson", "Received HTTP response (200)")
        reader = ReferenceReader()
        entries = list(reader.read([line, '{"count":1,"finished":1}']))
        assert len(entries) == 1
        assert reader.entries == 1

    def test_reads_the_whole_reconstructed_mdmclient_export(self) -> None:
        lines = reference_lines("reconstructed_mdmclient.ndjson", "")
        entries = read(lines)
        assert lines[-1] == '{"count":26,"finished":1}'
        assert len(entries) == 26
        assert {e.process for e in entries} == {"mdmclient", "softwareupdated"}

    def test_record_missing_timestamp_or_message_is_skipped(self) -> None:
        record = json.loads(reference_line("reconstructed_mdmclient.ndjson", "(200)"))
        del record["timestamp"]
        assert read([json.dumps(record)]) == []


class TestBadInput:
    def test_garbage_non_utf8_and_truncated_lines_are_skipped(self) -> None:
        good = reference_line("mdmclient_lines.txt", "2023-05-04 05:12:03.908").encode()
        ndjson = reference_line("reconstructed_mdmclient.ndjson", "(200)").encode()
        lines = [
            b"\xff\xfe\x00garbage\n",
            b"\x80\x81\x82\n",
            good[:30] + b"\n",
            ndjson[: len(ndjson) // 2] + b"\n",
            b"}]\n",
            b"[\n",
            good + b"\n",
        ]
        reader = ReferenceReader()
        entries = list(reader.read(lines))
        assert len(entries) == 1
        assert reader.lines_skipped == 6

    def test_invalid_utf8_inside_a_message_does_not_hide_the_entry(self) -> None:
        good = reference_line("mdmclient_lines.txt", "2023-05-04 05:12:03.908").encode()
        (entry,) = read([good.replace(b"Received", b"Rec\xffeived")])
        assert entry.process == "mdmclient"

    def test_byte_order_mark_and_crlf_line_endings(self) -> None:
        good = reference_line("mdmclient_lines.txt", "2023-05-04 05:12:03.908")
        (entry,) = read([b"\xef\xbb\xbf" + good.encode() + b"\r\n"])
        assert entry.message.endswith("<<<<<")

    def test_utf16_input_is_noticed(self) -> None:
        text = "\n".join(reference_lines("mdmclient_lines.txt", " Df mdmclient[")[:3])
        reader = ReferenceReader()
        assert list(reader.read(text.encode("utf-16").splitlines(keepends=True))) == []
        assert reader.utf16_inputs == 1

    def test_dates_outside_the_unified_logs_lifetime_are_skipped(self) -> None:
        good = reference_line("mdmclient_lines.txt", "2022-08-01 12:33:07.171780-0400")
        assert read([good.replace("2022-08-01", "0001-01-01")]) == []
        assert read([good.replace("2022-08-01", "9999-12-31")]) == []

    def test_absurdly_nested_json_is_skipped(self) -> None:
        assert read(['{"a":' + "[" * 100_000 + "]" * 100_000 + "}"]) == []

    def test_the_ndjson_trailer_is_not_counted_as_skipped(self) -> None:
        reader = ReferenceReader()
        list(reader.read(['{"count":26,"finished":1}']))
        assert reader.lines_skipped == 0

    def test_impossible_timestamp_is_skipped(self) -> None:
        good = reference_line("mdmclient_lines.txt", "2023-05-04 05:12:03.908")
        assert read([good.replace("2023-05-04", "2023-13-45")]) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=30))
def test_never_raises_on_arbitrary_bytes(lines: list[bytes]) -> None:
    reader = ReferenceReader()
    entries = list(reader.read(lines))
    assert reader.lines_read == len(lines)
    assert len(entries) + reader.lines_skipped <= len(lines)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.deferred(lambda: st.sampled_from(real_lines())), min_size=1, max_size=15),
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\r\n\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e"),
            max_size=80,
        ),
        max_size=15,
    ),
    st.randoms(use_true_random=False),
)
def test_garbage_between_real_lines_never_hides_them(
    real: list[str], garbage: list[str], random: object
) -> None:
    mixed = list(real) + list(garbage)
    random.shuffle(mixed)  # type: ignore[attr-defined]
    expected = read(real)
    found = read(mixed)
    for entry in expected:
        assert entry in found


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, EDT, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_timestamps_round_trip_in_log_show_format(value: datetime) -> None:
    text = value.strftime("%Y-%m-%d %H:%M:%S.%f%z")
    assert parse_timestamp(text) == value


def test_a_line_that_closes_one_record_and_opens_the_next_is_counted_once() -> None:
    # found by test_never_raises_on_arbitrary_bytes: [b"{", b"}{"] counted 3 skipped lines
    reader = ReferenceReader()
    assert list(reader.read([b"{", b"}{"])) == []
    assert reader.lines_skipped == 2


# default and syslog style can both read this one (found in review)
AMBIGUOUS_ENDING = " 0x1 Default 0x0 12 0 proc: foo[12]: Received HTTP response (200)"


# The endings of real text-style lines (all after the timestamp), and timestamps of
# every shape a style or a damaged line may carry.
@functools.cache
def endings() -> list[str]:
    text_lines = [x for x in real_lines() if x[:1].isdigit()] + [
        x for x in reference_lines("mdmclient_lines.txt", "") if x[:1].isdigit()
    ][:60]
    # syslog's, which no fixture has: the real exchanges in its layout (tests/exports.py)
    text_lines += [
        render("syslog", datetime(2026, 11, 25, tzinfo=UTC), x).strip() for x in EXCHANGES
    ]
    return [
        *sorted(
            {line[len(line.split(" ")[0]) + len(line.split(" ")[1]) + 1 :] for line in text_lines}
        ),
        AMBIGUOUS_ENDING,
        # longer than what the reader remembers
        " Df mdmclient[1057:1ce7] [0:MDMDaemon:HTTPUtil:<0x2fdb>] " + "x" * 600,
    ]


TIMESTAMPS = [
    "2026-11-25 00:00:00.692000+0000",
    "2026-11-25 00:00:00.692",
    "2026-11-25 00:00:00",
    "2026-11-25T00:00:00Z",
    "2026-11-25 00:00:00.1234567891-04:00",
    "2026-11-25 00:00:00-0400",
    "2026-13-25 00:00:00.692+0000",
    "2026-11-25 00:00:00.692 +0000",
    "9999-11-25 00:00:00.000000+0000",
]


class MatchingEveryLine(EntryParser):
    """A parser that remembers no line ending: it matches every line against the styles."""

    REMEMBERED_CHARS = 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(TIMESTAMPS), st.deferred(lambda: st.sampled_from(endings()))),
        min_size=1,
        max_size=25,
    )
)
def test_a_reader_that_remembers_line_endings_reads_as_one_that_does_not(
    lines: list[tuple[str, str]],
) -> None:
    """The reader matches each distinct line ending against the styles once; whatever
    timestamps come with it, in whatever mix of styles, it must read every line as a
    reader that matches every line."""
    texts = [ts + ending for ts, ending in lines]
    remembering, matching = ReferenceReader(), ReferenceReader(parser=MatchingEveryLine())
    assert list(remembering.read(texts)) == list(matching.read(texts))
    assert remembering.naive_timestamps == matching.naive_timestamps
    assert len(endings()) > 40


def test_a_line_two_styles_can_read_is_read_as_the_default_styles() -> None:
    """A default line whose message holds "name[pid]: " fits the syslog style's pattern
    too: it is the default style's, even among syslog lines (an export of each joined)."""
    ambiguous = "2026-11-25 10:00:00.000000+0000" + AMBIGUOUS_ENDING
    syslog = render("syslog", datetime(2026, 11, 25, 10, 1, tzinfo=UTC), EXCHANGES[1]).strip()
    entries = list(ReferenceReader().read([ambiguous, syslog, ambiguous]))
    assert [e.process for e in entries] == ["proc", "mdmclient", "proc"]
    assert entries[0].message == "foo[12]: Received HTTP response (200)"


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(
        st.builds(
            str.__add__,
            st.sampled_from(TIMESTAMPS),
            st.deferred(lambda: st.sampled_from(endings())),
        ),
        max_size=8,
    ),
    timestamp=st.sampled_from(TIMESTAMPS),
    ending=st.just(AMBIGUOUS_ENDING) | st.deferred(lambda: st.sampled_from(endings())),
)
def test_a_line_reads_as_itself_whatever_was_read_before(
    before: list[str], timestamp: str, ending: str
) -> None:
    """How a text line reads is the line's own: a reader that read other lines, of any
    style, reads it as one that read nothing. So an export read from a line in its
    middle (its end, its second half on another processor) reads as a read of all of it."""
    parser = EntryParser()
    for line in before:
        parser.from_line(line)
    line = timestamp + ending
    assert parser.from_line(line) == EntryParser().from_line(line)


@pytest.mark.parametrize(
    "zone",
    [
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-4)),
        timezone(timedelta(hours=1), "CET"),
        timezone(timedelta(seconds=-3725)),
        timezone(timedelta(microseconds=1)),
        ZoneInfo("Europe/Berlin"),
        ZoneInfo("UTC"),
    ],
)
def test_timestamps_without_an_offset_are_read_in_the_zone_given(zone: tzinfo) -> None:
    naive_read = 0
    for ts in TIMESTAMPS:
        for ending in endings():
            reader = ReferenceReader(naive_tz=zone)
            entries = list(reader.read([ts + ending]))
            expected = parse_timestamp(ts, zone)
            if entries and expected is not None:
                (entry,) = entries
                assert entry.timestamp == expected
                assert entry.timestamp.utcoffset() == expected.utcoffset()
                assert entry.timestamp.tzname() == expected.tzname()
                naive_read += reader.naive_timestamps
    assert naive_read >= 10
