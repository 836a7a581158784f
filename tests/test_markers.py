"""Finding markers: the one-pass SIMD search and the standard library's fallback point at
exactly the lines that hold a marker, in any bytes, in bytes, bytearrays and memory maps."""

from __future__ import annotations

import mmap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_mdm import patterns
from watchdog_mdm.markers import OnePass, PassPerMarker, marker_search

MARKERS = patterns.RELEVANT_MARKERS
# Pieces that make near misses and overlaps likely: markers, their halves, line ends.
PIECES = st.sampled_from(
    [
        *MARKERS,
        *(m[: len(m) // 2] for m in MARKERS),
        *(m[len(m) // 2 :] for m in MARKERS),
        b"\n",
        b"\r\n",
        b" ",
        b"Received HTTP response (200)Received",
        b"\xff\xfe",
        b"(",
    ]
)
HAYSTACKS = st.lists(st.one_of(PIECES, st.binary(max_size=12)), max_size=40).map(b"".join)


def lines_with_a_marker(data: bytes) -> set[int]:
    """Offsets of the line starts whose line holds a marker, the slow obvious way."""
    starts, offset = set(), 0
    for line in data.split(b"\n"):
        if any(m in line for m in MARKERS):
            starts.add(offset)
        offset += len(line) + 1
    return starts


def line_start(data: bytes, at: int) -> int:
    return data.rfind(b"\n", 0, at) + 1


def test_the_one_pass_search_is_used_when_ahocorasick_rs_is_installed() -> None:
    assert isinstance(marker_search(MARKERS), OnePass)


@settings(max_examples=400, deadline=None)
@given(HAYSTACKS, st.integers(0, 50), st.integers(0, 50))
def test_both_searches_point_at_every_line_holding_a_marker(
    data: bytes, trim_low: int, trim_high: int
) -> None:
    low, high = min(trim_low, len(data)), max(min(trim_low, len(data)), len(data) - trim_high)
    window = data[low:high]
    for search in (OnePass(MARKERS), PassPerMarker(MARKERS)):
        starts = search.starts(data, low, high)
        assert starts == sorted(starts)
        assert all(
            any(data.startswith(m, at) and at + len(m) <= high for m in MARKERS) for at in starts
        )
        assert all(at >= low for at in starts)
        found = {line_start(window, at - low) for at in starts}
        assert found == lines_with_a_marker(window)


def test_bytearrays_and_memory_maps_are_searched_in_place(tmp_path: Path) -> None:
    data = b"chatter\n" * 1000 + b"x Received HTTP response (200) y\n" + b"tail\n"
    path = tmp_path / "export"
    path.write_bytes(data)
    expected = [data.index(b"Received")]
    buffer = bytearray(data)
    with (
        path.open("rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
    ):
        for haystack in (data, buffer, mapped):
            assert marker_search(MARKERS).starts(haystack, 0, len(data)) == expected
    buffer.extend(b"more")  # no export of the buffer is left behind to block a resize


def test_empty_markers_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        marker_search((b"x", b""))
