"""Log entries, and reading one from a line or record of any ``log show`` style.

``log show`` has five output styles: default, compact and syslog print one text line an
entry, ndjson one JSON object a line, and json pretty-prints each record over a few
dozen lines. :class:`EntryParser` turns one such line, or one record's text, into a
:class:`LogEntry`, or says it cannot (None); it never raises on bad input. Where the
lines and records are in raw bytes is the scanner's business (scan.py, framing.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import partial
from typing import Any, ClassVar, NamedTuple

from watchdog_mdm.json_records import (
    Layout,
    RecordParser,
    layout_of,
    layout_values,
    record_parser,
)
from watchdog_mdm.text import safe

__all__ = ["EntryParser", "LogEntry", "fixed_offset_suffix", "parse_timestamp"]


class LogEntry(NamedTuple):
    """One unified-log event, reduced to what the checks need.

    Immutable like the frozen dataclasses elsewhere; a NamedTuple because one is built
    for every line that may matter, and costs half as much to build (1.6 against 3.2 us).
    """

    timestamp: datetime
    process: str
    message: str
    subsystem: str = ""
    category: str = ""
    message_type: str = ""
    pid: int | None = None
    # Who wrote it, as the kernel recorded it: only JSON styles carry these. The image
    # path cannot be chosen by the writer (a process named "mdmclient" elsewhere is not
    # /usr/libexec/mdmclient); "" and None where the style does not say.
    image_path: str = ""
    user_id: int | None = None


# A LogEntry's nine fields, in order.
EntryFields = tuple[datetime, str, str, str, str, str, int | None, str, int | None]

# Every entry is built here, straight from a tuple of its nine fields (mypy checks each
# call against EntryFields), not by LogEntry(...), which runs the generated __new__, a
# Python function: 0.29-0.33 against 0.40-0.60 us an entry (tests/perf/entry_build.py),
# and scanning the 200 MB compact export of tests/perf/bench.py (53,383 entries) took
# 0.244 against 0.256 s, fastest of 5 run in turn: about 5 % of the scan.
_new_entry: Callable[[EntryFields], LogEntry] = partial(tuple.__new__, LogEntry)

# ASCII digits: re's \d also takes other scripts' digits, which `log show` never writes
# (and fromisoformat refuses, but in fraction digits past the sixth, which it skips),
# and costs twice as much to match (the prefix below is matched on every line).
_TS = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
_OFFSET = r"[+-][0-9]{2}:?[0-9]{2}|Z"

# `log show` default style: Timestamp Thread Type Activity PID TTL process: message.
# TTL is missing on very old (10.12) lines, hence optional.
_DEFAULT = re.compile(
    rf"(?P<ts>{_TS}(?:{_OFFSET}))\s+0x[0-9a-fA-F]+\s+(?P<type>[A-Za-z]+)\s+0x[0-9a-fA-F]+\s+"
    r"(?P<pid>\d+)\s+(?:\d+\s+)?(?P<process>[^:\[\]]+?): (?P<rest>.*)"
)
# `--style syslog`: timestamp, two spaces, host, process[pid]: message.
_SYSLOG = re.compile(
    rf"(?P<ts>{_TS}(?:{_OFFSET}))\s+(?P<host>\S+) (?P<process>[^\[\]]+?)\[(?P<pid>\d+)\]: "
    r"(?P<rest>.*)"
)
# `--style compact`: local time with milliseconds and no UTC offset, 2-letter type.
_COMPACT = re.compile(
    rf"(?P<ts>{_TS})(?P<offset>{_OFFSET})? (?P<type>[A-Za-z]{{1,2}}) +"
    r"(?P<process>[^\[\]]+?)\[(?P<pid>\d+):[0-9a-fA-Fx]+\] (?P<rest>.*)"
)
_SENDER = re.compile(r"\((?P<sender>[^()]*)\) ")
# A subsystem is reverse-DNS; requiring a dot keeps "[0:MDMDaemon:...]" out of it.
_SUBSYSTEM = re.compile(
    r"\[(?P<subsystem>[A-Za-z][\w-]*(?:\.[\w-]+)+)(?::(?P<category>[^\]]*))?\] "
)
_COMPACT_TYPES = {
    "Df": "Default",
    "I": "Info",
    "In": "Info",
    "Db": "Debug",
    "E": "Error",
    "Er": "Error",
    "F": "Fault",
    "Fa": "Fault",
}
# A text-style line's timestamp, as every style begins: where the rest of the line starts.
_TIMESTAMP_PREFIX = re.compile(rf"{_TS}(?P<offset>{_OFFSET})?")

# The unified log began with macOS 10.12 (2016); anything far outside these years is a
# damaged line, and would overflow date arithmetic near year 1 or 9999.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2200

# pid_t is 32 bits: anything else in processID is damage (and orjson would read a
# number past 64 bits as a float where the standard parser keeps an int).
_PID_MAX = 2**31 - 1
# uid_t is 32 bits, unsigned.
_ID_MAX = 2**32 - 1


_from_iso = datetime.fromisoformat


def parse_timestamp(text: str, naive_tz: tzinfo = UTC) -> datetime | None:
    """Parse a ``log`` timestamp (``2022-08-01 12:33:07.171780-0400`` and kin).

    Timestamps without an offset (compact style) are local time on the Mac that wrote
    them; ``naive_tz`` says which zone that was.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=naive_tz)
    return value


def fixed_offset_suffix(zone: tzinfo) -> str:
    """The ISO offset ("+05:30") of a fixed, unnamed zone such as UTC; "" for zones with
    rules or names. Appended to a timestamp without one, it lets fromisoformat build the
    aware time at once: datetime.replace(tzinfo=...) costs seven times the parse."""
    if not isinstance(zone, timezone):
        return ""
    offset = zone.utcoffset(None)
    if zone.tzname(None) != timezone(offset).tzname(None) or offset.microseconds:
        return ""  # a named zone (timezone(..., "CET")) keeps its name; ISO has no microseconds
    sign, rest = ("-", -offset) if offset < timedelta(0) else ("+", offset)
    minutes, seconds = divmod(int(rest.total_seconds()), 60)
    text = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return text + (f":{seconds:02d}" if seconds else "")


def _split_rest(rest: str) -> tuple[str, str, str]:
    """Split ``(sender) [subsystem:category] message`` into its parts."""
    match = _SENDER.match(rest)
    if match:
        rest = rest[match.end() :]
    match = _SUBSYSTEM.match(rest)
    if match:
        return match["subsystem"], match["category"] or "", rest[match.end() :]
    return "", "", rest


def _text(value: object) -> str:
    return safe(value) if isinstance(value, str) else ""


# process, message, subsystem, category, message_type, pid, image path, user id: a
# LogEntry but its time (text styles say neither path nor user)
_Fields = tuple[str, str, str, str, str, int, str, None]

# Where a text line is cut for remembering: the wording of softwareupdated's progress
# (patterns.UPDATE_PROGRESS_AT_START), a quarter of an updating Mac's lines, each with
# its own numbers after it. What comes before the cut decides how every style reads the
# line but for its message's end: no style's fields before the message can take its
# "[" (compact's and syslog's "[pid" need a digit; default's process takes no bracket;
# syslog's host ends at a space, and the match remembered must start the message
# before the cut), the sender ends before its "(", the subsystem before its "]", and
# the message runs to the line's end (a line break ends the match: not remembered).
_PROGRESS_CUT = "[SUMacControllerProgressManager] Reported progress ("
_PROGRESS_CUT_LENGTH = len(_PROGRESS_CUT)

# The values of a progress record that change from one to the next (the time, the
# message, counters and identifiers): holes in its layout (json_records.Layout). The
# rest (its process, path, user, subsystem) must be the same text for a layout to fit.
_LAYOUT_HOLES = frozenset(
    {
        "timestamp",
        "eventMessage",
        "machTimestamp",
        "traceID",
        "threadID",
        "activityIdentifier",
        "parentActivityIdentifier",
    }
)
# Holes in every layout: these change from one record to the next.
_ALWAYS_HOLES = frozenset({"timestamp", "eventMessage", "machTimestamp"})


# A layout learnt: the layout, the entry and the record it was learnt from, and which of
# its holes holds the time and which the message (-1: none). A tuple, not a class of its
# own: a NamedTuple costs every start of the program a third of a millisecond.
_Known = tuple[Layout, LogEntry, dict[str, Any], int, int]


def _hole_of(layout: Layout, key: str) -> int:
    keys = layout[3]
    return keys.index(key) if key in keys else -1


# (offset given?, line ending): what decides how a line's ending reads.
_SeenKey = tuple[bool, str]

# The styles that may read a text line, by whether its timestamp gives its UTC offset
# (the default and syslog styles always do), in the order a line two of them read is
# read: as the first. Only the default and syslog styles ever read the same line: a
# default line whose message holds "name[pid]: " is also a syslog line to its pattern,
# never the other way round (a syslog line would need a host named like a thread ID,
# then a type, an activity ID and a pid before its process: ``log show`` writes none).
# Neither reads a compact line (after its timestamp, one space and a type of letters
# where the default style has a thread ID, and "[pid:tid]" where syslog has "[pid]:",
# both at the first bracket, which no process name holds). So how a line reads
# is the line's own, never what was read before it: read from anywhere, an export
# reads alike (splitting.py, and the end read of diagnose.py).
_WITH_OFFSET = (_DEFAULT, _SYSLOG, _COMPACT)
_WITHOUT_OFFSET = (_COMPACT,)


class _Parsed(NamedTuple):
    fields: _Fields
    timestamp_end: int  # where the style's timestamp (and offset) ended in the line
    has_offset: bool  # whether the timestamp says its UTC offset


def _parsed(match: re.Match[str]) -> _Parsed:
    # made safe once here (text.py): the fields are remembered for lines ending alike
    subsystem, category, message = _split_rest(safe(match["rest"]))
    groups = match.re.groupindex
    message_type = (match["type"] or "") if "type" in groups else ""
    if "offset" in groups:  # compact: the offset is optional, and outside "ts"
        has_offset = match.start("offset") != -1
        timestamp_end = max(match.end("ts"), match.end("offset"))
    else:  # the other styles' "ts" ends with one
        has_offset, timestamp_end = True, match.end("ts")
    return _Parsed(
        (
            safe(match["process"].strip()),
            message,
            subsystem,
            category,
            _COMPACT_TYPES.get(message_type, message_type),
            int(match["pid"]),
            "",
            None,
        ),
        timestamp_end,
        has_offset,
    )


class EntryParser:
    """Reads single lines and records of any style into entries, and counts them.

    One parser may read several inputs in turn; its counters add up across them. It
    remembers how each text line's ending matched, and the layouts of progress records:
    both only make it faster, never read differently. How a line reads is the line's
    own (_WITH_OFFSET): no parser's past changes it.
    """

    # Line endings remembered: at most this many, each at most this long (real ones are
    # 100-300 characters), then all forgotten: a few MB at worst, whatever the input.
    # REMEMBERED_CHARS = 0 remembers none (the tests hold that to the same entries).
    REMEMBERED_ENDINGS: ClassVar[int] = 1024
    REMEMBERED_CHARS: ClassVar[int] = 512
    # Layouts of progress records kept (_from_json): one per program and call
    # site writing progress. LAYOUTS = 0 reads every record whole (the tests hold that
    # to the same entries).
    LAYOUTS: ClassVar[int] = 8

    def __init__(self, naive_tz: tzinfo = UTC) -> None:
        self.naive_tz = naive_tz
        self.entries = 0
        self.naive_timestamps = 0  # read in naive_tz: the input did not say its offset
        # (offset given?, line ending) -> what the styles made of it
        self._seen_rests: dict[_SeenKey, _Fields] = {}
        self._loads = self.record_parser()
        self._naive_offset = fixed_offset_suffix(naive_tz)
        # layouts of progress records read whole, the newest first (_from_json)
        self._layouts: tuple[_Known, ...] = ()
        self._layouts_learnt = self._layouts_used = 0

    @staticmethod
    def record_parser() -> RecordParser:
        """How JSON records are parsed: the fastest parser this Python has
        (json_records.py). The tests hold a subclass that uses the standard library's
        to the same entries."""
        return record_parser()

    def from_record(self, text: str) -> LogEntry | None:
        """The entry of one JSON record (an ndjson line, or a pretty-printed record)."""
        return self._from_json(text)

    def from_line(self, line: str) -> LogEntry | None:
        """The entry of one stripped line of any style but pretty-printed JSON."""
        if line.startswith("{"):
            return self._from_json(line)
        prefix = _TIMESTAMP_PREFIX.match(line)
        if prefix is None:
            return None
        # Everything after the timestamp repeats all day ("Df mdmclient[1057:1ce7]
        # [com.apple.ManagedClient:HTTPUtil] [0:MDMDaemon:...] <<<<< Received HTTP
        # response (200) [Idle] <<<<<"), so it is matched against the styles once. A
        # progress line repeats up to its wording (what follows, its portion, bytes and
        # time left, is its own): it is remembered up to there (_PROGRESS_CUT).
        split = prefix.end()
        cut = line.find(_PROGRESS_CUT, split)
        if cut == -1:
            head, tail = line[split:], ""
        else:
            cut += _PROGRESS_CUT_LENGTH
            head, tail = line[split:cut], line[cut:]
        key = (prefix["offset"] is not None, head)
        seen = self._seen_rests.get(key)
        if seen is not None and "\n" not in tail:
            fields = seen
            if tail:
                fields = (fields[0], fields[1] + safe(tail), *fields[2:])
            return self._entry(line[:split], key[0], fields)
        parsed = self._from_styles(line, key[0])
        if parsed is None:
            return None
        # remembered only if the rest alone decided the match, and if it is not too long
        if (
            parsed.timestamp_end == split
            and len(head) <= self.REMEMBERED_CHARS
            # the message starts before the cut (see _PROGRESS_CUT)
            and len(parsed.fields[1]) >= len(tail) + _PROGRESS_CUT_LENGTH * (cut != -1)
        ):
            if len(self._seen_rests) >= self.REMEMBERED_ENDINGS:
                self._seen_rests.clear()
            fields = parsed.fields
            if tail:
                fields = (fields[0], fields[1][: -len(tail)], *fields[2:])
            self._seen_rests[key] = fields
        return self._entry(line[: parsed.timestamp_end], parsed.has_offset, parsed.fields)

    @staticmethod
    def times_of(texts: list[str]) -> list[datetime]:
        """Timestamps of one shape (of progress lines alike, runs.py), read to be put in
        order: naive where they name no offset. Raises ValueError where one does not read
        as a line's timestamp reads."""
        times = list(map(_from_iso, texts))
        if times and not (min(times).year >= EARLIEST_YEAR and max(times).year <= LATEST_YEAR):
            raise ValueError("a year no log has")
        return times

    @staticmethod
    def time_of(text: str) -> datetime | None:
        """times_of() of one timestamp: None where it does not read."""
        try:
            time = _from_iso(text)
        except ValueError:
            return None
        return time if EARLIEST_YEAR <= time.year <= LATEST_YEAR else None

    def _from_json(self, text: str) -> LogEntry | None:
        """A JSON record: read by the layout of a progress record read whole before, where
        it has one (json_records.Layout), else parsed whole."""
        for known in self._layouts:
            values = layout_values(known[0], text)
            if values is not None:
                entry = self._from_layout(known, values)
                if entry is not None:
                    self._layouts_used += 1
                    return entry
                break
        record = self._loads(text)
        entry = self._from_record(record)
        # Learnt from progress records only (softwareupdated writes them several times a
        # second, each alike but for its time, message and counters), from so many, or
        # from one in 16 read by a layout: input that never repeats a layout costs one
        # more reading of a record in 16 at most.
        if (
            entry is not None
            and record is not None
            and _PROGRESS_CUT in entry.message
            and self.LAYOUTS > 0
            and self._layouts_learnt < 16 + self._layouts_used // 16
        ):
            self._learn_layout(text, record, entry)
        return entry

    def _learn_layout(self, text: str, record: dict[str, Any], entry: LogEntry) -> None:
        """Keep the layout of a record read whole. Its holes are the values that always
        change, and those that changed from the record the newest layout was learnt
        from, when the two have the same keys: each hole costs about half a microsecond
        a record, so a value that stays the same stays in the text."""
        holes = _ALWAYS_HOLES
        if self._layouts and list(self._layouts[0][2]) == list(record):
            newest, _, before, _, _ = self._layouts[0]
            changed = {k for k in _LAYOUT_HOLES if before.get(k) != record.get(k)}
            holes = holes.union(changed, newest[3])  # never fewer than it had
        layout = layout_of(text, holes)
        if layout is not None:
            self._layouts_learnt += 1
            time_at, message_at = _hole_of(layout, "timestamp"), _hole_of(layout, "eventMessage")
            known = (layout, entry, record, time_at, message_at)
            self._layouts = (known, *self._layouts[: self.LAYOUTS - 1])

    def _from_layout(self, known: _Known, values: tuple[str, ...]) -> LogEntry | None:
        """The entry of a record of a known layout: the entry read from the record it was
        learnt from, with the time and message in its holes (plain: safe already). None
        when its time cannot be read."""
        _, entry, _, time_at, message_at = known
        timestamp = entry.timestamp
        if time_at >= 0:
            parsed = parse_timestamp(values[time_at], self.naive_tz)
            if parsed is None:
                return None
            timestamp = parsed
        message = entry.message if message_at < 0 else values[message_at]
        self.entries += 1
        return _new_entry((timestamp, entry[1], message, *entry[3:]))

    @staticmethod
    def _from_styles(line: str, has_offset: bool) -> _Parsed | None:
        for pattern in _WITH_OFFSET if has_offset else _WITHOUT_OFFSET:
            match = pattern.fullmatch(line)
            if match:
                return _parsed(match)
        return None

    def _entry(self, ts: str, has_offset: bool, fields: _Fields) -> LogEntry | None:
        # parse_timestamp, written out: this runs for every text line read, and ts, as
        # the style matched it, needs no stripping
        try:
            timestamp = _from_iso(ts if has_offset else ts + self._naive_offset)
        except ValueError:
            return None
        if not EARLIEST_YEAR <= timestamp.year <= LATEST_YEAR:
            return None
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=self.naive_tz)
        if not has_offset:
            self.naive_timestamps += 1
        self.entries += 1
        return _new_entry((timestamp, *fields))

    def _from_record(self, record: dict[str, Any] | None) -> LogEntry | None:
        if record is None:
            return None
        ts = record.get("timestamp")
        message = (
            record["eventMessage"] if "eventMessage" in record else record.get("composedMessage")
        )
        if not isinstance(ts, str) or not isinstance(message, str):
            return None
        timestamp = parse_timestamp(ts, self.naive_tz)
        if timestamp is None:
            return None
        # ndjson has no process key: the process is the basename of its image path.
        path = record.get("processImagePath")
        process = path.rsplit("/", 1)[-1] if isinstance(path, str) else record.get("process")
        pid = record.get("processID")
        user = record.get("userID")
        # positional: this runs for every candidate record, and keywords cost more. Every
        # text is made safe (text.py) here, where it enters: a JSON escape such as
        # "\udc80" gives a lone surrogate, which no output could encode.
        self.entries += 1
        return _new_entry(
            (
                timestamp,
                _text(process),
                safe(message),
                _text(record.get("subsystem")),
                _text(record.get("category")),
                _text(record.get("messageType")),
                pid if type(pid) is int and 0 <= pid <= _PID_MAX else None,
                _text(path),
                user if type(user) is int and 0 <= user <= _ID_MAX else None,
            )
        )
