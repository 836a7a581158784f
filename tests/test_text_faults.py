"""Issue 14: text from the log and from `profiles` is made encodable and printable where
it enters, so no renderer (`--explain`, `--json`, the `-heal` line, state.json) can fail
on it or show it raw; and times of year 1 print as Go prints them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.support import ENROLLED, Reply, heal, saved_state
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
from watchdog_mdm.report import go_time
from watchdog_mdm.text import one_line, printable

SURROGATE = "\udc80"
# bidi marks, embeddings, overrides and isolates, and C1 controls (CSI among them)
BIDI_AND_C1 = "\u061c\u200e\u200f\u202a\u202e\u2066\u2067\u2068\u2069\u0080\u0085\u009b\u009f"
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


class TestControls:
    def test_printable_replaces_every_bidi_and_c1_control(self) -> None:
        text = printable(f"a{BIDI_AND_C1}{SURROGATE}b")
        assert text == "a" + "\ufffd" * (len(BIDI_AND_C1) + 1) + "b"
        assert one_line("x \u061c\u009b y", 10) == "x \ufffd\ufffd y"

    def test_printable_replaces_the_controls_and_unsafe_characters_and_nothing_else(
        self,
    ) -> None:
        every = "".join(map(chr, range(0x110000)))
        shown = "[\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2028\\u2029"
        expected = re.sub(f"{shown}\\u2066-\\u2069\\ud800-\\udfff]", "\ufffd", every)
        assert printable(every) == expected

    @pytest.mark.parametrize("output", ["--json", "--explain"])
    def test_log_text_reaches_no_output_raw(self, tmp_path: Path, output: str) -> None:
        result = analyze(tmp_path, "ndjson", idle_with(BIDI_AND_C1), output)
        assert result.exit_code == 0, result.output
        assert_safe(result.output)
        assert "\ufffd" in result.output

    @pytest.mark.parametrize("style", ["default", "compact", "syslog", "json"])
    def test_no_style_lets_controls_through(self, tmp_path: Path, style: str) -> None:
        result = analyze(tmp_path, style, idle_with(BIDI_AND_C1), "--json")
        assert result.exit_code == 0, result.output
        assert_safe(result.output)

    def test_profiles_output_reaches_no_output_or_state_raw(self) -> None:
        system = live_mac(HUNG)
        profiles = ENROLLED + (
            "MDM server: https://mdm.example.com/\u202eevil\u009b[2J\u061c/mdm\n".encode()
        )
        system.reply("/usr/bin/profiles", Reply(profiles))
        for output in ("--json", "--explain"):
            result = heal(system, output)
            assert result.exit_code == 0, result.output
            assert_safe(result.output)
            assert "mdm.example.com" in result.output
        state = saved_state(system)
        assert "mdm.example.com" in json.dumps(state)
        for text in strings(state):
            assert_safe(text)


class TestYearOne:
    @pytest.mark.parametrize(
        ("value", "shown"),
        [
            (
                datetime(1, 1, 2, 0, 0, tzinfo=timezone(timedelta(hours=23, minutes=59))),
                "0001-01-02 00:00:00 +2359 +2359",
            ),
            (datetime(1, 1, 1, 0, 0, 0, 500000, tzinfo=UTC), "0001-01-01 00:00:00.5 +0000 UTC"),
            (datetime(999, 3, 4, 5, 6, 7, tzinfo=UTC), "0999-03-04 05:06:07 +0000 UTC"),
        ],
    )
    def test_a_four_digit_year(self, value: datetime, shown: str) -> None:
        assert go_time(value) == shown
