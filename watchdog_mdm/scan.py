"""Scanning ``log show`` output for the entries that matter, streamed, in any style.

:meth:`LogReader.scan`, what every check reads through, looks for a few marker bytes in
large chunks (markers.py) and decodes and parses only the lines or records that contain
one (framing.py finds them; entries.py parses them), plus the last entry of each block,
for the newest time: a day of log costs little more than a search through its bytes.
Exported files also collect headers, footers, other tools' lines and truncated records;
the reader counts what it cannot read, never raises on bad input, and never holds more
than one block's findings and one partial record in memory.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from datetime import UTC, tzinfo

from watchdog_mdm.entries import EntryParser, LogEntry
from watchdog_mdm.framing import (
    MAX_RECORD_CHARS,
    Buffer,
    complete_end,
    first_end,
    line_bounds,
    lines_holding,
    looks_pretty,
    record_bounds,
    records_holding,
)
from watchdog_mdm.markers import MarkerSearch, marker_search

__all__ = ["Buffer", "LogReader"]

# How much of the start of an input tells its style (and what the first chunks are
# joined up to, when they are smaller).
_STYLE_SAMPLE = 65536
# What one marker search covers: large enough that per-block work is negligible, small
# enough that the positions found in a block of nothing but markers stay a few MB.
_BLOCK = 4 << 20
# How many units (lines, records) back from a block's end are tried for its newest entry.
_LAST_ENTRY_TRIES = 32


class LogReader:
    """Reads ``log show`` output of any style, in chunks, for the entries holding markers.

    One reader may read several inputs in turn; its counters add up across them.
    """

    def __init__(self, naive_tz: tzinfo = UTC) -> None:
        self.naive_tz = naive_tz
        self.bytes_read = 0  # how much was searched
        self.candidates = 0  # lines or records that held a marker
        self.lines_skipped = 0  # candidates (and lines too long to be one) not read
        self.utf16_inputs = 0  # inputs that began with a UTF-16 byte-order mark
        self._parser = EntryParser(naive_tz)
        # bound once: both run for every candidate
        self._from_line = self._parser.from_line
        self._from_record = self._parser.from_record

    @property
    def entries(self) -> int:
        """Entries parsed: the candidates read, and each block's last."""
        return self._parser.entries

    @property
    def naive_timestamps(self) -> int:
        """Entries whose time was read in ``naive_tz``: the input did not say its offset."""
        return self._parser.naive_timestamps

    @staticmethod
    def search_for(markers: tuple[bytes, ...]) -> MarkerSearch:
        """How scan() finds markers: the fastest search this Python has (markers.py). The
        tests hold a subclass that searches once per marker to the same entries."""
        return marker_search(markers)

    def scan(self, chunks: Iterable[Buffer], markers: Sequence[bytes]) -> Iterator[LogEntry]:
        """The entries whose line (or JSON record) holds one of ``markers``, and the last
        entry of each block. Chunks may cut lines anywhere and are searched in place
        (a memory map works as well as bytes); nothing else is decoded or copied. Each
        chunk is done with before the next is asked for, as the System seam requires.
        """
        search = self.search_for(tuple(markers))
        carry = b""
        pretty: bool | None = None
        for chunk in _first_at_least(chunks, _STYLE_SAMPLE):
            size = len(chunk)
            self.bytes_read += size
            low = 0
            if pretty is None:
                low = self._first_chunk(chunk)
                pretty = looks_pretty(chunk[low : low + _STYLE_SAMPLE])
            cut = complete_end(chunk, pretty, low, size)
            if carry:
                if cut <= low:  # still inside one long line or record
                    carry = yield from self._grow(carry, chunk[low:], search, pretty)
                    continue
                # the carried start, completed by this chunk's first line or record
                first = first_end(chunk, pretty, low, size)
                head = carry + chunk[low:first]
                carry = b""
                yield from self._scan_block(head, search, pretty, 0, len(head))
                low = first
            yield from self._scan_blocks(chunk, search, pretty, low, cut)
            if cut < size:
                carry = yield from self._grow(b"", chunk[max(cut, low) :], search, pretty)
        if carry:
            yield from self._scan_block(carry, search, bool(pretty), 0, len(carry))

    def _grow(
        self, carry: bytes, more: bytes | bytearray, search: MarkerSearch, pretty: bool
    ) -> Generator[LogEntry, None, bytes]:
        """A partial line or record, kept only up to a bound. A pretty "record" past it
        is none: its complete lines are read on their own (as the lines that break a
        record are). One enormous line is dropped (counted as skipped), and what
        follows it is read on its own."""
        grown = carry + more
        if len(grown) > MAX_RECORD_CHARS and pretty:
            lines_end = grown.rfind(b"\n") + 1
            yield from self._scan_block(grown, search, False, 0, lines_end)
            grown = grown[lines_end:]
        if len(grown) > MAX_RECORD_CHARS:
            self.lines_skipped += 1
            return b""
        return grown

    def _first_chunk(self, chunk: Buffer) -> int:
        """Where an input's content starts (after a UTF-8 byte-order mark)."""
        if chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            self.utf16_inputs += 1  # e.g. redirected by Windows PowerShell
        return 3 if chunk[:3] == b"\xef\xbb\xbf" else 0

    def _scan_blocks(
        self, chunk: Buffer, search: MarkerSearch, pretty: bool, low: int, cut: int
    ) -> Iterator[LogEntry]:
        """chunk[low:cut], complete lines or records, in blocks of about _BLOCK bytes: a
        whole memory-mapped file is searched piece by piece, so what one search finds
        stays small, and the newest entry of each block is read."""
        while low < cut:
            high = cut
            if cut - low > _BLOCK:
                high = complete_end(chunk, pretty, low, low + _BLOCK)
                if high <= low:  # one line longer than a block: the block ends with it
                    high = first_end(chunk, pretty, low, cut)
            yield from self._scan_block(chunk, search, pretty, low, high)
            low = high

    def _scan_block(
        self, block: Buffer, search: MarkerSearch, pretty: bool, low: int, high: int
    ) -> Iterator[LogEntry]:
        hits = search.starts(block, low, high)
        found = (records_holding if pretty else lines_holding)(block, hits, low, high)
        for start, stop in found.items():
            self.candidates += 1
            entry = self._parse_unit(block, start, stop, pretty)
            if entry is not None:
                yield entry
                continue
            self.lines_skipped += 1
            if pretty:
                # Not a record after all (cut short, or lines that only began like
                # JSON): its lines are read on their own, as the lines that break a
                # record are.
                yield from self._scan_block(block, search, False, start, stop)
        last = self._last_entry(block, pretty, found, low, high)
        if last is not None:
            yield last

    def _parse_unit(self, block: Buffer, start: int, stop: int, pretty: bool) -> LogEntry | None:
        if stop - start > MAX_RECORD_CHARS:  # not a log line: never copied or decoded
            return None
        # lstrip: two exports joined with `cat` leave the second one's byte-order mark
        text = block[start:stop].decode("utf-8", "replace").lstrip("\ufeff")
        if pretty:
            return self._from_record(text)
        return self._from_line(text.strip())

    def _last_entry(
        self, block: Buffer, pretty: bool, found: dict[int, int], low: int, high: int
    ) -> LogEntry | None:
        """The last readable entry of a block: logs are in time order, so this is the
        block's newest (a line already read for its marker is not read twice)."""
        unit = record_bounds if pretty else line_bounds
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
