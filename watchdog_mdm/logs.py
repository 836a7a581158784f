"""Reading ``log show`` output: every style Apple prints, detected line by line, streamed.

``log show`` has five output styles (default, compact, syslog, json, ndjson); exported
files also collect headers, footers, other tools' lines and truncated records. The reader
turns whatever it can read into :class:`LogEntry` values and counts the rest, never
raising on bad input and never holding more than one record in memory.

Two ways to read: :meth:`LogReader.read` parses every line; :meth:`LogReader.scan`, what
the checks use, looks for a few marker bytes in large chunks and decodes and parses only
the lines that contain one (and the last entry of each chunk, for the newest time), so
a day of log costs little more than a search through its bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import partial
from typing import Any, NamedTuple, Protocol

from .json_records import record_parser
from .markers import MarkerSearch, marker_search

__all__ = ["Buffer", "LogEntry", "LogReader", "parse_timestamp"]


class Buffer(Protocol):
    """What scan() searches: bytes, or a read-only memory map of a file."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: slice, /) -> bytes | bytearray: ...
    def find(self, sub: bytes, start: int = ..., end: int = ..., /) -> int: ...
    def rfind(self, sub: bytes, start: int = ..., end: int = ..., /) -> int: ...


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


# Built straight from a tuple of all seven fields: LogEntry(...) would run the generated
# __new__, a Python function, once per candidate line, for a third of the cost.
_new_entry: Callable[[tuple[object, ...]], LogEntry] = partial(tuple.__new__, LogEntry)

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
_COMPACT_TYPES = {"Df": "Default", "I": "Info", "In": "Info", "Db": "Debug", "E": "Error",
                  "Er": "Error", "F": "Fault", "Fa": "Fault"}

_TRAILER = re.compile(r'\{\s*"count"\s*:\s*\d+\s*,\s*"finished"\s*:\s*\d+\s*\}')
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_STRUCTURAL = frozenset("{}[],")
# A pretty-printed record has a few dozen lines and a few kilobytes; anything far larger
# is not one, and must not grow in memory.
_MAX_RECORD_LINES = 2000
_MAX_RECORD_CHARS = 1 << 20


# The unified log began with macOS 10.12 (2016); anything far outside these years is a
# damaged line, and would overflow date arithmetic near year 1 or 9999.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2200


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
        rest = rest[match.end():]
    match = _SUBSYSTEM.match(rest)
    if match:
        return match["subsystem"], match["category"] or "", rest[match.end():]
    return "", "", rest


# A text-style line's timestamp, as every style begins: where the rest of the line starts.
_TIMESTAMP_PREFIX = re.compile(rf"{_TS}(?P<offset>{_OFFSET})?")
# Line endings remembered: at most this many, each at most this long (real ones are
# 100-300 characters), then all forgotten: a few MB at worst, whatever the input.
_SEEN_RESTS = 1024
_REMEMBERED_CHARS = 512

# process, message, subsystem, category, message_type, pid: a LogEntry but its time
_Fields = tuple[str, str, str, str, str, int]


# (offset given?, style order as the styles' pattern texts, line ending): a compiled
# pattern hashes its whole compiled code each time, nearly a microsecond a line.
_SeenKey = tuple[bool, tuple[str, ...], str]


def _order_of(styles: tuple[re.Pattern[str], ...]) -> tuple[str, ...]:
    return tuple(style.pattern for style in styles)


class _Parsed(NamedTuple):
    fields: _Fields
    timestamp_end: int  # where the style's timestamp (and offset) ended in the line
    has_offset: bool  # whether the timestamp says its UTC offset
    style: re.Pattern[str]


def _parsed(match: re.Match[str]) -> _Parsed:
    subsystem, category, message = _split_rest(match["rest"])
    groups = match.re.groupindex
    message_type = (match["type"] or "") if "type" in groups else ""
    if "offset" in groups:  # compact: the offset is optional, and outside "ts"
        has_offset = match.start("offset") != -1
        timestamp_end = max(match.end("ts"), match.end("offset"))
    else:  # the other styles' "ts" ends with one
        has_offset, timestamp_end = True, match.end("ts")
    return _Parsed(
        (match["process"].strip(), message, subsystem, category,
         _COMPACT_TYPES.get(message_type, message_type), int(match["pid"])),
        timestamp_end, has_offset, match.re,
    )


class LogReader:
    """Turns lines of ``log show`` output into entries, whatever the style.

    One reader may read several inputs in turn; its counters add up across them.
    """

    def __init__(self, naive_tz: tzinfo = UTC, *, remember_lines: bool = True,
                 fast_json: bool = True) -> None:
        self.naive_tz = naive_tz
        self.lines_read = 0
        self.lines_skipped = 0
        self.entries = 0
        self.naive_timestamps = 0  # read in naive_tz: the input did not say its offset
        self.utf16_inputs = 0  # inputs that began with a UTF-16 byte-order mark
        # the last one matched first
        self._text_styles: tuple[re.Pattern[str], ...] = (_DEFAULT, _SYSLOG, _COMPACT)
        self._style_order = _order_of(self._text_styles)
        # (offset given?, style order, line ending) -> what the styles made of it
        self._seen_rests: dict[_SeenKey, tuple[_Fields, re.Pattern[str]]] = {}
        self._remember_lines = remember_lines  # False: as before remembering (for tests)
        self._loads = record_parser(fast=fast_json)  # False: the standard library's
        self._naive_offset = fixed_offset_suffix(naive_tz)
        self.bytes_read = 0  # scan(): how much was searched
        self.candidates = 0  # scan(): lines or records that held a marker

    def _decoded(self, lines: Iterable[bytes | str]) -> Iterator[tuple[str, str]]:
        """Each line as text without its line ending, and stripped."""
        first = True
        for raw in lines:
            if first:
                first = False
                if isinstance(raw, bytes) and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
                    self.utf16_inputs += 1  # e.g. redirected by Windows PowerShell
            line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            line = line.rstrip("\r\n").lstrip("\ufeff")
            self.lines_read += 1
            yield line, line.strip()

    def read(self, lines: Iterable[bytes | str]) -> Iterator[LogEntry]:
        """Yield every entry that can be read from ``lines``; skip the rest."""
        record: _PrettyRecord | None = None
        for line, stripped in self._decoded(lines):
            if record is not None:
                status = record.feed(line, stripped)
                if status is _MORE:
                    continue
                if status is _DONE:
                    entry = self._from_json_text(record.text(), record.source_lines)
                    record = _PrettyRecord(False) if record.another_follows else None
                    if entry is not None:
                        yield entry
                    continue
                self.lines_skipped += record.source_lines  # a truncated record: drop it
                record = None
                if status is _DROPPED:
                    continue
                # _BROKEN: the line that broke the record is read on its own
            if stripped in _RECORD_STARTS:
                record = _PrettyRecord()
            elif not _TRAILER.fullmatch(stripped):  # ndjson's closing {"count":N,...}
                entry = self._from_line(stripped)
                if entry is not None:
                    yield entry
                elif stripped:
                    self.lines_skipped += 1
        if record is not None:
            self.lines_skipped += record.source_lines

    def scan(self, chunks: Iterable[Buffer], markers: Sequence[bytes], *,
             one_pass: bool = True) -> Iterator[LogEntry]:
        """The entries whose line (or JSON record) holds one of ``markers``, and the last
        entry of each chunk. Chunks may cut lines anywhere and are searched in place
        (a memory map works as well as bytes); nothing else is decoded or copied.
        ``one_pass=False`` uses the standard library's search (see markers.py).
        """
        search = marker_search(tuple(markers), one_pass=one_pass)
        carry = b""
        pretty: bool | None = None
        for chunk in _first_at_least(chunks, _STYLE_SAMPLE):
            size = len(chunk)
            self.bytes_read += size
            low = 0
            if pretty is None:
                low = self._first_chunk(chunk)
                pretty = _looks_pretty(chunk[low:low + _STYLE_SAMPLE])
            cut = _complete_end(chunk, pretty, low, size)
            if carry:
                if cut <= low:  # still inside one long line or record
                    carry = yield from self._grow(carry, chunk[low:], search, pretty)
                    continue
                # the carried start, completed by this chunk's first line or record
                first = _first_end(chunk, pretty, low, size)
                head = carry + chunk[low:first]
                carry = b""
                yield from self._scan_block(head, search, pretty, 0, len(head))
                low = first
            yield from self._scan_blocks(chunk, search, pretty, low, cut)
            if cut < size:
                carry = yield from self._grow(b"", chunk[max(cut, low):], search, pretty)
        if carry:
            yield from self._scan_block(carry, search, bool(pretty), 0, len(carry))

    def _grow(self, carry: bytes, more: bytes | bytearray, search: MarkerSearch,
              pretty: bool) -> Generator[LogEntry, None, bytes]:
        """A partial line or record, kept only up to a bound. A pretty "record" past it
        is none: its complete lines are read on their own (as read() reads the lines
        that break a record). One enormous line is dropped (counted as skipped), and
        what follows it is read on its own."""
        grown = carry + more
        if len(grown) > _MAX_RECORD_CHARS and pretty:
            lines_end = grown.rfind(b"\n") + 1
            yield from self._scan_block(grown, search, False, 0, lines_end)
            grown = grown[lines_end:]
        if len(grown) > _MAX_RECORD_CHARS:
            self.lines_skipped += 1
            return b""
        return grown

    def _first_chunk(self, chunk: Buffer) -> int:
        """Where an input's content starts (after a UTF-8 byte-order mark)."""
        if chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            self.utf16_inputs += 1  # e.g. redirected by Windows PowerShell
        return 3 if chunk[:3] == b"\xef\xbb\xbf" else 0

    def _scan_blocks(self, chunk: Buffer, search: MarkerSearch, pretty: bool,
                     low: int, cut: int) -> Iterator[LogEntry]:
        """chunk[low:cut], complete lines or records, in blocks of about _BLOCK bytes: a
        whole memory-mapped file is searched piece by piece, so what one search finds
        stays small, and the newest entry of each block is read."""
        while low < cut:
            high = cut
            if cut - low > _BLOCK:
                high = _complete_end(chunk, pretty, low, low + _BLOCK)
                if high <= low:  # one line longer than a block: the block ends with it
                    high = _first_end(chunk, pretty, low, cut)
            yield from self._scan_block(chunk, search, pretty, low, high)
            low = high

    def _scan_block(self, block: Buffer, search: MarkerSearch, pretty: bool,
                    low: int, high: int) -> Iterator[LogEntry]:
        hits = search.starts(block, low, high)
        found = (_records_holding if pretty else _lines_holding)(block, hits, low, high)
        for start, stop in found.items():
            self.candidates += 1
            entry = self._parse_unit(block, start, stop, pretty)
            if entry is not None:
                yield entry
                continue
            self.lines_skipped += 1
            if pretty:
                # Not a record after all (cut short, or lines that only began like
                # JSON): its lines are read on their own, as read() reads the lines
                # that break a record.
                yield from self._scan_block(block, search, False, start, stop)
        last = self._last_entry(block, pretty, found, low, high)
        if last is not None:
            yield last

    def _parse_unit(self, block: Buffer, start: int, stop: int,
                    pretty: bool) -> LogEntry | None:
        if stop - start > _MAX_RECORD_CHARS:  # not a log line: never copied or decoded
            return None
        # lstrip: two exports joined with `cat` leave the second one's byte-order mark
        text = block[start:stop].decode("utf-8", "replace").lstrip("\ufeff")
        if pretty:
            return self._from_record(self._loads(text))
        return self._from_line(text.strip())

    def _last_entry(self, block: Buffer, pretty: bool, found: dict[int, int],
                    low: int, high: int) -> LogEntry | None:
        """The last readable entry of a block: logs are in time order, so this is the
        block's newest (a line already read for its marker is not read twice)."""
        unit = _record_bounds if pretty else _line_bounds
        end = high
        for _ in range(_LAST_ENTRY_TRIES):
            if end <= low:
                return None
            start, unit_end = unit(block, end - 1, low, high)
            if start in found:
                return None
            entry = self._parse_unit(block, start, unit_end, pretty)
            if entry is not None:
                return entry
            end = start - 1 if start > low else low
        return None

    def _from_json_text(self, text: str, lines: int) -> LogEntry | None:
        entry = self._from_record(self._loads(text))
        if entry is None:
            self.lines_skipped += lines
        return entry

    def _from_line(self, line: str) -> LogEntry | None:
        if line.startswith("{"):
            return self._from_record(self._loads(line))
        prefix = _TIMESTAMP_PREFIX.match(line)
        if prefix is None:
            return None
        # Everything after the timestamp repeats all day ("Df mdmclient[1057:1ce7]
        # [com.apple.ManagedClient:HTTPUtil] [0:MDMDaemon:...] <<<<< Received HTTP
        # response (200) [Idle] <<<<<"), so it is matched against the styles once.
        split = prefix.end()
        rest = line[split:]
        # The style order is in the key: a line two styles could read is read by the one
        # matched last, as it would be without remembering.
        key = (prefix["offset"] is not None, self._style_order, rest)
        seen = self._seen_rests.get(key)
        if seen is not None:
            if seen[1] is not self._text_styles[0]:  # (checked here: once a line)
                self._put_first(seen[1])
            return self._entry(line[:split], key[0], seen[0])
        parsed = self._from_styles(line)
        if parsed is None:
            return None
        # remembered only if the rest alone decided the match, and if it is not too long
        if (parsed.timestamp_end == split and len(rest) <= _REMEMBERED_CHARS
                and self._remember_lines):
            if len(self._seen_rests) >= _SEEN_RESTS:
                self._seen_rests.clear()
            self._seen_rests[key] = (parsed.fields, parsed.style)
        return self._entry(line[:parsed.timestamp_end], parsed.has_offset, parsed.fields)

    def _from_styles(self, line: str) -> _Parsed | None:
        for pattern in self._text_styles:
            match = pattern.fullmatch(line)
            if match:
                self._put_first(pattern)
                return _parsed(match)
        return None

    def _put_first(self, style: re.Pattern[str]) -> None:
        if style is not self._text_styles[0]:  # an export keeps to one style
            self._text_styles = (style, *(p for p in self._text_styles if p is not style))
            self._style_order = _order_of(self._text_styles)

    def _entry(self, ts: str, has_offset: bool, fields: _Fields) -> LogEntry | None:
        timestamp = parse_timestamp(ts if has_offset else ts + self._naive_offset,
                                    self.naive_tz)
        if timestamp is None:
            return None
        if not has_offset:
            self.naive_timestamps += 1
        self.entries += 1
        return _new_entry((timestamp, *fields))

    def _from_record(self, record: dict[str, Any] | None) -> LogEntry | None:
        if record is None:
            return None
        ts = record.get("timestamp")
        message = (record["eventMessage"] if "eventMessage" in record
                   else record.get("composedMessage"))
        if not isinstance(ts, str) or not isinstance(message, str):
            return None
        timestamp = parse_timestamp(ts, self.naive_tz)
        if timestamp is None:
            return None
        # ndjson has no process key: the process is the basename of its image path.
        path = record.get("processImagePath")
        process = path.rsplit("/", 1)[-1] if isinstance(path, str) else record.get("process")
        pid = record.get("processID")
        # positional: this runs for every candidate record, and keywords cost more
        self.entries += 1
        return _new_entry((
            timestamp, process if isinstance(process, str) else "", message,
            _text(record.get("subsystem")), _text(record.get("category")),
            _text(record.get("messageType")),
            pid if type(pid) is int and 0 <= pid <= _PID_MAX else None))


_MORE, _DONE, _BROKEN, _DROPPED = "more", "done", "broken", "dropped"
_RECORD_STARTS = frozenset({"[{", "{", "},{", ",{"})


class _PrettyRecord:
    """The lines of one pretty-printed JSON record (``log show --style json``)."""

    def __init__(self, opened_by_its_own_line: bool = True) -> None:
        self.lines = ["{"]
        self.depth = 1
        self.chars = 1
        self.another_follows = False
        # Input lines it took, for the skipped count; a record opened on the closing
        # line of the one before ("},{") has not taken that line: it was counted there.
        self.source_lines = 1 if opened_by_its_own_line else 0

    def feed(self, line: str, stripped: str) -> str:
        """Take one more line: the record wants more, is done, or was cut short by
        this line (_BROKEN: read the line on its own; _DROPPED: it was consumed)."""
        skeleton = _JSON_STRING.sub("", stripped)
        if self.depth == 1 and skeleton[:1] == "}" and set(skeleton) <= _STRUCTURAL:
            self.lines.append("}")
            self.source_lines += 1
            self.another_follows = "{" in skeleton[1:]  # "},{"
            return _DONE
        self.chars += len(line)
        too_big = len(self.lines) > _MAX_RECORD_LINES or self.chars > _MAX_RECORD_CHARS
        if too_big or not _continues_record(stripped):
            return _BROKEN
        self.depth += sum(skeleton.count(c) for c in "{[") - sum(
            skeleton.count(c) for c in "}]")
        self.lines.append(line)
        self.source_lines += 1
        return _MORE if self.depth > 0 else _DROPPED

    def text(self) -> str:
        return "".join(self.lines)


_LAST_ENTRY_TRIES = 32


_STYLE_SAMPLE = 65536
# What one marker search covers: large enough that per-block work is negligible, small
# enough that the positions found in a block of nothing but markers stay a few MB.
_BLOCK = 4 << 20


def _first_at_least(chunks: Iterable[Buffer], size: int) -> Iterator[Buffer]:
    """The chunks, the first ones joined until there is enough to tell the style."""
    head = b""
    iterator = iter(chunks)
    for chunk in iterator:
        if not head and len(chunk) >= size:
            yield chunk
            break
        head += chunk[:]
        if len(head) >= size:
            yield head
            break
    else:
        if head:
            yield head
        return
    yield from iterator


def _looks_pretty(head: bytes | bytearray) -> bool:
    """Whether output is `log show --style json`: a line "[{" (or "[", "{"), possibly after
    a few lines of preamble ("Filtering the log data using ..."), then '"key" : value'."""
    lines: list[bytes] = bytes(head).splitlines()[:_PREAMBLE_LINES]
    for number, line in enumerate(lines[:-1]):
        if line.strip() in (b"[{", b"{", b"[") and lines[number + 1].lstrip()[:1] in (
                b'"', b"{"):
            return True
    return False


_PREAMBLE_LINES = 32


def _complete_end(data: Buffer, pretty: bool, low: int, high: int) -> int:
    """Where the complete lines (or, in pretty JSON, records) in data[low:high] end."""
    if not pretty:
        return data.rfind(b"\n", low, high) + 1 or low
    # Cut right after a record's closing brace: a "},{" line then leaves ",{" to open
    # the next record in the next block.
    close = data.rfind(b"\n}", low, high)
    return close + 2 if close != -1 else low


def _first_end(data: Buffer, pretty: bool, low: int, high: int) -> int:
    """Where the first complete line (or record) in data[low:high] ends."""
    if not pretty:
        return data.find(b"\n", low, high) + 1
    return data.find(b"\n}", low, high) + 2


def _lines_holding(block: Buffer, hits: list[int], low: int, high: int) -> dict[int, int]:
    """Start -> end of each line in block[low:high] holding one of the ascending ``hits``.
    Lines never overlap, so the one holding a hit starts at or after the end of the one
    before: searching back no further keeps a block's cost linear."""
    found: dict[int, int] = {}
    end = low
    for at in hits:
        if at >= end:  # else: another marker in a line already found
            start, end = _line_bounds(block, at, end, high)
            found[start] = end
    return found


def _records_holding(block: Buffer, hits: list[int], low: int, high: int) -> dict[int, int]:
    """Start -> end of each pretty JSON record in block[low:high] holding one of the
    ascending ``hits``. A hit inside the record found last belongs to it, unless a record
    opens between the two hits: then the one found last was cut short (an export cut off,
    then another joined to it), ends where the new one opens, and the new one is read
    too. The ranges never overlap, and each search stops at the hit or record before or
    at the close already found, so a block's cost stays linear."""
    found: dict[int, int] = {}
    end = previous = low
    last_start = -1
    record_end: int | None = None  # where the record around the last hit ends
    for at in hits:
        inside = at < end
        start = _record_opening(block, previous if inside else end, at)
        previous = at
        if start == -1:
            if inside:
                continue  # another marker in the record already found
            start = end
        elif inside:
            found[last_start] = start  # cut short where this one opens
        if record_end is None or record_end - 2 < at:  # else: the same close is next
            record_end = _record_end(block, at, high)
        found[start] = end = record_end
        last_start = start
    return found


def _line_bounds(block: Buffer, at: int, low: int, high: int) -> tuple[int, int]:
    start = block.rfind(b"\n", low, at) + 1 or low
    end = block.find(b"\n", at, high)
    return start, end if end != -1 else high


_RECORD_OPENERS = (b"{", b"[{", b"},{", b",{")


def _record_bounds(block: Buffer, at: int, low: int, high: int) -> tuple[int, int]:
    """The pretty JSON record around ``at``: from its opening "{" line (written "[{",
    "{" or "},{") to its closing "}" line, both at the start of a line."""
    start = _record_opening(block, low, at)
    return (low if start == -1 else start), _record_end(block, at, high)


def _record_opening(block: Buffer, low: int, at: int) -> int:
    """Where the last record opening in block[low:at] puts its "{" (the record's text
    starts there), or -1 if none does."""
    search = at
    while search > low:
        brace = _last_brace_ending_a_line(block, low, search)
        if brace == -1:
            return -1
        line_start = block.rfind(b"\n", low, brace) + 1 or low
        # at the start of the line: an indented "{" opens a nested object
        if block[line_start:brace + 1] in _RECORD_OPENERS:
            return brace
        search = line_start
    return -1


def _record_end(block: Buffer, at: int, high: int) -> int:
    close = block.find(b"\n}", at, high)
    return close + 2 if close != -1 else high


def _last_brace_ending_a_line(block: Buffer, low: int, high: int) -> int:
    """The last "{" followed by LF or CR LF (a CRLF export is still a log export) in
    block[low:high], or -1. Searched in windows growing back from ``high``, so finding
    one costs about its distance, not the block's length (a CRLF search in an LF file
    would otherwise read back to ``low`` every time)."""
    window = 4096
    while True:
        floor = max(low, high - window)
        brace = block.rfind(b"{\n", floor, high)
        # CRLF only after the last LF brace: in an LF export it is never there, and a
        # search of the whole window for it, three times a record, was most of the cost
        brace = max(brace, block.rfind(b"{\r\n", max(brace, floor), high))
        if brace != -1 or floor == low:
            return brace
        window *= 8


def _continues_record(stripped: str) -> bool:
    """Whether a line can be part of a pretty-printed record.

    Inside one, every line is a ``"key" : value`` pair or bracket punctuation. Any other
    line (a complete ndjson object, a text-style entry, a new array) means the record was
    cut short, and that line must not be swallowed with it.
    """
    if stripped.startswith("[{") or (stripped.startswith('{"') and stripped.endswith("}")):
        return False
    return stripped[:1] in ('"', "{", "}", "[", "]", ",")


# pid_t is 32 bits: anything else in processID is damage (and orjson would read a
# number past 64 bits as a float where the standard parser keeps an int).
_PID_MAX = 2**31 - 1


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""

