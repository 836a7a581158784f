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

A record's :func:`layout_of` is its text cut around the values that change from one
record of a program's call site to the next (the time, the message, counters): the
records softwareupdated writes several times a second during an update are read by
the layout of one parsed whole (:func:`layout_values`), without parsing them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = [
    "Layout",
    "RecordParser",
    "layout_of",
    "layout_values",
    "record_parser",
    "standard_parser",
]

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


# ---------------------------------------------------------------- layouts of records
#
# softwareupdated reports progress several times a second, in records alike but for a
# few values (the time, the message, counters): parsing each whole (25 keys, and a
# nested backtrace, made and freed) is most of what reading an updating Mac's log costs.
# A record read whole once gives a layout: its text cut around those values. A record
# that is that text with other values in those places, each a plain string or a plain
# number, is what the parsers would read as the first record with those values: the
# rest is the same text, character for character.

# Number values, taken only up to 18 digits: any parser reads those as the same int.
# Both patterns never give back what they took (atomic, possessive): a record that starts
# like a layout and does not fit it would otherwise be tried with every way of sizing each
# hole, for minutes on a long message. None is lost: in a record that fits, a text hole
# ends at a quote and a number hole at a character that is no digit.
_NUMBER = "(?>0|[1-9][0-9]{0,17})"
# String values taken: printable ASCII without quote or backslash, so without escapes:
# the text is the value.
_PLAIN = r"[ !#-\[\]-~]*+"
# The standard library's scanner of one JSON value: (value, where its text ends).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_WHITESPACE = " \t\n\r"


# The text of a record, cut around some of its top-level values (its holes): the text
# before the first hole; a pattern for what follows it, each hole and then as many
# characters as follow it; the text before, between and after the holes, "" for each
# hole; and the key of each hole. A tuple, not a class: a NamedTuple or a dataclass would
# cost every start of the program a third of a millisecond or more, for what only logs
# with progress records use.
Layout = tuple[str, re.Pattern[str], tuple[str, ...], tuple[str, ...]]


def layout_values(layout: Layout, text: str) -> tuple[str, ...] | None:
    """The text in each of the layout's holes, if ``text`` is the layout's text with plain
    values in its holes: a string of printable ASCII without quote or backslash (its
    text is its value), or a number without sign, fraction or exponent. None otherwise.

    One match finds the holes (the text between them only counted: a pattern holding it
    costs milliseconds to compile, one per layout learnt), one comparison proves the rest
    the layout's text."""
    head, holes, parts, _ = layout
    if not text.startswith(head):
        return None
    match = holes.fullmatch(text, len(head))
    if match is None:
        return None
    values = match.groups()
    whole = [*parts]
    whole[1::2] = values
    return values if "".join(whole) == text else None


def layout_of(text: str, hole_keys: frozenset[str]) -> Layout | None:
    """The layout of a JSON object's text with a hole for each top-level value of
    ``hole_keys`` that is plain (see layout_values); None if the text is not one object
    (read by the standard library's scanner, token by token) or names a key twice."""
    members = _members(text)
    if members is None or len({key for key, *_ in members}) < len(members):
        return None
    holes: list[tuple[int, int, str, bool]] = []
    for key, start, end, value in members:
        if key in hole_keys:
            raw = text[start:end]
            # (compiled when first learnt from, and kept, by re: importing costs nothing)
            if type(value) is str and raw == f'"{value}"' and re.fullmatch(_PLAIN, value):
                holes.append((start + 1, end - 1, key, False))
            elif type(value) is int and re.fullmatch(_NUMBER, raw):
                holes.append((start, end, key, True))
    return _cut(text, holes)


def _members(text: str) -> list[tuple[str, int, int, object]] | None:
    """Each top-level member of the object in ``text``: its key, where its value's text
    starts and ends, and the value; None if the text is not one object."""
    members: list[tuple[str, int, int, object]] = []
    at = _skip(text, 0)
    if text[at : at + 1] != "{":
        return None
    at = _skip(text, at + 1)
    while text[at : at + 1] == '"':
        try:
            key, at = _scan(text, at)
            colon = _skip(text, at)
            start = _skip(text, colon + 1)
            value, end = _scan(text, start)
        except (StopIteration, ValueError, RecursionError):
            return None
        if text[colon : colon + 1] != ":":
            return None
        members.append((key, start, end, value))
        at = _skip(text, end)
        if text[at : at + 1] == "}":
            return members if _skip(text, at + 1) == len(text) else None
        if text[at : at + 1] != ",":
            return None
        at = _skip(text, at + 1)
    return None


def _skip(text: str, at: int) -> int:
    while text[at : at + 1] and text[at] in _WHITESPACE:
        at += 1
    return at


def _cut(text: str, holes: list[tuple[int, int, str, bool]]) -> Layout:
    pattern, parts, before = [], [], 0
    for start, end, _, number in holes:
        if before:
            pattern.append(f".{{{start - before}}}")
        pattern.append(f"({_NUMBER if number else _PLAIN})")
        parts += [text[before:start], ""]
        before = end
    pattern.append(f".{{{len(text) - before}}}" if holes else "")
    parts.append(text[before:])
    head = text[: holes[0][0]] if holes else text
    keys = tuple(key for _, _, key, _ in holes)
    return head, re.compile("".join(pattern), re.DOTALL), tuple(parts), keys
