"""Parsing the JSON records of ``log show`` output: an ndjson line, or a pretty record.

After the marker search (markers.py) this is the hot loop of reading JSON styles: every
record that holds a marker is parsed whole. With ``orjson`` (a dependency; universal2
and manylinux wheels) a record of ``--style ndjson`` (about 800 bytes, 25 keys) parses
in about 2 µs instead of the standard library's 6.5 µs, and its objects are freed
faster. orjson is stricter: it refuses NaN, 1e400 and lone surrogate escapes, and
nesting past 1,024 levels; what it refuses is handed to the standard parser, so nothing
the standard library can read is lost. It also reads integers past 64 bits as floats;
the one number the reader takes, the pid, must be a 32-bit pid_t either way. The tests
hold the reader to the same entries with either parser: :func:`record_parser` gives the
fastest this Python has, :func:`standard_parser` is the standard library's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["RecordParser", "record_parser", "standard_parser"]

# The record as a dict, or None if the text is not one JSON object.
RecordParser = Callable[[str], "dict[str, Any] | None"]


def standard_parser(text: str) -> dict[str, Any] | None:
    """The record in ``text`` as the standard library's json reads it, or None."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested garbage
        return None
    return value if isinstance(value, dict) else None


def _fast() -> RecordParser:
    from orjson import loads  # noqa: PLC0415 - may be absent: then the standard parser

    def parse(text: str) -> dict[str, Any] | None:
        try:
            value = loads(text)
        except ValueError:  # orjson.JSONDecodeError: perhaps only too strict for it
            return standard_parser(text)
        return value if isinstance(value, dict) else None

    return parse


@lru_cache(maxsize=1)
def record_parser() -> RecordParser:
    """The fastest record parser this Python has: orjson's where it is installed (with
    the standard library's for what it refuses), else :func:`standard_parser`."""
    try:
        return _fast()
    except ImportError:
        return standard_parser
