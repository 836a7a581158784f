"""Parsing JSON records: orjson where installed, and the reader gets exactly the entries
the standard library's parser gives it, for any record and any damage."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.reference_reader import ReferenceReader
from watchdog_mdm.entries import EntryParser
from watchdog_mdm.json_records import RecordParser, record_parser, standard_parser

FAST, STANDARD = record_parser(), standard_parser

# Everything JSON can hold, and what only Python's json writes: NaN and infinities,
# integers of any size, lone surrogates (escaped as \ud800).
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = (
    "timestamp",
    "eventMessage",
    "composedMessage",
    "processImagePath",
    "process",
    "processID",
    "subsystem",
    "category",
    "messageType",
)  # all the reader takes


def test_orjson_is_used_when_it_is_installed() -> None:
    assert FAST is not standard_parser
    assert EntryParser.record_parser() is FAST


class StandardJson(EntryParser):
    """An entry parser that reads JSON records with the standard library's parser."""

    @staticmethod
    def record_parser() -> RecordParser:
        return standard_parser


def reader(fast_json: bool) -> ReferenceReader:
    return ReferenceReader() if fast_json else ReferenceReader(parser=StandardJson())


def _within_64_bits(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**64
    if isinstance(value, list):
        return all(map(_within_64_bits, value))
    if isinstance(value, dict):
        return all(map(_within_64_bits, value.values()))
    return True


@given(st.dictionaries(st.text(max_size=8), VALUES, max_size=6))
def test_every_object_is_read_as_the_standard_library_reads_it(record: dict[str, Any]) -> None:
    text = json.dumps(record)
    fast, standard = FAST(text), STANDARD(text)
    if _within_64_bits(record):  # past that orjson gives a float; see the reader's test
        assert json.dumps(fast) == json.dumps(standard)  # NaN equals itself as text
    else:
        assert fast is not None


@given(st.text(max_size=60).map(lambda t: "{" + t))
def test_damaged_text_is_refused_by_both_or_neither(text: str) -> None:
    assert (FAST(text) is None) == (STANDARD(text) is None)


def test_refused_by_orjson_but_read_by_the_standard_library() -> None:
    for text in ('{"a": NaN}', '{"a": -Infinity}', '{"a": 1e400}', '{"a": "\\ud800"}'):
        assert FAST(text) is not None
        assert json.dumps(FAST(text)) == json.dumps(STANDARD(text))
    assert FAST('{"a": ' + "[" * 100_000) is None  # too deep for either: not a crash
    assert FAST("[1, 2]") is None  # JSON, but not a record


NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).isoformat(sep=" ")


# Mostly readable records (a time and a message), with any value in any field.
FIELD_VALUES = st.one_of(VALUES, st.integers(2**63, 2**80), st.integers(-(2**80), 2**40))
RECORDS = st.fixed_dictionaries(
    {"timestamp": st.one_of(st.just(NOW), VALUES), "eventMessage": st.one_of(st.text(), VALUES)},
    optional=dict.fromkeys(FIELDS[2:], FIELD_VALUES),
)


@given(RECORDS, st.sampled_from(["ndjson", "pretty"]))
def test_the_reader_gets_the_same_entries_from_either_parser(
    record: dict[str, Any],
    style: str,
) -> None:
    if style == "pretty":
        lines = ["[{", *json.dumps(record, indent=2).splitlines()[1:-1], "}]"]
    else:
        lines = [json.dumps(record, separators=(",", ":"))]
    fast = list(reader(fast_json=True).read(lines))
    standard = list(reader(fast_json=False).read(lines))
    assert fast == standard


def test_a_pid_is_a_32_bit_pid_or_none() -> None:
    for pid, read in (
        (1057, 1057),
        (0, 0),
        (2**31 - 1, 2**31 - 1),
        (2**31, None),
        (-1, None),
        (2**70, None),
        (True, None),
        (10.0, None),
        ("1057", None),
    ):
        line = json.dumps({"timestamp": NOW, "eventMessage": "m", "processID": pid})
        for fast_json in (True, False):
            (entry,) = reader(fast_json).read([line])
            assert entry.pid == read, (pid, fast_json)
