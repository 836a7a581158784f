"""Where lines and pretty-printed JSON records begin and end, found in raw bytes.

The scanner (scan.py) searches large buffers of ``log show`` output for markers and
hands this module the positions it found; these functions say which line, or which
``--style json`` record, holds each, without decoding or copying anything. Every search
starts where the previous one stopped, so a block's cost stays linear in its length.
"""

from __future__ import annotations

from typing import Protocol, overload

__all__ = [
    "MAX_RECORD_CHARS",
    "Buffer",
    "complete_end",
    "first_end",
    "line_bounds",
    "lines_holding",
    "looks_pretty",
    "record_bounds",
    "records_holding",
]

# A pretty-printed record has a few dozen lines and a few kilobytes; anything far larger
# is not one (nor is a line that long a log line), and must not grow in memory.
MAX_RECORD_CHARS = 1 << 20
# How many lines of preamble ("Filtering the log data using ...") may come before the
# first pretty-printed record.
_PREAMBLE_LINES = 32
# The lines that open a pretty record: "[{" (the first), "{", "},{" and ",{" (the rest).
_RECORD_OPENERS = (b"{", b"[{", b"},{", b",{")


class Buffer(Protocol):
    """What is searched: bytes, or a read-only memory map of a file."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: int, /) -> int: ...
    @overload
    def __getitem__(self, index: slice, /) -> bytes | bytearray: ...
    def find(self, sub: bytes, start: int = ..., end: int = ..., /) -> int: ...
    def rfind(self, sub: bytes, start: int = ..., end: int = ..., /) -> int: ...


def looks_pretty(head: bytes | bytearray) -> bool:
    """Whether output is `log show --style json`: a line "[{" (or "[", "{"), possibly after
    a few lines of preamble ("Filtering the log data using ..."), then '"key" : value'.
    Its records open at the start of a line: an indented "{" is another tool's layout
    (`jq .`, json_array.py). The preamble is log show's own words: a line beginning like
    a log entry (a digit, "{", "[") is another export, which this one was joined after."""
    lines: list[bytes] = bytes(head).splitlines()[:_PREAMBLE_LINES]
    for number, line in enumerate(lines[:-1]):
        after = lines[number + 1]
        if line.rstrip() in (b"[{", b"{", b"[") and (
            after.lstrip()[:1] == b'"' or after[:1] == b"{"
        ):
            return True
        if line[:1] in (b"{", b"[") or line[:1].isdigit():
            return False
    return False


def complete_end(data: Buffer, pretty: bool, low: int, high: int) -> int:
    """Where the complete lines (or, in pretty JSON, records) in data[low:high] end."""
    if not pretty:
        return data.rfind(b"\n", low, high) + 1 or low
    # Cut right after a record's closing brace: a "},{" line then leaves ",{" to open
    # the next record in the next block.
    close = data.rfind(b"\n}", low, high)
    return close + 2 if close != -1 else low


def first_end(data: Buffer, pretty: bool, low: int, high: int) -> int:
    """Where the first complete line (or record) in data[low:high] ends."""
    if not pretty:
        return data.find(b"\n", low, high) + 1
    return data.find(b"\n}", low, high) + 2


def lines_holding(block: Buffer, hits: list[int], low: int, high: int) -> dict[int, int]:
    """Start -> end of each line in block[low:high] holding one of the ascending ``hits``.
    Lines never overlap, so the one holding a hit starts at or after the end of the one
    before: searching back no further keeps a block's cost linear."""
    found: dict[int, int] = {}
    end = low
    for at in hits:
        if at >= end:  # else: another marker in a line already found
            # line_bounds(block, at, end, high), written out: this runs for every line read
            start = block.rfind(b"\n", end, at) + 1 or end
            end = block.find(b"\n", at, high)
            if end == -1:
                end = high
            found[start] = end
    return found


def records_holding(block: Buffer, hits: list[int], low: int, high: int) -> dict[int, int]:
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


def line_bounds(block: Buffer, at: int, low: int, high: int) -> tuple[int, int]:
    """Start and end of the line in block[low:high] around ``at``, without its LF."""
    start = block.rfind(b"\n", low, at) + 1 or low
    end = block.find(b"\n", at, high)
    return start, end if end != -1 else high


def record_bounds(block: Buffer, at: int, low: int, high: int) -> tuple[int, int]:
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
        if block[line_start : brace + 1] in _RECORD_OPENERS:
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
