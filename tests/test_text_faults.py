"""Issue 14: text from the log is made encodable where it enters, so no renderer
(`--explain`, `--json`, the `-heal` line, state.json) can fail on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import heal, saved_state
from tests.test_client_state import (
    HUNG,
    IDLE,
    MINUTE,
    OK,
    SENT,
    analyze,
    live_mac,
    mdm,
    restarted_mdmclient,
    row,
)
from watchdog_mdm.entries import EntryParser

SURROGATE = "\udc80"
UNSAFE = re.compile(
    "[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e"
    "\\u2066-\\u2069\\ud800-\\udfff]"
)


def strings(value: object) -> Iterator[str]:
    """Every string in a parsed JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def assert_safe(text: str) -> None:
    found = UNSAFE.findall(text)
    assert not found, [hex(ord(c)) for c in found]


# The idle Mac, its newest exchange's message carrying ``bad`` at both ends.
def idle_with(bad: str) -> list[Any]:
    return [*IDLE[:-1], (IDLE[-1][0], mdm(f"{bad} {OK} {bad}"), IDLE[-1][2])]


class TestLoneSurrogates:
    def test_an_entry_from_a_record_is_encodable(self) -> None:
        record = {
            "timestamp": "2026-11-25 12:00:00.000000+0000",
            "eventMessage": f"{SURROGATE} hello",
            "processImagePath": f"/usr/libexec/mdm{SURROGATE}client",
            "subsystem": f"com.apple{SURROGATE}",
            "category": SURROGATE,
        }
        entry = EntryParser().from_line(json.dumps(record))
        assert entry is not None
        assert entry.message == "\ufffd hello"
        for text in (entry.message, entry.process, entry.subsystem, entry.category):
            text.encode()
        assert entry.image_path == "/usr/libexec/mdm\ufffdclient"

    @pytest.mark.parametrize("output", ["--json", "--explain"])
    def test_analyze_shows_a_replacement_character(self, tmp_path: Path, output: str) -> None:
        result = analyze(tmp_path, "ndjson", idle_with(SURROGATE), output)
        assert result.exit_code == 0, result.output
        assert "\ufffd" in result.output
        assert_safe(result.output)
        if output == "--json":
            assert "MDMClientStuck" in json.loads(result.output)

    def test_heal_prints_its_result_and_records_the_run(self) -> None:
        rows = [*HUNG[:-1], row(12 * MINUTE, mdm(f"{SURROGATE} {SENT}"))]
        system = live_mac(rows)
        result = heal(system, "--json")
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        assert document["MDMClientRestarted"] is True
        assert restarted_mdmclient(system)
        assert_safe(result.output)
        state = saved_state(system)
        assert state.get("last_run")
        for text in strings(state):
            assert_safe(text)
