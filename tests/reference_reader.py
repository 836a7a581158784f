"""The reference reader: every line of ``log show`` output parsed, one after another.

The program reads through the scanner (watchdog_mdm/scan.py), which parses only the lines
that hold a marker. This slow, obvious reader is what the tests hold the scanner to, and
how they read real lines into entries: it decodes every line and parses it with the same
:class:`EntryParser`, and collects the lines of pretty-printed JSON records itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, tzinfo

from watchdog_mdm.entries import EntryParser, LogEntry
from watchdog_mdm.framing import MAX_RECORD_CHARS

_TRAILER = re.compile(r'\{\s*"count"\s*:\s*\d+\s*,\s*"finished"\s*:\s*\d+\s*\}')
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_STRUCTURAL = frozenset("{}[],")
# A pretty-printed record has a few dozen lines; anything far longer is not one.
_MAX_RECORD_LINES = 2000
_RECORD_STARTS = frozenset({"[{", "{", "},{", ",{"})
# What one more line does to a pretty record: it wants more, is done, or was cut short
# by this line (BROKEN: read the line on its own; DROPPED: it was consumed).
_MORE, _DONE, _BROKEN, _DROPPED = "more", "done", "broken", "dropped"


class ReferenceReader:
    """Turns lines of ``log show`` output into entries, whatever the style.

    One reader may read several inputs in turn; its counters add up across them.
    ``parser`` reads each line or record (a subclass of EntryParser to compare one with).
    """

    def __init__(self, naive_tz: tzinfo = UTC, parser: EntryParser | None = None) -> None:
        self.naive_tz = naive_tz
        self.parser = parser or EntryParser(naive_tz)
        self.lines_read = 0
        self.lines_skipped = 0
        self.utf16_inputs = 0  # inputs that began with a UTF-16 byte-order mark

    @property
    def entries(self) -> int:
        return self.parser.entries

    @property
    def naive_timestamps(self) -> int:
        return self.parser.naive_timestamps

    def read(self, lines: Iterable[bytes | str]) -> Iterator[LogEntry]:
        """Yield every entry that can be read from ``lines``; skip the rest."""
        record: _PrettyRecord | None = None
        for line, stripped in self._decoded(lines):
            if record is not None:
                status = record.feed(line, stripped)
                if status is _MORE:
                    continue
                if status is _DONE:
                    entry = self._from_record(record.text(), record.source_lines)
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
                entry = self.parser.from_line(stripped)
                if entry is not None:
                    yield entry
                elif stripped:
                    self.lines_skipped += 1
        if record is not None:
            self.lines_skipped += record.source_lines

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

    def _from_record(self, text: str, lines: int) -> LogEntry | None:
        entry = self.parser.from_record(text)
        if entry is None:
            self.lines_skipped += lines
        return entry


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
        """Take one more line: _MORE, _DONE, _BROKEN or _DROPPED."""
        skeleton = _JSON_STRING.sub("", stripped)
        if self.depth == 1 and skeleton[:1] == "}" and set(skeleton) <= _STRUCTURAL:
            self.lines.append("}")
            self.source_lines += 1
            self.another_follows = "{" in skeleton[1:]  # "},{"
            return _DONE
        self.chars += len(line)
        too_big = len(self.lines) > _MAX_RECORD_LINES or self.chars > MAX_RECORD_CHARS
        if too_big or not _continues_record(stripped):
            return _BROKEN
        self.depth += sum(skeleton.count(c) for c in "{[") - sum(skeleton.count(c) for c in "}]")
        self.lines.append(line)
        self.source_lines += 1
        return _MORE if self.depth > 0 else _DROPPED

    def text(self) -> str:
        return "".join(self.lines)


def _continues_record(stripped: str) -> bool:
    """Whether a line can be part of a pretty-printed record.

    Inside one, every line is a ``"key" : value`` pair or bracket punctuation. Any other
    line (a complete ndjson object, a text-style entry, a new array) means the record was
    cut short, and that line must not be swallowed with it.
    """
    if stripped.startswith("[{") or (stripped.startswith('{"') and stripped.endswith("}")):
        return False
    return stripped[:1] in ('"', "{", "}", "[", "]", ",")
