"""Lines proved alike in bulk: runs of progress lines, and groups of repeated lines.

While a Mac downloads or prepares an update, softwareupdated reports its progress several
times a second: a quarter of the log, lines alike but for their time and the numbers
after the phase ("[SUMacControllerProgressManager] Reported progress (inter):
phase:DOWNLOADING_UPDATE stalled:NO portionComplete:0.565454 ..."). What the checks take
from a run of such lines is what its first and last line say, and how many there were
(evidence.Collector keeps a run of one phase and edge as its first and last report).

So the scanner (scan.py) hands the collector a :class:`ProgressRun` for each run of
alike lines: who wrote them (one line of their making, read whole), the time and message
of the first and the last, and the count. The lines are proved alike in bulk, a block at
a time, not read one by one. A line is of a making (:class:`_Making`, told from a line
read whole) when it starts where the making's marker puts it, with a timestamp of the
making's shape (digits where it has digits, every other byte the same) that reads, then
the making's text up to and with the phase, byte for byte; an ndjson record must also be
the making's text before its timestamp, and after its message the same but for its
numbers. No other marker may be in its line, and it must not be too long to be read.
A run is the lines of one making one after another among the block's progress lines,
each no older than the one before. A progress line of no making is read as any line is.

Other candidate lines repeat too (mdmclient's exchanges, pushes), and of those only the
newest counts, beside their count: where the collector takes every entry, the lines of a
making told from one of them, to its line's end, come as one :class:`AlikeLines` (the
newest read whole, and the count), whatever lies between them. Lines naming an identity
error, a sleep or wake, or progress count each apart, and are never grouped.

The entries counted and the facts gathered are what reading every line whole gives:
tests/test_runs.py holds the two to that, on real lines and on damaged ones.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import chain, compress, repeat
from operator import add, and_, eq, ge, itemgetter, lt, ne, not_, sub
from typing import TypeVar, cast

from watchdog_mdm import patterns
from watchdog_mdm.entries import EntryParser, LogEntry, fixed_offset_suffix
from watchdog_mdm.framing import MAX_RECORD_CHARS, Buffer
from watchdog_mdm.text import safe

__all__ = ["AlikeLines", "Found", "ProgressRun", "RunFinder"]

_T = TypeVar("_T")
_Bytes = bytes | bytearray  # what a block's slices are
# What puts the lines of a making in order: their stamps (timestamps as bytes, where
# those sort as the times they read as: RunFinder._read_alike), or their timestamps read
_Key = bytes | bytearray | datetime

# Makings remembered, the last used first: one per program and call site reporting
# progress, and per phase and edge.
_MAKINGS = 16
# New makings told from a block's lines at most: a block of lines each of its own making
# (damaged, or forged) is read line by line after that.
_NEW_IN_A_BLOCK = 8
# Digits to "0", every other byte kept: what a timestamp's shape is compared by.
_SHAPE = bytes.maketrans(b"0123456789", b"0000000000")
# From a progress line's marker ("eported progress (") to what must be the same in each
# line of a making: its edge and phase, and the space after the phase (so that a longer
# phase, going on with a letter, is not taken for it).
_PHASE_END = re.compile(rb"eported progress \(\w+\): phase:[A-Z_]+ ")
# A text line's timestamp (entries._TIMESTAMP_PREFIX, in bytes) after the LF before it;
# the offset's group tells whether it names one.
_TEXT_TIME = re.compile(
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    rb"(?P<offset>[+-][0-9]{2}:?[0-9]{2}|Z)?"
)
# An ndjson record's timestamp, and what comes between it and the message in log show's
# key order: one other value that varies, a number.
_JSON_TIME = b'"timestamp":"'
_JSON_BETWEEN = re.compile(rb'","machTimestamp":[1-9][0-9]{0,17},"eventMessage":"')
_MACH_ZERO = b'"machTimestamp":0'  # a leading zero: no JSON number
# What a plain message's end holds (its text its value): no control character, backslash
# or quote (a quote ends it).
_PLAIN = bytes(range(0x20, 0x100)).replace(b"\\", b"").replace(b'"', b"")
# A JSON number with a leading zero is no JSON: a record holding one is read alone.
_LEADING_ZERO = re.compile(rb"[:,\[]-?0[0-9]")
# A number of two digits or more (its first digit in the group).
_LONG_NUMBER = re.compile(rb"(?<=[:,\[])-?([0-9])[0-9]")
# The longest line whose making is remembered (a making keeps its sender, and a few
# copies of such a line; 16 are kept): log lines are a few hundred bytes, a record about
# a kilobyte; a longer one is read line by line.
_LONGEST_ALIKE = 4096
# The longest record of a making copied to be compared (each is copied whole, from the
# LF before it to its end): twice the longest making; a longer one is read alone. (With
# only lines copied, each once, what is copied of a block is at most the block.)
_LONGEST_RECORD = 2 * _LONGEST_ALIKE
# Markers of lines each of which counts apart (kept among the newest few, or in runs):
# no line holding one is taken for alike others.
_COUNTED_APART = (
    *(text.encode() for text in patterns.IDENTITY_ERRORS),
    *patterns.POWER_MARKERS,
    patterns.PROGRESS_MARKER,
)
# The standard library's scanner of a JSON string's text: (its value, where it ends).
_scan_string: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
# Keys whose values tell who wrote a record: after its message, where only the digits
# are compared, none may be.
_CLAIMING_KEYS = (b'"processImagePath":', b'"process":', b'"userID":', b'"subsystem":')


class ProgressRun:
    """Progress lines one after another in the input, and in time order, of one making:
    who wrote them (``sender``, one of them read whole), the time and message of the
    first and the last, and how many there are. They hold no marker but the progress
    one (none names an enforcement). Each message is ``prefix`` (the same object for
    every run of a making: up to and with the phase, and the space after it), then the
    line's own text."""

    __slots__ = ("_lines", "count", "first", "last", "prefix", "sender")

    def __init__(
        self,
        sender: LogEntry,
        first: tuple[datetime, str],
        last: tuple[datetime, str],
        count: int,
        lines: tuple[RunFinder, Buffer, list[int], int] | None,
        prefix: str,
    ) -> None:
        self.sender = sender
        self.prefix = prefix
        self.first = first
        self.last = last
        self.count = count
        self._lines = lines  # who reads them, from which block, where they start, to where

    def entries(self) -> Iterator[LogEntry]:
        """Every line of the run read whole, for a reader that must take them one by one
        (only while the scanner reads the block that holds them)."""
        assert self._lines is not None  # (detached: its lines are not to be read)
        finder, block, starts, high = self._lines
        return finder.entries(block, starts, high)

    def detached(self) -> ProgressRun:
        """The run without its lines, to be handed to another process: for a reader that
        takes it whole (evidence.Collector.takes_whole)."""
        return ProgressRun(self.sender, self.first, self.last, self.count, None, self.prefix)

    def __reduce__(self) -> tuple[type[ProgressRun], tuple[object, ...]]:
        # by its fields, at a third of the cost of its slots one by one (a detached run
        # alone: its lines stay where its block is)
        if self._lines is not None:
            raise TypeError("only a detached run is handed on")
        return ProgressRun, (self.sender, self.first, self.last, self.count, None, self.prefix)


class AlikeLines:
    """Lines alike but for their time (and, in ndjson, the digits of their numbers),
    whatever lies between them, each of a kind whose newest alone counts, beside their
    count (an exchange of mdmclient's, a push): the newest read whole (``newest``, the
    last of the newest when several are), and how many there are."""

    __slots__ = ("_lines", "count", "newest")

    def __init__(
        self, newest: LogEntry, count: int, lines: tuple[RunFinder, Buffer, list[int], int] | None
    ) -> None:
        self.newest = newest
        self.count = count
        self._lines = lines  # who reads them, from which block, where they start, to where

    def entries(self) -> Iterator[LogEntry]:
        """Every line read whole, in the order read (only while the scanner reads the
        block that holds them)."""
        assert self._lines is not None  # (detached: its lines are not to be read)
        finder, block, starts, high = self._lines
        return finder.entries(block, starts, high)

    def detached(self) -> AlikeLines:
        """The lines without their place, to be handed to another process: for a reader
        that takes them whole (evidence.Collector.takes_whole)."""
        return AlikeLines(self.newest, self.count, None)

    def __reduce__(self) -> tuple[type[AlikeLines], tuple[object, ...]]:
        if self._lines is not None:  # (detached alone, as a run)
            raise TypeError("only detached lines are handed on")
        return AlikeLines, (self.newest, self.count, None)


# What the scanner finds: entries, runs of progress lines, groups of lines alike.
Found = LogEntry | ProgressRun | AlikeLines


class _Making:
    """How progress lines alike are made, told from one of them read whole (``sender``).

    Each line is compared from the LF before it to the end of its phase, its "unit": its
    start, to ``fixed_at``, must be of the sender unit's shape (the LF, and the
    timestamp, and for ndjson the record's text before the message with the number
    after the timestamp), the rest the sender unit's bytes; for ndjson, the text before
    the timestamp (``head``) too. For ndjson what follows the phase, to the line's end,
    must be a plain message's end and then the sender's text after it, but for its
    digits (``suffix_shape``). A line's message is the sender's up to the unit's end
    (``prefix``), then the line's own end.
    """

    def __init__(
        self,
        sender: LogEntry,
        unit: bytes,
        marker_at: int,
        fixed_at: int,
        time: tuple[int, int, bool],
        prefix: str,
        suffix: bytes | None = None,
    ) -> None:
        self.sender = sender
        self.marker_at = marker_at  # where the marker is from the line's start
        self.length = len(unit)
        self.fixed_at = fixed_at  # where the fixed text starts, from the line's start
        self.shape = unit[: fixed_at + 1].translate(_SHAPE)
        self.fixed = unit[fixed_at + 1 :]
        # the LF, and a record's text before its timestamp
        self.head = unit[: time[0] + 1] if suffix is not None else b""
        self.time = time  # the timestamp's span from the line's start, and if it has an offset
        # A line's stamp, what fitting() gives of it: its timestamp, after the LF before
        # it in a text line; where the offset starts in the timestamp, if it has one.
        self.stamp_from = 0 if suffix is not None else 1
        stamp = _TEXT_TIME.fullmatch(unit, time[0] + 1, time[1] + 1)
        self.offset_at = (
            None
            if stamp is None or stamp["offset"] is None
            else stamp.start("offset") - time[0] - 1
        )
        # whether stamps of this shape sort as their times: fromisoformat skips fraction
        # digits past the sixth, so two stamps may then differ as bytes, not as times
        fraction = 0 if stamp is None else len(stamp.group()) - 19 - len(stamp["offset"] or "")
        self.stamps_sort_as_times = stamp is not None and fraction <= 7  # "." and six digits
        self.prefix = prefix
        self.suffix_shape = None if suffix is None else suffix.translate(_SHAPE)
        # the closing quote and the suffix: a record's tail, and its shape
        self.tail = None if suffix is None else b'"' + suffix
        self.tail_shape = None if self.tail is None else self.tail.translate(_SHAPE)
        # where each number of two digits or more starts in the tail (no zero there)
        self.number_starts = (
            [] if suffix is None else [1 + m.start(1) for m in _LONG_NUMBER.finditer(suffix)]
        )
        # where the markers of a line alike are after its first (alike lines only)
        self.more_markers: tuple[int, ...] = ()

    def fitting(
        self, block: Buffer, starts: list[int], high: int
    ) -> tuple[list[bool], list[_Bytes]]:
        """Whether each of the lines starting at ``starts`` is of this making, and the
        stamp of each that is (its timestamp, after the LF before it in a text line,
        as bytes: whether it reads is for the caller to tell). A record is copied once,
        from the LF before it to its end, and compared by C-level calls on the copy:
        this runs for every record."""
        if not starts:
            return [], []
        if self.suffix_shape is None:
            return self._lines_fitting(block, starts)
        # Only lines are copied (an LF before each), each once: every progress marker
        # is taken for a line's start, and short lines may each hold hundreds.
        lows = list(map(sub, starts, repeat(1)))
        # (the bytes before them gathered in one: a third of the cost of a find each; a
        # record at the block's very start, its byte before the block's last, is copied
        # empty and fits nothing)
        if bytes(map(block.__getitem__, lows)).count(10) == len(lows):
            return self._records(block, starts, high)
        lines = list(map(eq, map(block.find, repeat(b"\n"), lows, starts), lows))
        fit, stamps = self._records(block, list(compress(starts, lines)), high)
        return _narrowed(lines, fit), stamps

    def _records(
        self, block: Buffer, starts: list[int], high: int
    ) -> tuple[list[bool], list[_Bytes]]:
        """fitting() of ndjson records, each after an LF."""
        if not starts:
            return [], []
        ends = _line_ends(block, [start + self.length - 1 for start in starts], high)
        short = list(map(ge, repeat(_LONGEST_RECORD), map(sub, ends, starts)))
        if short.count(True) != len(short):  # (seldom) not copied: read alone
            fit, times = self._records_fitting(
                block, list(compress(starts, short)), list(compress(ends, short))
            )
            return _narrowed(short, fit), times
        return self._records_fitting(block, starts, ends)

    def _records_fitting(
        self, block: Buffer, starts: list[int], ends: list[int]
    ) -> tuple[list[bool], list[_Bytes]]:
        """fitting() of ndjson records no longer than _LONGEST_RECORD, ending at ``ends``."""
        if not starts:
            return [], []
        records = [block[start - 1 : end] for start, end in zip(starts, ends, strict=True)]
        # bytes, or bytearray: what the block's slices are
        starts_with: Callable[..., bool] = records[0].__class__.startswith
        fixed_from = self.fixed_at + 1
        fit = list(map(starts_with, records, repeat(self.fixed), repeat(fixed_from)))
        fit = list(map(and_, fit, map(starts_with, records, repeat(self.head))))
        kept = records if fit.count(True) == len(fit) else list(compress(records, fit))
        if kept:
            whole = self._ends_fitting(kept)
            if not all(whole):
                fit = _narrowed(fit, whole)
                kept = list(compress(kept, whole))
        if not kept:
            return fit, []
        # from a record's timestamp to its message: timestamp and machTimestamp
        varies_from = self.time[0] + 1
        varied = list(map(itemgetter(slice(varies_from, fixed_from)), kept))
        fit, kept = self._shaped(fit, varied, kept, varies_from)
        if not kept:
            return fit, []
        low, high_time, _ = self.time
        return fit, list(map(itemgetter(slice(low + 1, high_time + 1)), kept))

    def _lines_fitting(self, block: Buffer, starts: list[int]) -> tuple[list[bool], list[_Bytes]]:
        """fitting() of text lines: their LF and timestamp are all that varies. Each
        line's unit is copied once and compared by C-level calls on the copies."""
        length = self.length
        units = [block[start - 1 : start + length - 1] for start in starts]
        # bytes, or bytearray: what the block's slices are
        starts_with: Callable[..., bool] = units[0].__class__.startswith
        fixed_from = self.fixed_at + 1
        fit = list(map(starts_with, units, repeat(self.fixed), repeat(fixed_from)))
        kept = units if fit.count(True) == len(fit) else list(compress(units, fit))
        if not kept:
            return fit, []
        varied = list(map(itemgetter(slice(0, fixed_from)), kept))
        return self._shaped(fit, varied, varied, 0)

    def _shaped(
        self,
        fit: list[bool],
        varied: list[bytes | bytearray],
        kept: list[bytes | bytearray],
        varies_from: int,
    ) -> tuple[list[bool], list[bytes | bytearray]]:
        """``fit`` and ``kept`` (one for each of ``varied``), but for the lines whose
        varied bytes (from ``varies_from`` in the unit) are not of the making's shape."""
        shape = self.shape[varies_from:]
        joined = b"".join(varied)
        if joined.translate(_SHAPE) == shape * len(varied) and _MACH_ZERO not in joined:
            return fit, kept
        shaped = [v.translate(_SHAPE) == shape and _MACH_ZERO not in v for v in varied]
        return _narrowed(fit, shaped), list(compress(kept, shaped))

    def _ends_fitting(self, records: list[bytes | bytearray]) -> list[bool]:
        """Whether each record (from the LF before it) ends as the sender's does: a plain
        message's end (no quote, backslash or control character), the closing quote,
        then the sender's text but for its digits, in valid numbers. That text is as
        long as the sender's, so where the quote is follows from the record's end."""
        shape = self.tail_shape
        assert shape is not None
        tail = len(shape)
        if min(map(len, records)) >= self.length + tail:
            tails = b"".join(map(itemgetter(slice(-tail, None)), records))
            messages = b"".join(map(itemgetter(slice(self.length, -tail)), records))
            if not messages.translate(None, _PLAIN) and self._tails_fit(tails, len(records)):
                return [True] * len(records)
        return [
            len(record) >= self.length + tail
            and not record[self.length : -tail].translate(None, _PLAIN)
            and self._tails_fit(record[-tail:], 1)
            for record in records
        ]

    def _tails_fit(self, joined: bytes | bytearray, count: int) -> bool:
        """Whether ``count`` tails (the closing quote and what follows), joined, are each
        the sender's but for its digits, with no number starting with a zero where the
        sender's has two digits or more. Most often each is the sender's own, byte for
        byte (what follows a message is its sender's: image, trace and process, the same
        for every line of a call site), and one comparison says so."""
        shape, own = self.tail_shape, self.tail
        assert shape is not None and own is not None
        if joined == own * count:  # (the sender's numbers read: so do these)
            return True
        if joined.translate(_SHAPE) != shape * count:
            return False
        return not any(b"0" in joined[first :: len(shape)] for first in self.number_starts)

    def messages(self, block: Buffer, starts: list[int], high: int) -> list[str]:
        """The messages of the lines of this making starting at ``starts``, as reading
        each whole gives it (a run's first and last lines, of every run in a block): their
        own ends decoded at once, joined by the LF none of them holds (an invalid
        sequence at one's end is replaced as it is at the end of the input)."""
        owns_from = list(map(add, starts, repeat(self.length - 1)))
        ends = _line_ends(block, owns_from, high)
        owned = b"\n".join(map(block.__getitem__, map(slice, owns_from, ends)))
        owns = owned.decode("utf-8", "replace").split("\n")
        prefix = self.prefix
        if self.suffix_shape is not None:  # the message's end, in the record: plain text
            return [prefix + safe(own[: own.index('"')]) for own in owns]
        owns = [own.rstrip() for own in owns]  # as the line is stripped
        return [prefix + safe(own) if own else prefix.rstrip() for own in owns]


def _kept(fit: list[bool], *lists: list[_T]) -> tuple[list[_T], ...]:
    return tuple(list(compress(values, fit)) for values in lists)


def _line_ends(block: Buffer, places: list[int], high: int) -> list[int]:
    """_line_end() of each place, found by C-level calls: this runs for every record."""
    ends = list(map(block.find, repeat(b"\n"), places, repeat(high)))
    return [high if end == -1 else end for end in ends] if -1 in ends else ends


def _narrowed(fit: list[bool], further: list[bool]) -> list[bool]:
    """``fit``, its true values but those ``further`` (one for each) says are not."""
    further_values = iter(further)
    return [value and next(further_values) for value in fit]


def _segments(indexes: list[int], keys: list[_Key]) -> Iterator[tuple[int, int]]:
    """The first and last place in ``indexes`` of each run: indexes one after another,
    each line no older than the one before."""
    after = range(1, len(indexes))
    breaks = set(compress(after, map(ne, map(sub, indexes[1:], indexes), repeat(1))))
    older = list(map(lt, keys[1:], keys))
    if True in older:  # (seldom: entries out of order)
        breaks.update(compress(after, older))
    first = 0
    for place in sorted(breaks):
        yield first, place - 1
        first = place
    yield first, len(indexes) - 1


def _line_end(block: Buffer, at: int, high: int) -> int:
    end = block.find(b"\n", at, high)
    return high if end == -1 else end


def _making_of(sender: LogEntry, line: bytes, marker_at: int) -> _Making | None:
    """The making of a line read whole (``sender``; ``line`` with the LF before it,
    ``marker_at`` its marker's place there); None when it is no line runs are made of."""
    phase = _PHASE_END.match(line, marker_at)
    if phase is None or not line[: phase.end()].isascii():
        return None
    unit, rest = line[: phase.end()], line[phase.end() :]
    if len(line) > _LONGEST_ALIKE:  # (a making keeps its sender's message, and more)
        return None
    if unit[1:2] == b"{":
        return _record_making(sender, unit, rest, marker_at)
    time = _TEXT_TIME.match(unit, 1)
    own = rest.decode("utf-8", "replace").rstrip()
    if time is None or not own or not sender.message.endswith(safe(own)):
        return None
    prefix = sender.message[: len(sender.message) - len(safe(own))]
    span = (0, time.end() - 1, time["offset"] is not None)
    return _Making(sender, unit, marker_at - 1, time.end() - 1, span, prefix)


def _record_making(sender: LogEntry, unit: bytes, rest: bytes, marker_at: int) -> _Making | None:
    """_making_of() an ndjson record (``rest``: what follows its phase)."""
    time_from = unit.find(_JSON_TIME) + len(_JSON_TIME)
    time_to = unit.find(b'"', time_from)
    between = _JSON_BETWEEN.match(unit, time_to)
    time = _TEXT_TIME.fullmatch(unit, time_from, time_to)
    message, quote, suffix = rest.partition(b'"')
    own = message.decode("utf-8", "replace")
    if (
        time_from < len(_JSON_TIME)
        or between is None
        or time is None
        or not quote
        or message.translate(None, _PLAIN)
        or _LEADING_ZERO.search(suffix) is not None
        or any(key in suffix for key in _CLAIMING_KEYS)
        or not sender.message.endswith(safe(own))
    ):
        return None
    prefix = sender.message[: len(sender.message) - len(safe(own))]
    fixed_at = between.end() - len(b'"eventMessage":"') - 1
    span = (time_from - 1, time_to - 1, time["offset"] is not None)
    return _Making(sender, unit, marker_at - 1, fixed_at, span, prefix, suffix)


def _alike_making(sender: LogEntry, line: bytes, markers: list[int]) -> _Making | None:
    """The making of lines alike the one read whole (``sender``; ``line`` with the LF
    before it, ``markers`` where each marker in it starts there); None when it is no
    line whose alike lines can be told without reading each: one whose marker tells of
    an identity error, a sleep or wake, or progress (each of those counts apart), that
    is not ASCII, or that is longer than _LONGEST_ALIKE."""
    if (
        len(line) > _LONGEST_ALIKE
        or not line.isascii()
        or any(marker in line for marker in _COUNTED_APART)
    ):
        return None
    first = markers[0]
    if line[1:2] != b"{":
        time = _TEXT_TIME.match(line, 1)
        if time is None:
            return None
        span = (0, time.end() - 1, time["offset"] is not None)
        # to the line's end, and the LF that ends it
        making: _Making | None = _Making(sender, line + b"\n", first - 1, time.end() - 1, span, "")
    else:
        making = _record_alike(sender, line, first)
    if making is not None:
        making.more_markers = tuple(marker - first for marker in markers[1:])
    return making


def _record_alike(sender: LogEntry, line: bytes, first: int) -> _Making | None:
    """_alike_making() of an ndjson record: to its message's closing quote, its bytes;
    after that, its text but for its digits."""
    time_from = line.find(_JSON_TIME) + len(_JSON_TIME)
    time_to = line.find(b'"', time_from)
    between = _JSON_BETWEEN.match(line, time_to)
    time = _TEXT_TIME.fullmatch(line, time_from, time_to)
    if time_from < len(_JSON_TIME) or between is None or time is None:
        return None
    try:  # where the message's string ends (escapes and all)
        _, close = _scan_string(line.decode("ascii"), between.end())
    except ValueError:
        return None
    suffix = line[close:]
    if (
        close <= first
        or _LEADING_ZERO.search(suffix) is not None
        or any(key in suffix for key in _CLAIMING_KEYS)
    ):
        return None
    fixed_at = between.end() - len(b'"eventMessage":"') - 1
    span = (time_from - 1, time_to - 1, time["offset"] is not None)
    # the unit ends before the closing quote: what follows it is the suffix
    return _Making(sender, line[: close - 1], first - 1, fixed_at, span, "", suffix)


class _Lines:
    """The progress lines of a block found of one making: their places among the
    block's progress lines, where they start, and what puts them in order (_Key)."""

    __slots__ = ("keys", "making", "places", "starts")

    def __init__(
        self, making: _Making, places: list[int], starts: list[int], keys: list[_Key]
    ) -> None:
        self.making = making
        self.places = places
        self.starts = starts
        self.keys = keys

    def without(self, starts: set[int]) -> _Lines:
        kept = [start not in starts for start in self.starts]
        return _Lines(
            self.making,
            list(compress(self.places, kept)),
            list(compress(self.starts, kept)),
            list(compress(self.keys, kept)),
        )


class RunFinder:
    """Finds the runs of progress lines in blocks of complete lines (any style but a
    pretty-printed JSON export's records), for the scanner.

    ``parse(block, start, stop)`` reads one line whole, as the scanner reads each, and
    ``parser`` counts it; the lines of a run are counted as read.
    """

    def __init__(
        self, parser: EntryParser, parse: Callable[[Buffer, int, int], LogEntry | None]
    ) -> None:
        self._parser = parser
        self._parse = parse
        # appended to a timestamp naming no offset, read in the reader's zone at once,
        # as the parser reads a line's (the zone a fixed one), not made aware after
        self._naive_suffix = fixed_offset_suffix(parser.naive_tz)
        # makings of progress lines and of lines alike: those of most lines last first
        self._makings: list[_Making] = []
        self._alike: list[_Making] = []
        # where the lines read whole in this block to tell makings from start (_read_at)
        self._lines_read: set[int] = set()

    def find(
        self,
        block: Buffer,
        rest: list[int],
        progress: list[int],
        low: int,
        high: int,
        alike: bool,
    ) -> tuple[dict[int, Found], dict[int, int], list[int]]:
        """The runs of progress lines in block[low:high], with ``alike`` the groups of
        lines alike, and the other lines read meanwhile (not to be read twice), by where
        they start (a group's where its newest is); where each run's last line starts;
        and the hits left to read line by line, among which each run's first line (and
        each group's newest) holds its place. ``progress``: the hits of the progress
        marker; ``rest``: those of the others."""
        read: dict[int, LogEntry] = {}
        self._lines_read.clear()
        found = self._found(block, progress, low, high, read, self._makings, self._making_at)
        alikes: list[_Lines] = []
        if alike and len(rest) > 1:
            alikes = self._found(block, rest, low, high, read, self._alike, self._alike_at)
        unfound = _unfound(progress, found)
        crowded = _crowded(block, rest, unfound, found, alikes, high)
        if crowded:
            found = [lines.without(crowded) for lines in found]
            alikes = [lines.without(crowded) for lines in alikes]
            unfound = _unfound(progress, found)
        ready: dict[int, Found] = dict(read)
        last_lines, firsts = self._runs(block, found, high, ready)
        taken: set[int] = set()  # the hits of lines alike read with others, but the newest's
        last_lines.update(self._groups(block, alikes, high, ready, taken))
        rest_left = [hit for hit in rest if hit not in taken] if taken else rest
        left = sorted(rest_left + unfound + firsts) if progress else rest_left
        return ready, last_lines, left

    def _found(
        self,
        block: Buffer,
        hits: list[int],
        low: int,
        high: int,
        read: dict[int, LogEntry],
        makings: list[_Making],
        making_at: Callable[
            [Buffer, list[int], int, int, int, dict[int, LogEntry]], _Making | None
        ],
    ) -> list[_Lines]:
        """The lines holding ``hits`` of a making: of those known (the makings most
        lines were of in the last block first), then of new ones, told from lines read
        whole (those of none kept in ``read``)."""
        found: list[_Lines] = []
        pending = list(range(len(hits)))
        for known in list(makings):
            if not pending:
                break
            pending = self._assign(block, hits, pending, known, low, high, found)
        new = at = 0
        while at < len(pending) and new < _NEW_IN_A_BLOCK:
            place = pending[at]
            making = making_at(block, hits, place, low, high, read)
            if making is None:
                at += 1
                continue
            new += 1
            makings[:] = [making, *makings[: _MAKINGS - 1]]
            left = self._assign(block, hits, pending[at:], making, low, high, found)
            pending, at = (left[1:] if left and left[0] == place else left), 0
        used = {id(lines.making): len(lines.places) for lines in found}
        makings.sort(key=lambda making: -used.get(id(making), 0))
        return found

    def _making_at(
        self,
        block: Buffer,
        hits: list[int],
        place: int,
        low: int,
        high: int,
        read: dict[int, LogEntry],
    ) -> _Making | None:
        """The making of the progress line holding hits[place], read whole (and kept in
        ``read`` when it has none; counted when its lines are)."""
        counted = self._parser.entries, self._parser.naive_timestamps
        line = self._read_at(block, hits[place], low, high, read)
        if line is None:
            return None
        start, end, sender = line
        making = None
        if sender.message.startswith(patterns.UPDATE_PROGRESS_START):
            # with the LF before it (a block's first line has that LF before low)
            unit_line = (
                bytes(block[start - 1 : end]) if start > low else b"\n" + bytes(block[start:end])
            )
            making = _making_of(sender, unit_line, hits[place] - start + 1)
        if making is None:
            read[start] = sender
        else:
            self._parser.entries, self._parser.naive_timestamps = counted  # with its run
        return making

    def _alike_at(
        self,
        block: Buffer,
        hits: list[int],
        place: int,
        low: int,
        high: int,
        read: dict[int, LogEntry],
    ) -> _Making | None:
        """The making of lines alike the one holding hits[place], read whole (and kept in
        ``read``: the line is read once, as the newest of its group or alone)."""
        read_line = self._read_at(block, hits[place], low, high, read)
        if read_line is None:
            return None
        start, end, sender = read_line
        read[start] = sender
        if start == low or end == high:  # no line break before or after it, in the block
            return None
        markers = hits[bisect_left(hits, start) : bisect_left(hits, end)]
        unit_line = bytes(block[start - 1 : end])
        return _alike_making(sender, unit_line, [marker - start + 1 for marker in markers])

    def _read_at(
        self, block: Buffer, hit: int, low: int, high: int, read: dict[int, LogEntry]
    ) -> tuple[int, int, LogEntry] | None:
        """Where the line holding ``hit`` starts and ends, and its entry read whole; None
        when it was read already, is too long to be read, or does not read. A line is
        read so once a block, whatever markers it holds."""
        start = block.rfind(b"\n", low, hit) + 1 or low
        if start in read or start in self._lines_read:
            return None
        self._lines_read.add(start)
        end = _line_end(block, hit, high)
        if end - start > MAX_RECORD_CHARS:
            return None
        sender = self._parse(block, start, end)
        return None if sender is None else (start, end, sender)

    def _assign(
        self,
        block: Buffer,
        hits: list[int],
        pending: list[int],
        making: _Making,
        low: int,
        high: int,
        found: list[_Lines],
    ) -> list[int]:
        """The pending progress lines (their places) of ``making`` whose timestamps
        read, added to ``found``; returns the places of those still pending."""
        line_starts = list(map(sub, map(hits.__getitem__, pending), repeat(making.marker_at)))
        fit, stamps = making.fitting(block, line_starts, high)
        if fit and fit[0] and line_starts[0] < low:  # a line starts in the block
            fit[0], stamps = False, stamps[1:]
        if not stamps:
            return pending
        places = list(compress(pending, fit))
        starts = list(compress(line_starts, fit))
        left = list(compress(pending, map(not_, fit)))
        times, every_one = self._keys(making, stamps)
        if not every_one:
            kept = [time is not None for time in times]
            left = sorted([*left, *compress(places, map(not_, kept))])
            places, starts = _kept(kept, places, starts)
            times = list(compress(times, kept))
        if making.more_markers:  # the line's other markers: where the sender's are
            places, starts, times = self._with_markers(hits, making, places, starts, times)
            taken: set[int] = set(places)  # the lines' places, and their other markers'
            for at in making.more_markers:
                where = map(add, starts, repeat(making.marker_at + at))
                taken.update(map(bisect_left, repeat(hits), where))
            left = [place for place in pending if place not in taken]
        if places:
            found.append(_Lines(making, places, starts, times))  # type: ignore[arg-type]
        return left

    def _keys(self, making: _Making, stamps: list[_Bytes]) -> tuple[list[_Key | None], bool]:
        """What puts the lines in order, and whether every one's timestamp reads: their
        stamps, where all read alike (_read_alike); else their timestamps read (None
        where one does not)."""
        if self._read_alike(making, stamps):
            return list(stamps), True
        times, every_one = self._stamps_read(making, stamps)
        return list(times), every_one

    def _read_alike(self, making: _Making, stamps: list[_Bytes]) -> bool:
        """Whether each stamp (of the making's shape) reads, and their bytes put them in
        the order of their times: when the earliest and the latest (as bytes) read and
        are of one day, each stamp is of that day, at an hour between theirs; each has
        minutes and seconds below 60, the same offset, and six fraction digits at most
        (fromisoformat skips the rest). Only those two are read (a timestamp costs about
        as much to read as the rest of a line to prove)."""
        if not making.stamps_sort_as_times:
            return False
        earliest, latest = min(stamps), max(stamps)
        day = making.stamp_from
        if earliest[day : day + 10] != latest[day : day + 10]:  # (past midnight)
            return False
        if self._read_stamp(making, earliest) is None or self._read_stamp(making, latest) is None:
            return False
        width, joined = len(earliest), b"".join(stamps)
        for tens in (day + 14, day + 17):  # of the minutes and of the seconds
            if joined[tens::width].translate(None, b"012345"):
                return False
        if making.offset_at is not None:
            for column in range(day + making.offset_at, width):
                offsets = joined[column::width]
                if offsets.count(offsets[:1]) != len(offsets):
                    return False
        return True

    def _read_stamp(self, making: _Making, stamp: _Bytes) -> datetime | None:
        """The timestamp a stamp reads as (None if it does not)."""
        return self._parser.time_of(
            stamp[making.stamp_from :].decode("ascii") + self._suffix(making)
        )

    def _suffix(self, making: _Making) -> str:
        """What a making's timestamps are read with: the reader's fixed zone's offset,
        where they name none."""
        return "" if making.time[2] else self._naive_suffix

    def _times(self, texts: list[str], suffix: str) -> tuple[list[datetime | None], bool]:
        """The timestamps read, each with ``suffix`` (None for one that does not read),
        and whether every one read."""
        if suffix:
            texts = ((suffix + "\n").join(texts) + suffix).split("\n")
        try:
            return list(self._parser.times_of(texts)), True
        except ValueError:
            return list(map(self._parser.time_of, texts)), False

    def _with_markers(
        self,
        hits: list[int],
        making: _Making,
        places: list[int],
        starts: list[int],
        times: list[_Key | None],
    ) -> tuple[list[int], list[int], list[_Key | None]]:
        """Of the lines found, those with the making's other markers where it has them."""
        present = set(hits)
        fit = [True] * len(starts)
        for at in making.more_markers:
            where = map(add, starts, repeat(making.marker_at + at))
            fit = list(map(min, fit, map(present.__contains__, where)))
        return (
            list(compress(places, fit)),
            list(compress(starts, fit)),
            list(compress(times, fit)),
        )

    def _runs(
        self, block: Buffer, found: list[_Lines], high: int, ready: dict[int, Found]
    ) -> tuple[dict[int, int], list[int]]:
        """The runs of the progress lines found of a making, put in ``ready``: those of
        one making, one after another among the progress lines, each no older than the
        one before. Returns where the last line of each of more than one line starts,
        and the hit of each one's first line (the rest of its hits are read with it).
        The time and message of each run's first and last line are read for all the
        runs of a making at once: an updating Mac's block holds hundreds of runs."""
        last_lines: dict[int, int] = {}
        firsts: list[int] = []
        for lines in found:
            if not lines.places:
                continue
            making, starts = lines.making, lines.starts
            segments = list(_segments(lines.places, lines.keys))
            heads = list(map(itemgetter(0), segments))
            longer = list(map(lt, heads, map(itemgetter(1), segments)))
            firsts.extend(map(add, map(starts.__getitem__, heads), repeat(making.marker_at)))
            opening = self._endpoints(block, lines, heads, high)
            closing = iter(
                self._endpoints(
                    block, lines, list(compress(map(itemgetter(1), segments), longer)), high
                )
            )
            alone = making.suffix_shape is None  # a text line alone is an entry
            for (first, last), first_end, more in zip(segments, opening, longer, strict=True):
                start = starts[first]
                if more:
                    ready[start] = self._run(
                        making, block, starts[first : last + 1], first_end, next(closing), high
                    )
                    last_lines[starts[last]] = 0
                elif alone:
                    ready[start] = self._single(making, first_end)
                else:
                    # (a record alone is a run of one: an entry made from its making's
                    # sender would hold the sender's numbers, not its own)
                    ready[start] = self._run(making, block, [start], first_end, first_end, high)
        return last_lines, firsts

    def _endpoints(
        self, block: Buffer, lines: _Lines, places: list[int], high: int
    ) -> list[tuple[datetime, str]]:
        """The time and message of the lines at ``places`` among ``lines``, as reading
        each whole gives them: times naive where they name no offset are put in the
        zone the reader was given, as a line is read."""
        if not places:
            return []
        keys = list(map(lines.keys.__getitem__, places))
        making = lines.making
        if isinstance(keys[0], datetime):
            times = cast(list[datetime], keys)
        else:
            read, every_one = self._stamps_read(making, cast(list[_Bytes], keys))
            assert every_one  # (never otherwise: each read, _read_alike)
            times = cast(list[datetime], read)
        if times[0].tzinfo is None:  # (all alike: of one shape)
            zone = self._parser.naive_tz
            times = [time.replace(tzinfo=zone) for time in times]
        messages = making.messages(block, list(map(lines.starts.__getitem__, places)), high)
        return list(zip(times, messages, strict=True))

    def _stamps_read(
        self, making: _Making, stamps: list[_Bytes]
    ) -> tuple[list[datetime | None], bool]:
        """The times stamps read as (None for one that does not), and whether every
        one read."""
        if making.stamp_from:  # each after an LF
            texts = b"".join(stamps).decode("ascii").split("\n")[1:]
        else:
            texts = b"\n".join(stamps).decode("ascii").split("\n")
        return self._times(texts, self._suffix(making))

    def _single(self, making: _Making, endpoint: tuple[datetime, str]) -> LogEntry:
        """The entry of a text line of a making, as reading it whole gives it: the
        sender's but for its time and message (its bytes are the sender's up to and with
        the phase)."""
        self._parser.entries += 1
        if not making.time[2]:
            self._parser.naive_timestamps += 1
        sender = making.sender
        # the fields in order (timestamp, process, message, ...), not by _replace(), a
        # Python function: this runs for each line alone
        return tuple.__new__(LogEntry, (endpoint[0], sender.process, endpoint[1], *sender[3:]))

    def _groups(
        self,
        block: Buffer,
        alikes: list[_Lines],
        high: int,
        ready: dict[int, Found],
        taken: set[int],
    ) -> dict[int, int]:
        """The groups of lines alike, put in ``ready`` where their newest is (the last of
        the newest): the lines of a making, and their count. Returns where their lines
        start (read: the block's last line, read for its time, may be one of them)."""
        grouped: dict[int, int] = {}
        parser = self._parser
        for lines in alikes:
            starts, keys, making = lines.starts, lines.keys, lines.making
            if len(starts) < 2:
                continue
            newest = max(keys)
            at = len(keys) - 1 - keys[::-1].index(newest)
            start = starts[at]
            entry = ready.get(start)  # the sender, read already, may be the newest
            if entry is None:
                entry = self._parse(block, start, _line_end(block, start, high))
                if entry is None:
                    continue  # never, for a line that fits; but read as any line, then
            elif entry.__class__ is not LogEntry:
                continue
            read_before = [s for s in starts if s in ready and s != start]
            parser.entries += len(starts) - 1 - len(read_before)
            if not making.time[2] and making.suffix_shape is None:
                parser.naive_timestamps += len(starts) - 1 - len(read_before)
            for other in read_before:
                del ready[other]
            ready[start] = AlikeLines(entry, len(starts), (self, block, starts, high))
            grouped.update(dict.fromkeys(starts, 0))
            for marker in (
                making.marker_at,
                *map(add, making.more_markers, repeat(making.marker_at)),
            ):
                taken.update(map(add, starts, repeat(marker)))
                taken.discard(start + marker)
        return grouped

    def _run(
        self,
        making: _Making,
        block: Buffer,
        starts: list[int],
        first: tuple[datetime, str],
        last: tuple[datetime, str],
        high: int,
    ) -> ProgressRun:
        parser = self._parser
        parser.entries += len(starts)
        if not making.time[2] and making.suffix_shape is None:
            parser.naive_timestamps += len(starts)
        lines = (self, block, starts, high)
        return ProgressRun(making.sender, first, last, len(starts), lines, making.prefix)

    def entries(self, block: Buffer, starts: list[int], high: int) -> Iterator[LogEntry]:
        """The lines starting at ``starts`` read whole (counted with their run)."""
        parser, parse = self._parser, self._parse
        for start in starts:
            counted = parser.entries, parser.naive_timestamps
            entry = parse(block, start, _line_end(block, start, high))
            parser.entries, parser.naive_timestamps = counted
            if entry is not None:
                yield entry


def _size(lines: _Lines) -> int:
    return len(lines.starts)


def _among(starts: list[int], start: int) -> bool:
    """Whether ``start`` is one of ``starts`` (sorted)."""
    at = bisect_left(starts, start)
    return at < len(starts) and starts[at] == start


def _unfound(progress: list[int], found: list[_Lines]) -> list[int]:
    """The progress hits of no line found (``found``: lines among the progress hits)."""
    if sum(len(lines.places) for lines in found) == len(progress):
        return []
    missing = [True] * len(progress)
    for lines in found:
        list(map(missing.__setitem__, lines.places, repeat(False)))
    return list(compress(progress, missing))


def _crowded(
    block: Buffer,
    rest: list[int],
    unfound: list[int],
    found: list[_Lines],
    alikes: list[_Lines],
    high: int,
) -> set[int]:
    """Where the lines found start that hold a marker but their own (found of two
    makings, by two markers, or holding another), or may be too long to be read (the
    scanner skips such a line: MAX_RECORD_CHARS). Lines found are each from the LF
    before them, so two that start apart never overlap: a hit in a line found is one of
    its own markers, or a hit no line was found by (``unfound``, among the progress
    hits; among ``rest``, those no line alike was found by)."""
    every = sorted((lines for lines in (*found, *alikes) if lines.starts), key=_size)
    if not every:
        return set()
    # Most lines are of one making: the others' starts are looked for among its sorted
    # starts, not all put in a set (this runs for every block).
    most = every[-1].starts
    fewer = list(chain.from_iterable(lines.starts for lines in every[:-1]))
    few = set(fewer)
    crowded = _of_two_makings(every[:-1]) if len(few) < len(fewer) else set()
    crowded.update(start for start in few if _among(most, start))
    owned: set[int] = set()
    for lines in alikes:
        making = lines.making
        for at in (making.marker_at, *map(add, making.more_markers, repeat(making.marker_at))):
            owned.update(map(add, lines.starts, repeat(at)))
    for hit in [hit for hit in rest if hit not in owned] + unfound:
        start = block.rfind(b"\n", 0, hit) + 1
        if start in few or _among(most, start):
            crowded.add(start)
    for lines in every:
        crowded.update(_maybe_too_long(block, lines.starts, high))
    return crowded


def _of_two_makings(every: list[_Lines]) -> set[int]:
    """The starts of lines found of two makings (each list's starts apart)."""
    both: set[int] = set()
    seen: set[int] = set()
    for lines in every:
        both.update(seen.intersection(lines.starts))
        seen.update(lines.starts)
    return both


def _maybe_too_long(block: Buffer, starts: list[int], high: int) -> Iterator[int]:
    """The lines starting at ``starts`` (sorted, each from an LF) longer than
    MAX_RECORD_CHARS. A line ends before the next starts: only one that far from the
    next, or the last, may be too long."""
    gaps = list(map(sub, starts[1:], starts))
    far: Iterator[int] = iter(())
    if gaps and max(gaps) > MAX_RECORD_CHARS:
        far = compress(starts, map(lt, repeat(MAX_RECORD_CHARS), gaps))
    for start in chain(far, starts[-1:]):
        if _line_end(block, start, high) - start > MAX_RECORD_CHARS:
            yield start
