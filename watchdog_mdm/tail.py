"""Where the entries of an export from a given instant on begin, found from its end.

An export judged as of its newest entry keeps the evidence of the last hours near its
end. For an input that can be searched anywhere (a regular file, memory-mapped),
:func:`span_start` steps back from the end in blocks, reads the first entry of each
block (the units, lines or pretty JSON records, found as the scanner finds them:
framing.py), and stops at the first block whose first entry is older than the instant:
from there to the end, :meth:`LogReader.scan <watchdog_mdm.scan.LogReader.scan>` reads
every entry from the instant on, and the bytes before need not be read at all.

That holds only for input in time order, in one style, as ``log show`` writes it. So
anything unusual gives None, and the caller reads the whole input: a UTF-16 input, a
block with no readable first entry (a second export's header, damage), a block whose
first entry is newer than the one after it (exports joined out of order), pretty JSON
where the input began with lines or the reverse (no first entry is found). What the
range itself holds is for its reader to check as it scans it (its entries in time
order, one style), and nothing here says where a verdict's evidence begins: that is
the evidence's to say (docs/performance.md, "Reading only the end of an export").
Finding the start costs one entry read per block stepped back, and 16 more before the
range; none when the input's first entry is already within the span (all of it is read).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from watchdog_mdm.entries import EntryParser
from watchdog_mdm.framing import (
    MAX_RECORD_CHARS,
    Buffer,
    looks_pretty,
    record_bounds,
)
from watchdog_mdm.markers import marker_search
from watchdog_mdm.scan import STYLE_SAMPLE

__all__ = [
    "BLOCK",
    "content_start",
    "entry_time_around",
    "last_block",
    "last_marker_before",
    "span_start",
]

# what one step back covers
BLOCK = 4 << 20
# How many units into a block are tried for its first readable entry: a block starts
# wherever the step back lands, so its first unit may be a header or a damaged line.
FIRST_ENTRY_TRIES = 32
# Points before the range checked for order (the first at the input's start).
PROBES = 16
# How far a unit's start or end is looked for: past the longest unit the reader reads
# (framing.MAX_RECORD_CHARS), it is skipped, and so is nothing to go by here.
REACH = MAX_RECORD_CHARS + 2
_UTF16 = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"


def span_start(data: Buffer, since: datetime, naive_tz: tzinfo, block: int = BLOCK) -> int | None:
    """An offset in ``data`` at the start of a unit (line or pretty record) such that
    every entry before it is older than ``since``, as far as the input's order shows:
    each block's first entry older than the block's after it. The start of the input
    when no block goes back that far; None when something unusual means only reading
    the whole input is sure (module docstring)."""
    size = len(data)
    if data[:2] in _UTF16:
        return None
    low = content_start(data)
    pretty = looks_pretty(data[low : low + STYLE_SAMPLE])
    parser = EntryParser(naive_tz)
    head = _first_entry_time(data, pretty, parser, low, size)
    if head is not None and head >= since:
        # The input begins within the span: all of it is read, in order or not, so no
        # block need be stepped back through (a whole export's every block, before).
        return low
    end, after = size, None  # after: the first entry of the block read before
    while True:
        start = _unit_start(data, pretty, low, max(low, end - block), end)
        if start is None:
            return None
        if start == low:
            return low  # back at the start: everything is read, whatever it holds
        first = _first_entry_time(data, pretty, parser, start, end)
        if first is None or (after is not None and first > after):
            return None
        if first < since:
            return start if _in_order_before(data, pretty, parser, low, start, first) else None
        end, after = start, first


def last_block(data: Buffer, block: int = BLOCK) -> int | None:
    """Where the unit (line or pretty record) begins around ``block`` bytes before the
    end: read from there, the input's last entries are read as a read of all of it reads
    them. None when no unit begins near there (module docstring)."""
    if data[:2] in _UTF16:
        return None
    low = content_start(data)
    pretty = looks_pretty(data[low : low + STYLE_SAMPLE])
    return _unit_start(data, pretty, low, max(low, len(data) - block), len(data))


def last_marker_before(
    data: Buffer, markers: tuple[bytes, ...], before: int, block: int = BLOCK
) -> int | None:
    """Where the last of ``markers`` before offset ``before`` is, searched back a block at
    a time (each copied out and searched in one pass for them all); None when there is
    none: then no entry before holds one."""
    search = marker_search(markers)
    reach = max(map(len, markers)) - 1  # a marker cut by a block's start is found whole
    end = before
    while end > 0:
        start = max(0, end - block)
        chunk = data[start : min(before, end + reach)]
        found = search.starts(chunk, 0, len(chunk))
        if found:
            return start + found[-1]
        end = start
    return None


def entry_time_around(data: Buffer, at: int, naive_tz: tzinfo) -> datetime | None:
    """The time of the entry whose line or record holds offset ``at`` (or of the first
    readable one after it); None when there is none near."""
    low = content_start(data)
    pretty = looks_pretty(data[low : low + STYLE_SAMPLE])
    start = _unit_start(data, pretty, low, at, len(data))
    if start is None:
        return None
    return _first_entry_time(data, pretty, EntryParser(naive_tz), start, len(data))


def content_start(data: Buffer) -> int:
    """Where an input's entries may begin: past a UTF-8 byte-order mark."""
    return len(_UTF8_BOM) if data[:3] == _UTF8_BOM else 0


def _in_order_before(
    data: Buffer, pretty: bool, parser: EntryParser, low: int, start: int, first: datetime
) -> bool:
    """Whether the entries at a few points before ``start`` (the input's first among
    them) are in time order and no newer than ``first``: exports joined newest first
    are told by the very first entry; a gap is found only where a point falls."""
    newest = None
    for point in range(PROBES):
        at = low + (start - low) * point // PROBES
        unit = _unit_start(data, pretty, low, at, start)
        if unit is None:
            return False
        # read on past ``start`` if need be: a header alone before it is no disorder
        time = _first_entry_time(data, pretty, parser, unit, len(data))
        if time is None:
            return False  # 32 units without an entry: not an export as `log show` wrote it
        if (newest is not None and time < newest) or time > first:
            return False
        newest = time
    return True


def _unit_start(data: Buffer, pretty: bool, low: int, at: int, end: int) -> int | None:
    """The start of the unit around ``at`` (the input's start when it is the first);
    None when none starts within a unit's longest reach before it: a line the reader
    would skip, whose start only a search of the whole of it (mapping all of it into
    memory) could find."""
    if at <= low:
        return low
    floor = max(low, at - REACH)
    if pretty:
        start = record_bounds(data, at, floor, min(end, at + 1))[0]
    else:
        start = data.rfind(b"\n", floor, at) + 1 or floor
    if start == floor > low and data[floor - 1 : floor] != b"\n":
        return None
    return start


def _first_entry_time(
    data: Buffer, pretty: bool, parser: EntryParser, start: int, end: int
) -> datetime | None:
    """The time of the first readable entry among the first units of data[start:end]
    (searched no further than a unit's longest reach at a time)."""
    for _ in range(FIRST_ENTRY_TRIES):
        if pretty:  # a record's text starts at the brace ending its first line ("[{")
            start = data.find(b"{\n", start, min(end, start + REACH))
        if start == -1 or start >= end:
            return None
        close = data.find(b"\n}" if pretty else b"\n", start, min(end, start + REACH))
        if close == -1 and start + REACH < end:
            return None  # a unit longer than the reader reads: nothing to go by
        stop = end if close == -1 else close + (2 if pretty else 1)
        if stop - start <= MAX_RECORD_CHARS:
            text = data[start:stop].decode("utf-8", "replace").lstrip("\ufeff")
            entry = parser.from_record(text) if pretty else parser.from_line(text.strip())
            if entry is not None:
                return entry.timestamp
        start = stop
    return None
