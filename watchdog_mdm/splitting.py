"""Reading one large export file in two processes at once: its first part here, the
rest in a copy of this process (System.in_second_process), each on a processor, the rest
shared out between the two as they go.

A read of all of a file (an export judged as of an instant in its middle, or one whose
end cannot settle the span judged: diagnose.py) is a pass over every byte, most of it the
scanner's Python, on one processor. Split at the end of a line in the window of
read_export before the window boundary at or before FIRST_SHARE of the file, each part is
read in the very blocks one read of the whole reads: up to the split, the same windows,
the last cut short there after its last line; after it, the line cut by the window
boundary carried into the next window, as one read carries it (scan.LogReader,
``going_on``). The scanner reads each block on its own, so the entries found in the
second part are those one read finds there; handed back in order (runs of progress lines
and lines alike without their lines, where the collector takes them whole) as they are
found, they are added to the one collector after the first part's, and it gathers what
one read gathers (tests/test_splitting.py holds the two to that).

The rest is read in pieces, one from each window boundary to the next, each from the
line that boundary cuts (where one read carries a line into the next window), so that
read alone each gives what one read gives there. The second process takes them from the
first on; this one, once done with its own part, adds what the second handed on so far,
and takes pieces from the last back, while any is left: whichever process runs faster
(the other may be slowed by other work, or be on a slower core) reads more. The pieces
it takes are added last, in order.

One read goes on past the split, and past each piece but the last, in lines only where
that part ended in lines: where one did not (a pretty JSON export joined in and still
open there), what was read in two is dropped and the file is read whole, here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from functools import partial

from watchdog_mdm import patterns
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.evidence import Collector
from watchdog_mdm.framing import Buffer, looks_pretty
from watchdog_mdm.json_array import looks_like_json_array
from watchdog_mdm.scan import STYLE_SAMPLE, Found, LogReader, ReadCounts
from watchdog_mdm.system import HandOn, Second, SecondFailed, System, Take

__all__ = ["FIRST_SHARE", "MIN_WINDOWS", "read_whole", "split_point"]

# Files of fewer windows than this (32 MB) are read in one process: a second one costs
# a few milliseconds to start, and what it finds is handed back through a file.
MIN_WINDOWS = 8
# The share of a file (%) read here before the rest is shared out: less than half, as
# this process also adds what the second one found to the collector (with 47 % their
# instructions after the fork were within 2-5 % of each other, on every style of an
# updating Mac's export), and so that it is most often done first and takes pieces of
# the rest: taking back is how the two even out, whichever is slowed.
FIRST_SHARE = 40
# What this process keeps, at most, of the pieces it takes, until it adds them (in
# pickles, as the second process hands on): it takes no more beyond, so memory stays
# flat whatever the file.
_TAKEN_BYTES = 16 << 20
# Entries handed back together (_Batch): so many, or of messages of about so many
# characters (a message may be as long as a line: a megabyte).
_BATCH = 512
_BATCH_CHARS = 1 << 20
# Byte-order marks of UTF-16 text.
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def read_whole(
    system: System,
    path: str,
    data: Buffer,
    reader: LogReader,
    new_collector: Callable[[], Collector],
    start: int = 0,
) -> Collector:
    """What one read of the file at ``path`` (``data``: it, mapped whole) from byte
    ``start`` (a line's start: the end of an export read from where its span begins,
    diagnose.py) to its end gathers into a new collector, ``reader`` reading it (counting
    what was read): read in two processes where it is large enough and a second one can
    run (:func:`split_point`). Raises OSError."""
    at = split_point(data, system.export_window, start)
    if at is not None:
        pieces = piece_starts(data, system.export_window, at)
        collector = _read_in_two_parts(system, path, start, pieces, reader, new_collector)
        if collector is not None:
            return collector
    collector = new_collector()
    collector.add_all(_scan(reader, system.read_export(path, start), collector))
    return collector


def split_point(data: Buffer, window: int, start: int = 0) -> int | None:
    """Where a file read from ``start`` is split: after the last line that ends in the
    window before the window boundary at or before FIRST_SHARE of what is read. None when it
    is not: that is less than MIN_WINDOWS windows, it starts as no lines do (a pretty JSON
    export, another tool's array, UTF-16 text: its line breaks are not single bytes),
    that window starts within the style sample (the reader joins an input's first chunks
    up to it, and would read across the split as one), or no line ends in that window."""
    if len(data) - start < MIN_WINDOWS * window:
        return None
    head = bytes(data[start : start + STYLE_SAMPLE])
    if bytes(data[:2]) in _UTF16_MARKS or head[:2] in _UTF16_MARKS:
        return None
    if looks_pretty(head) or looks_like_json_array(head):
        return None
    boundary = (start + (len(data) - start) * FIRST_SHARE // 100) // window * window
    if boundary - window < start + STYLE_SAMPLE:
        return None
    return data.rfind(b"\n", boundary - window, boundary) + 1 or None


def piece_starts(data: Buffer, window: int, at: int) -> list[int]:
    """Where the pieces of the rest of a file split at ``at`` start, and where it ends:
    at ``at``, then at each window boundary past it, where the line it cuts starts
    (after the last line break of the window before it: where one read carries that
    line into the next window). A window that holds no line break starts none."""
    starts = [at]
    for boundary in range((at // window + 1) * window, len(data), window):
        line = data.rfind(b"\n", boundary - window, boundary) + 1
        if line > starts[-1]:
            starts.append(line)
    starts.append(len(data))
    return starts


def _read_in_two_parts(
    system: System,
    path: str,
    start: int,
    pieces: list[int],
    reader: LogReader,
    new_collector: Callable[[], Collector],
) -> Collector | None:
    """The read from ``start`` split at the first of ``pieces`` (piece_starts), the
    rest shared out; None when it was not (no second process, or it failed) or one read
    would not go on there as the second process began, or after a piece: in lines. Then
    nothing was counted."""
    first, going_on = reader.fresh(), reader.fresh()
    second = system.in_second_process(
        partial(_read_second_part, system, path, pieces, going_on, new_collector),
        len(pieces) - 1,
    )
    if second is None:
        return None
    try:
        collector = new_collector()
        collector.add_all(_scan(first, system.read_export(path, start, pieces[0]), collector))
    except BaseException:
        second.cancel()
        raise
    if not _goes_on_in_lines(first):
        second.cancel()
        return None
    taken = reader.fresh()
    try:  # as the second process hands it on: the two work on meanwhile
        counted = _add_the_rest(system, path, pieces, collector, second, taken, new_collector)
    except SecondFailed:
        return None
    except BaseException:
        second.cancel()
        raise
    if counted is None:
        return None
    reader.add_counts(first.counts())
    reader.add_counts(counted)
    reader.add_counts(taken.counts())
    return collector


def _goes_on_in_lines(first: LogReader, shapes_before: int = 0) -> bool:
    """Whether one read, having read what ``first`` did (since it had read
    ``shapes_before`` shapes), goes on as the next part begins: in the shape it started
    in, of lines (no JSON export opened or closed among them: a shape begun near the end
    would have been told from what follows it, and its first chunks joined). How a line
    reads is the line's own (entries.EntryParser): nothing else read before the split
    changes what is read after it."""
    return first.shapes_read == shapes_before + 1 and first.last_shape_lines


def _read_second_part(
    system: System,
    path: str,
    pieces: list[int],
    reader: LogReader,
    new_collector: Callable[[], Collector],
    hand_on: HandOn,
    take: Take,
) -> None:
    """The second process's work: what ``reader`` finds in the pieces it takes, handed
    on in batches, then what it counted. A piece but the last that does not end in
    lines fails it (raises SecondFailed): the file is then read whole."""
    import pickle  # noqa: PLC0415 - only a split read needs it; keeps start-up fast

    judge = new_collector()  # only asked whether it takes a run or group whole
    batch = _Batch(hand_on)
    while (piece := take()) is not None:
        if not _read_piece(system, path, pieces, piece, reader, judge, batch):
            raise SecondFailed("a piece did not end in lines")
    batch.hand_on()
    hand_on(pickle.dumps(reader.counts(), pickle.HIGHEST_PROTOCOL))


def _read_piece(
    system: System,
    path: str,
    pieces: list[int],
    piece: int,
    reader: LogReader,
    judge: Collector,
    batch: _Batch,
) -> bool:
    """What ``reader`` finds in one piece, added to ``batch``; whether one read goes on
    after it in lines (always, after the last)."""
    shapes = reader.shapes_read
    end = pieces[piece + 1] if piece + 2 < len(pieces) else None  # the last: all there is
    for found in _scan(reader, system.read_export(path, pieces[piece], end), judge, going_on=True):
        if isinstance(found, LogEntry):
            batch.add(found, len(found.message))
        elif judge.takes_whole(found):  # (a run's two messages, a group's one: short)
            batch.add(found.detached(), _BATCH_CHARS // _BATCH)
        else:  # its lines, read here, where its block is
            for entry in found.entries():
                batch.add(entry, len(entry.message))
    return end is None or _goes_on_in_lines(reader, shapes)


class _Batch:
    """Findings handed on together, one pickle: _BATCH of them, or of about
    _BATCH_CHARS characters of messages (a message may be as long as a line)."""

    def __init__(self, hand_on: HandOn) -> None:
        self._hand_on = hand_on
        self._found: list[Found] = []
        self._chars = 0

    def add(self, found: Found, chars: int) -> None:
        self._found.append(found)
        self._chars += chars
        if len(self._found) >= _BATCH or self._chars >= _BATCH_CHARS:
            self.hand_on()

    def hand_on(self) -> None:
        import pickle  # noqa: PLC0415 - only a split read needs it; keeps start-up fast

        self._hand_on(pickle.dumps(self._found, pickle.HIGHEST_PROTOCOL))
        self._found, self._chars = [], 0


def _add_the_rest(
    system: System,
    path: str,
    pieces: list[int],
    collector: Collector,
    second: Second,
    taken: LogReader,
    new_collector: Callable[[], Collector],
) -> ReadCounts | None:
    """The rest of the file added to ``collector``, in order: what the second process
    hands on, and the pieces this one takes from the last back (read by ``taken``)
    while any is left and what it keeps of them is under _TAKEN_BYTES, adding what was
    handed on so far before each and after. Returns what the second process's reader
    counted (handed on last; None if it was not, or if a piece taken here does not end
    in lines: the file is then read whole)."""
    import pickle  # noqa: PLC0415 - only a split read needs it; keeps start-up fast

    kept: list[list[bytes]] = []  # each piece taken, in batches: the last piece first
    held = 0
    judge = new_collector()  # only asked whether it takes a run or group whole
    counted = _add_handed_back(collector, second.handed_on())
    # (A second process that is done has taken every piece it could: what is left, if
    # any, is this one's, however much. The real one stops only once none is left; the
    # tests' may stop before.)
    while counted is not None or held < _TAKEN_BYTES:
        piece = second.take_last()
        if piece is None:
            break
        batches: list[bytes] = []
        batch = _Batch(batches.append)
        if not _read_piece(system, path, pieces, piece, taken, judge, batch):
            second.cancel()
            return None
        batch.hand_on()
        kept.append(batches)
        held += sum(map(len, batches))
        if counted is None:
            counted = _add_handed_back(collector, second.handed_on())
    if counted is None:
        with closing(second.output()) as output:  # (the second process reaped at once)
            counted = _add_handed_back(collector, output)
    else:
        second.cancel()  # done: reaped
    if counted is not None:
        for batches in reversed(kept):
            for batch_taken in batches:
                collector.add_all(pickle.loads(batch_taken))  # noqa: S301 - our own
    return counted


def _add_handed_back(collector: Collector, pieces: Iterator[bytes]) -> ReadCounts | None:
    """The second part's findings handed on, added to ``collector`` in order; what its
    reader counted, once that comes (handed on last). The pieces come from the second
    process alone, through a file only this process and it can read."""
    import pickle  # noqa: PLC0415 - only a split read needs it; keeps start-up fast

    for piece in pieces:
        found: list[Found] | ReadCounts = pickle.loads(piece)  # noqa: S301 - our own
        if isinstance(found, ReadCounts):
            return found
        collector.add_all(found)
    return None


def _scan(
    reader: LogReader, chunks: Iterator[Buffer], collector: Collector, *, going_on: bool = False
) -> Iterator[Found]:
    return reader.scan_runs(
        chunks, patterns.RELEVANT_MARKERS, alike=collector.takes_every_entry, going_on=going_on
    )
