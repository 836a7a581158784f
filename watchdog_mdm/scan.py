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
from itertools import chain
from typing import NamedTuple, cast

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
from watchdog_mdm.json_array import ArrayElements, looks_like_json_array
from watchdog_mdm.json_records import record_parser
from watchdog_mdm.markers import MarkerSearch, marker_search
from watchdog_mdm.patterns import PROGRESS_MARKER
from watchdog_mdm.runs import AlikeLines, Found, ProgressRun, RunFinder

__all__ = [
    "STYLE_SAMPLE",
    "AlikeLines",
    "Buffer",
    "Found",
    "LogReader",
    "ProgressRun",
    "ReadCounts",
]

# How much of the start of an input tells its style (and what the first chunks are
# joined up to, when they are smaller: splitting.py splits no input there).
STYLE_SAMPLE = 65536
# How much of an input beginning with a UTF-16 byte-order mark is looked at, and how much
# of it must be ASCII, for it to be taken for UTF-16 text.
_UTF16_SAMPLE = 4096
_UTF16_ASCII_SHARE = 0.75
# What a JSON array in another tool's layout is read in (json_array.py): a piece is
# copied and decoded whole, so this, not a chunk, is what it costs in memory.
_ARRAY_PIECE = 1 << 20
# What one marker search covers: large enough that per-block work is negligible, small
# enough that the positions found in a block of nothing but markers stay a few MB.
_BLOCK = 4 << 20
# How many units (lines, records) back from a block's end are tried for its newest entry.
_LAST_ENTRY_TRIES = 32
# What follows the "[" opening a JSON export: its first record, or white space before it
# (or the chunk's end), never a message's word, as in a text line that begins with "[".
_AFTER_OPENING = (b"{", b"\n", b"\r", b" ", b"\t", b"")
# Searched for with the markers, in the same pass: a line opening with "[" and what may
# follow it where a JSON export opens among lines. No marker begins with an LF, which
# tells their hits apart. Three bytes each, not "\n[" alone: the search's prefilter then tells its
# candidates by three bytes, not two, and every line has an LF (a progress-heavy export
# was searched a fifth faster).
_BRACKET_LINES = tuple(b"\n[" + after for after in _AFTER_OPENING if after)


class ReadCounts(NamedTuple):
    """What a reader counted (:meth:`LogReader.counts`), to be added to another's."""

    bytes_read: int
    candidates: int
    lines_skipped: int
    utf16_inputs: int
    entries: int
    naive_timestamps: int


class LogReader:
    """Reads ``log show`` output of any style, in chunks, for the entries holding markers.

    One reader may read several inputs in turn; its counters add up across them.
    """

    def __init__(self, naive_tz: tzinfo = UTC, block_size: int = _BLOCK) -> None:
        self.naive_tz = naive_tz
        # how much one marker search covers (the tests make it small, to put the ends
        # of blocks anywhere)
        self._block = block_size
        self.bytes_read = 0  # how much was searched
        self.candidates = 0  # lines or records that held a marker
        self.lines_skipped = 0  # candidates (and lines too long to be one) not read
        # inputs of UTF-16 text (as Windows PowerShell redirects output) from which
        # nothing could be read; bytes that merely begin like its byte-order mark are not
        self.utf16_inputs = 0
        self._utf16_start = False  # whether the input being read began as UTF-16 text
        self._parser = EntryParser(naive_tz)
        # bound once: both run for every candidate
        self._from_line = self._parser.from_line
        self._from_record = self._parser.from_record
        self._runs = RunFinder(self._parser, self._parse_line)
        self._progress_marker: int | None = None  # its index, while runs are found
        # the indexes of _BRACKET_LINES among the markers searched for
        self._bracket_markers: tuple[int, ...] = ()
        self._alike = False  # whether lines alike are read as groups
        # how many shapes were read (an input's start, and each change of shape), and
        # whether the last was lines (of any style but a pretty JSON export's records, or
        # another tool's array): a read that goes on from its end goes on in lines
        self.shapes_read = 0
        self.last_shape_lines = False

    @property
    def entries(self) -> int:
        """Entries parsed: the candidates read, and each block's last."""
        return self._parser.entries

    @property
    def naive_timestamps(self) -> int:
        """Entries whose time was read in ``naive_tz``: the input did not say its offset."""
        return self._parser.naive_timestamps

    def fresh(self) -> LogReader:
        """A reader of this one's kind that has read nothing: its zone, its blocks."""
        return type(self)(self.naive_tz, self._block)

    def counts(self) -> ReadCounts:
        """What this reader counted."""
        parser = self._parser
        return ReadCounts(
            self.bytes_read,
            self.candidates,
            self.lines_skipped,
            self.utf16_inputs,
            parser.entries,
            parser.naive_timestamps,
        )

    def add_counts(self, counts: ReadCounts) -> None:
        """What another reader counted, counted as read by this one (the part of an
        input it read: splitting.py)."""
        self.bytes_read += counts.bytes_read
        self.candidates += counts.candidates
        self.lines_skipped += counts.lines_skipped
        self.utf16_inputs += counts.utf16_inputs
        self._parser.entries += counts.entries
        self._parser.naive_timestamps += counts.naive_timestamps

    @staticmethod
    def search_for(markers: tuple[bytes, ...]) -> MarkerSearch:
        """How scan() finds markers: the fastest search this Python has (markers.py). The
        tests hold a subclass that searches once per marker to the same entries."""
        return marker_search(markers)

    def scan(self, chunks: Iterable[Buffer], markers: Sequence[bytes]) -> Iterator[LogEntry]:
        """The entries whose line (or JSON record) holds one of ``markers``, and the last
        entry of each block: :meth:`scan_runs` without runs."""
        return cast(Iterator[LogEntry], self.scan_runs(chunks, markers, runs=False))

    def scan_runs(
        self,
        chunks: Iterable[Buffer],
        markers: Sequence[bytes],
        *,
        runs: bool = True,
        alike: bool = False,
        going_on: bool = False,
    ) -> Iterator[Found]:
        """The entries whose line (or JSON record) holds one of ``markers``, and the last
        entry of each block. Chunks may cut lines anywhere and are searched in place
        (a memory map works as well as bytes); nothing else is decoded or copied. Each
        chunk is done with before the next is asked for, as the System seam requires.

        Exports joined with `cat` may change style part-way: where a JSON export opens
        among lines (of a text style or ndjson), or where a JSON export closes, the rest
        is read as if it were another input, its style told again, as reading the parts
        one by one would. A JSON array of records in another tool's layout (`jq .`) is
        read record by record (json_array.py).

        With ``runs``, the progress lines of a run (runs.py) come as one
        :class:`ProgressRun`, in the place of its first line; with ``alike`` too, lines
        alike whose newest alone counts as one :class:`AlikeLines`, in the place of
        their newest (for a reader that takes all entries, whatever their time).

        With ``going_on``, the chunks go on an input read up to the end of one of its
        lines, read as lines there (:attr:`last_shape_lines`): nothing is told from their
        start, as nothing is in the middle of an input (splitting.py).
        """
        search = self.search_for((*markers, *_BRACKET_LINES))
        self._progress_marker = (
            markers.index(PROGRESS_MARKER) if runs and PROGRESS_MARKER in markers else None
        )
        self._bracket_markers = tuple(range(len(markers), len(markers) + len(_BRACKET_LINES)))
        self._alike = runs and alike
        entries_before, self._utf16_start = self.entries, False
        rest: Iterator[Buffer] | None = iter(chunks)
        at_input_start, pretty = not going_on, False if going_on else None
        while rest is not None:
            rest = yield from self._scan_one_shape(rest, search, at_input_start, pretty)
            at_input_start, pretty = False, None
        if self._utf16_start and self.entries == entries_before:
            self.utf16_inputs += 1

    def _scan_one_shape(
        self,
        chunks: Iterator[Buffer],
        search: MarkerSearch,
        at_input_start: bool,
        pretty: bool | None,
    ) -> Generator[Found, None, Iterator[Buffer] | None]:
        """Output of one shape (lines, or pretty JSON records), from the style told by
        its start (``pretty``, where it is known); returns the rest of the input where
        it changes: where a JSON export opens among lines, or where a pretty JSON export
        closes ("}]")."""
        carry = b""
        closed_at_end = False  # the last chunk ended with a pretty record's "}"
        read_before = self.bytes_read
        chunked = chunks if pretty is not None else _first_at_least(chunks, STYLE_SAMPLE)
        self.shapes_read += 1
        self.last_shape_lines = pretty is False
        for chunk in chunked:
            size = len(chunk)
            self.bytes_read += size
            low = floor = 0  # floor: where an opening JSON export may be found
            if pretty is None:
                low = self._first_chunk(chunk) if at_input_start else _content_start(chunk)
                if looks_like_json_array(chunk[low : low + STYLE_SAMPLE]):
                    self.bytes_read -= size - low  # counted again as the array is read
                    return (yield from self._scan_json_array(chain([chunk[low:]], chunked), search))
                pretty = looks_pretty(chunk[low : low + STYLE_SAMPLE])
                self.last_shape_lines = not pretty
                floor = low + 1  # the start, told not to be one, is read as it is
            elif closed_at_end and chunk[:1] == b"]":  # "}]" cut in two: the export ended
                return self._read_again(chunk[1:], chunked)
            cut = complete_end(chunk, pretty, low, size)
            closed_at_end = pretty and low < cut == size
            if carry:
                carry, low, rest = yield from self._complete_carry(
                    carry, chunk, search, pretty, low, cut
                )
                if rest is not None:
                    return self._read_again(rest, chunked)
                if low == size:  # all of the chunk carried
                    continue
            opening = yield from self._scan_blocks(chunk, search, pretty, low, cut, floor)
            if opening is None:
                opening = _shape_change_after(chunk, pretty, low, cut)
            if opening is not None and opening >= floor:  # (the start was told no opening)
                return self._read_again(chunk[opening:], chunked)
            if cut < size:
                carry = yield from self._grow(b"", chunk[max(cut, low) :], search, pretty)
        # An opening at the end ("[" with no line break) is read again as a new input,
        # unless it is all this input was: read again, it would be again, for ever.
        if (
            carry
            and not pretty
            and self.bytes_read - read_before > len(carry)
            and _json_opening(carry, 0, len(carry)) == 0
        ):
            return self._read_again(carry, iter(()))
        if carry:
            yield from self._scan_block(carry, search, bool(pretty), 0, len(carry))
        return None

    def _complete_carry(
        self, carry: bytes, chunk: Buffer, search: MarkerSearch, pretty: bool, low: int, cut: int
    ) -> Generator[Found, None, tuple[bytes, int, bytes | None]]:
        """The carried start of a line or record, completed by the chunk's first one, read.
        Returns what is still carried, where the chunk's own lines or records start (its
        length when all of it was carried), and the input from the carried start when a
        JSON export opens there, to be read again."""
        if cut <= low:  # still inside one long line or record
            if not pretty and _json_opening(carry, 0, len(carry), chunk, low) == 0:
                return b"", low, carry + chunk[low:]
            grown = yield from self._grow(carry, chunk[low:], search, pretty)
            return grown, len(chunk), None
        first = first_end(chunk, pretty, low, len(chunk))
        head = carry + chunk[low:first]
        if not pretty and _json_opening(head, 0, len(head), chunk, first) == 0:
            return b"", first, head + chunk[first:]
        yield from self._scan_block(head, search, pretty, 0, len(head))
        return b"", first, None

    def _read_again(self, rest: bytes | bytearray, chunks: Iterator[Buffer]) -> Iterator[Buffer]:
        """The input from where its shape changed, to be read as a new one (its bytes
        were counted already)."""
        self.bytes_read -= len(rest)
        return chain([rest], chunks)

    def _scan_json_array(
        self, chunks: Iterator[Buffer], search: MarkerSearch
    ) -> Generator[Found, None, Iterator[Buffer] | None]:
        """A JSON array of records in another tool's layout (json_array.py): the records
        holding a marker, and the last of each piece read; returns what follows the
        array. Read in pieces of _ARRAY_PIECE bytes: each is copied and decoded whole."""
        elements = ArrayElements()
        for chunk in chunks:
            self.bytes_read += len(chunk)
            for at in range(0, len(chunk), _ARRAY_PIECE):
                closed = yield from self._array_piece(
                    elements, chunk[at : at + _ARRAY_PIECE], search
                )
                if closed is not None:
                    return self._read_again(closed + chunk[at + _ARRAY_PIECE :], chunks)
        yield from self._array_piece(elements, None, search)
        return None

    def _array_piece(
        self, elements: ArrayElements, piece: Buffer | None, search: MarkerSearch
    ) -> Generator[Found, None, bytes | None]:
        """The records completed by one more piece (None: the end); what follows the
        array in it, once it closed."""
        broken = elements.broken
        data, spans, closed = elements.feed(piece)
        self.lines_skipped += elements.broken - broken
        yield from self._array_records(data, spans, search)
        return None if closed is None else data[closed:]

    def _array_records(
        self, data: bytes, spans: list[tuple[int, int]], search: MarkerSearch
    ) -> Iterator[LogEntry]:
        if not spans:
            return
        hits = iter(search.starts_apart(data, spans[0][0], spans[-1][1], self._bracket_markers)[0])
        hit = next(hits, None)
        last_was_read = False
        for start, end in spans:
            last_was_read = hit is not None and hit < end
            if not last_was_read:
                continue
            while hit is not None and hit < end:
                hit = next(hits, None)
            self.candidates += 1
            entry = self._parse_unit(data, start, end, True)
            if entry is not None:
                yield entry
            else:
                self.lines_skipped += 1
        if not last_was_read:  # the newest record, as each block's last entry is read
            last = self._parse_unit(data, *spans[-1], True)
            if last is not None:
                yield last

    def _grow(
        self, carry: bytes, more: bytes | bytearray, search: MarkerSearch, pretty: bool
    ) -> Generator[Found, None, bytes]:
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
        self._utf16_start = _is_utf16_text(chunk)
        return 3 if chunk[:3] == b"\xef\xbb\xbf" else 0

    def _scan_blocks(
        self, chunk: Buffer, search: MarkerSearch, pretty: bool, low: int, cut: int, floor: int
    ) -> Generator[Found, None, int | None]:
        """chunk[low:cut], complete lines or records, in blocks of about _BLOCK bytes: a
        whole memory-mapped file is searched piece by piece, so what one search finds
        stays small, and the newest entry of each block is read. Lines end where a JSON
        export opens among them: returns where, read up to there."""
        while low < cut:
            high = cut
            if cut - low > self._block:
                high = complete_end(chunk, pretty, low, low + self._block)
                if high <= low:  # one line longer than a block: the block ends with it
                    high = first_end(chunk, pretty, low, cut)
            opening = _pretty_export_close(chunk, low, high) if pretty else None
            end = high if opening is None else opening
            within = yield from self._scan_block(chunk, search, pretty, low, end, floor)
            opening = opening if within is None else within
            if opening is not None:
                return opening
            low = high
        return None

    def _scan_block(
        self,
        block: Buffer,
        search: MarkerSearch,
        pretty: bool,
        low: int,
        high: int,
        openings_from: int | None = None,
    ) -> Generator[Found, None, int | None]:
        """The entries of block[low:high] holding markers, and its last. With
        ``openings_from``, the lines (or the lines of a pretty record that did not read as
        one) end where a JSON export opens among them (at or after openings_from): at a
        line opening with "[" that begins one, found in the markers' search, or before a
        line that fails as a key of a pretty JSON record. Returns where, the lines or
        records before it read."""
        hits, progress, ends_at = self._hits(block, search, pretty, low, high, openings_from)
        high = high if ends_at is None else ends_at
        # runs, groups of lines alike, and lines read already, by where they start; where
        # each run's last line starts
        ready, last_lines, hits = self._read_together(block, hits, progress, pretty, low, high)
        found = (records_holding if pretty else lines_holding)(block, hits, low, high)
        from_record, from_line = self._from_record, self._from_line
        for start, stop in found.items():
            if ready and start in ready:
                read = ready[start]
                self.candidates += 1 if read.__class__ is LogEntry else cast(AlikeLines, read).count
                yield read
                continue
            self.candidates += 1
            # _parse_unit, written out: this runs for every candidate
            if stop - start <= MAX_RECORD_CHARS:
                text = block[start:stop].decode("utf-8", "replace").lstrip("\ufeff")
                entry = from_record(text) if pretty else from_line(text.strip())
                if entry is not None:
                    yield entry
                    continue
            if openings_from is not None and not pretty:
                opening = _json_opening_before(block, max(low, openings_from), start, stop, high)
                if opening is not None:
                    self.candidates -= 1  # read again, as a record
                    last = self._last_entry(block, pretty, found | last_lines, low, opening)
                    if last is not None:
                        yield last
                    return opening
            self.lines_skipped += 1
            if pretty:
                # Not a record after all (cut short, or lines that only began like
                # JSON): its lines are read on their own, as the lines that break a
                # record are. A JSON export may open among them (another tool's array
                # joined between two exports of log show's): the rest is read from there.
                opening = yield from self._scan_block(
                    block, search, False, start, stop, openings_from
                )
                if opening is not None:
                    self.lines_skipped -= 1  # read again
                    last = self._last_entry(block, pretty, found | last_lines, low, start)
                    if last is not None:
                        yield last
                    return opening
        last = self._last_entry(block, pretty, found | last_lines, low, high)
        if last is not None:
            yield last
        return ends_at

    def _read_together(
        self,
        block: Buffer,
        hits: list[int],
        progress: list[int],
        pretty: bool,
        low: int,
        high: int,
    ) -> tuple[dict[int, Found], dict[int, int], list[int]]:
        """Runs of progress lines and groups of lines alike (runs.py), and lines read
        already, by where they start; where each run's last line starts; the hits left
        to read line by line (the progress marker's among them)."""
        if len(progress) > 2 or (self._alike and len(hits) > 1 and not pretty):
            return self._runs.find(block, hits, progress, low, high, self._alike)
        return {}, {}, sorted(hits + progress) if progress else hits

    def _hits(
        self,
        block: Buffer,
        search: MarkerSearch,
        pretty: bool,
        low: int,
        high: int,
        openings_from: int | None,
    ) -> tuple[list[int], list[int], int | None]:
        """Where markers are in block[low:high] (apart, when runs are read: only among
        lines, where the progress marker is), and where a JSON export opens among the
        lines (with ``openings_from``, at or after it), ending them: the hits are those
        before."""
        apart = self._bracket_markers
        if self._progress_marker is not None and not pretty:
            apart = (*apart, self._progress_marker)
        hits, found = search.starts_apart(block, low, high, apart)
        progress = found.pop() if len(found) > len(self._bracket_markers) else []
        if openings_from is None or pretty:
            return hits, progress, None
        # (blocks read for openings end with a line break: a "[" hit is never cut short)
        brackets = sorted(chain.from_iterable(found)) if any(found) else []
        ends_at = _json_opening_among(block, brackets, max(low, openings_from), high)
        if ends_at is not None:
            hits = [at for at in hits if at < ends_at]
            progress = [at for at in progress if at < ends_at]
        return hits, progress, ends_at

    def _parse_line(self, block: Buffer, start: int, stop: int) -> LogEntry | None:
        return self._parse_unit(block, start, stop, False)

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
            end = _end_before(block, pretty, start, low)
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


def _shape_change_after(chunk: Buffer, pretty: bool, low: int, cut: int) -> int | None:
    """Where, past the complete lines or records of chunk[low:cut], the input changes
    shape: after the "}]" closing a pretty JSON export (the "}" ends at ``cut``), or
    where the partial line at the chunk's end opens a JSON export."""
    if pretty:
        return cut + 1 if low < cut and chunk[cut : cut + 1] == b"]" else None
    return cut if low <= cut < len(chunk) and _json_opening(chunk, cut, len(chunk)) == cut else None


def _end_before(block: Buffer, pretty: bool, start: int, low: int) -> int:
    """Where to look for the unit before the one starting at ``start``: just after the
    LF that ends a line, or at the LF of the "\n}" that closes a record (its "}" may
    share a line with the next record's opening, "},{")."""
    if not pretty:
        return start - 1 if start > low else low
    close = block.rfind(b"\n}", low, start)
    return close + 1 if close != -1 else low


def _is_utf16_text(head: Buffer) -> bool:
    """Whether an input is UTF-16 text: a byte-order mark, then mostly ASCII characters,
    as any `log show` output is (random bytes read as UTF-16 are almost never ASCII)."""
    mark = bytes(head[:2])
    if mark not in (b"\xff\xfe", b"\xfe\xff"):
        return False
    sample = bytes(head[2:_UTF16_SAMPLE])
    text = sample[: len(sample) // 2 * 2].decode(
        "utf-16-le" if mark == b"\xff\xfe" else "utf-16-be", "replace"
    )
    ascii_text = sum(1 for char in text if " " <= char < "\x7f" or char in "\t\r\n")
    return ascii_text >= len(text) * _UTF16_ASCII_SHARE


def _content_start(chunk: Buffer) -> int:
    """Where a joined export's content starts (after its UTF-8 byte-order mark)."""
    return 3 if chunk[:3] == b"\xef\xbb\xbf" else 0


def _json_opening_among(block: Buffer, brackets: list[int], low: int, high: int) -> int | None:
    """Where a JSON export first opens in block[low:high], at its start or at a line
    opening with "[" (``brackets``: the LF before each)."""
    if low < high and _json_opening(block, low, high) == low:
        return low
    for bracket in brackets:
        if bracket + 1 >= low and _json_opening(block, bracket + 1, high) == bracket + 1:
            return bracket + 1
    return None


def _pretty_export_close(block: Buffer, low: int, high: int) -> int | None:
    """Where the "}]" closing a pretty JSON export ends a record before the last of
    block[low:high], when that last one opens another export ("[{") and is no log
    record (an export of nothing): what was between the two, output of another style
    joined after the first, is then read as the input it was, up to its last line."""
    start, end = record_bounds(block, high - 1, low, high)
    if block[start - 1 : start] != b"[" or start <= low:
        return None
    if end - start <= MAX_RECORD_CHARS and _is_log_record(block[start:end]):
        return None
    # from the "}" that may have ended the block before (blocks end after a record's "}")
    close = block.rfind(b"\n}]", max(low - 2, 0), start)
    return close + 2 if close != -1 else None


def _is_log_record(text: bytes | bytearray) -> bool:
    record = record_parser()(text.decode("utf-8", "replace"))
    return record is not None and isinstance(record.get("timestamp"), str)


def _json_opening_before(block: Buffer, low: int, at: int, stop: int, high: int) -> int | None:
    """Where a JSON export opens in block[low:at + 1], when the line at[:stop], which did
    not read as a line, is one: the line itself, an array on one line (``json.dumps``),
    or a key of a record laid out on many, the nearest "[" line before it then opening
    the export. Found so wherever the block ends: its last line tells nothing of this."""
    first = bytes(block[at : min(stop, at + 64)]).lstrip()[:1]
    if first == b"[" and at >= low:
        return at if _json_opening(block, at, high) == at else None
    if first != b'"':
        return None
    opening = block.rfind(b"\n[", low, at) + 1 or (low if block[low : low + 1] == b"[" else 0)
    if opening == 0 and low != 0:
        return None
    return opening if _json_opening(block, opening, high) == opening else None


def _json_opening(
    block: Buffer, at: int, high: int, more: Buffer = b"", more_at: int = 0
) -> int | None:
    """``at`` if a JSON export (of log show's layout or another's) opens there: a line
    starting with "[" (followed by more[more_at:], when block ends before it does). A line
    "[" or "[{" alone is taken for one though what follows is not known yet (the
    chunk may end with it): read again as a new input, its style is told from more."""
    if block[at : at + 1] != b"[" or block[at + 1 : at + 2] not in _AFTER_OPENING:
        return None
    head = bytes(block[at : min(high, at + STYLE_SAMPLE)])
    if len(head) < STYLE_SAMPLE:
        head += bytes(more[more_at : more_at + STYLE_SAMPLE - len(head)])
    if head.partition(b"\n")[0].rstrip() in (b"[", b"[{"):
        return at
    return at if looks_like_json_array(head) or looks_pretty(head) else None
