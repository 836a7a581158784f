"""Where the records of a JSON array are, whatever tool laid the array out.

`log show --style json` opens and closes each record at the start of a line, which lets
framing.py find the records holding a marker without parsing anything. An export that
went through another tool does not: `jq .` indents the records, ``json.dumps`` may
write the whole array on one line. Such an array is delimited here element by element
by the standard library's JSON scanner, run over the bytes read as Latin-1: one
character a byte, so its positions are byte offsets, and the UTF-8 inside strings passes
through untouched. That reads every byte of the array as JSON, several times slower
than the marker search, but only for such arrays. Memory stays bounded: what is kept
between chunks is one element cut short, at most MAX_RECORD_CHARS of it.
"""

from __future__ import annotations

import json
import re

from watchdog_mdm.framing import MAX_RECORD_CHARS, Buffer

__all__ = ["ArrayElements", "looks_like_json_array"]

# Between elements: white space and the commas that separate them.
_BETWEEN = re.compile(r"[ \t\r\n,]*")
_DECODER = json.JSONDecoder()
# A literal cut short ("fals", "-") is reported where it starts, not at the end.
_CUT_SHORT_SLACK = 6


def looks_like_json_array(head: bytes | bytearray) -> bool:
    """Whether output is a JSON array of records laid out otherwise than `log show --style
    json` does: "[" then "{", but not "[{" alone on the first line, nor "[" then "{" alone
    at the start of the second (log show's own layout, which framing.py reads)."""
    text = bytes(head[:4096]).lstrip(b" \t\r\n")
    if text[:1] != b"[" or text[1:].lstrip()[:1] != b"{":
        return False
    first, _, rest = text.partition(b"\n")
    if first.rstrip() == b"[{":
        return False
    return not (first.rstrip() == b"[" and rest.partition(b"\n")[0].rstrip() == b"{")


class ArrayElements:
    """The elements of one JSON array, found in its bytes as they come, in chunks.

    ``broken`` counts what was skipped because it was not JSON.
    """

    def __init__(self) -> None:
        self._pending = b""  # an element cut short by the end of the last chunk
        self._opened = False
        self.broken = 0

    def feed(self, chunk: Buffer | None) -> tuple[bytes, list[tuple[int, int]], int | None]:
        """Take the next chunk (None: the input ended). Returns the bytes the elements are
        in, the start and end of each complete element, and where the array closed (just
        after its "]"), or None while it is still open."""
        final = chunk is None
        data = self._pending + (b"" if chunk is None else bytes(chunk[:]))
        self._pending = b""
        text = data.decode("latin-1")
        pos = 0
        if not self._opened:
            pos = text.find("[") + 1  # the caller found the array opening here
            self._opened = True
        spans: list[tuple[int, int]] = []
        while True:
            pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]  # always matches
            if pos >= len(text):
                return data, spans, None
            if text[pos] == "]":
                return data, spans, pos + 1
            if text[pos] != "{":
                self.broken += 1
                pos = _next_opening(text, pos + 1)
                continue
            try:
                _, end = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                if not final and _cut_short(exc, len(text)):
                    if len(text) - pos <= MAX_RECORD_CHARS:
                        self._pending = data[pos:]
                    else:
                        self.broken += 1  # far too long for a record: dropped
                    return data, spans, None
                self.broken += 1
                # what the scanner read before it failed was JSON: no element opens in it
                pos = len(text) if exc.msg.startswith("Unterminated") else max(exc.pos, pos + 1)
                pos = _next_opening(text, pos)
                continue
            except RecursionError:  # absurdly nested: nothing in the rest is worth the cost
                self.broken += 1
                return data, spans, None
            spans.append((pos, end))
            pos = end


def _cut_short(exc: json.JSONDecodeError, length: int) -> bool:
    return exc.pos >= length - _CUT_SHORT_SLACK or exc.msg.startswith("Unterminated string")


def _next_opening(text: str, pos: int) -> int:
    found = text.find("{", pos)
    return len(text) if found == -1 else found
