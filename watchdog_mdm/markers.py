"""Finding marker bytes in large buffers: where, in a block of log output, any of a few
wordings occurs.

This is the hot loop of reading a day of log: every byte passes through it, and only
the lines it points at are decoded. With ``ahocorasick_rs`` (a dependency) all markers
are found in one pass by Rust's SIMD "Teddy" searcher, at about the speed of
``grep -F``. Without it (a Python it has no wheel for) the same positions are found by
one ``bytes.find`` pass per marker, several times slower but identical in result: the
tests hold the two to that. Both searches are public, so that a caller (the tests) can
choose one; :func:`marker_search` gives the fastest this Python has.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import compress, repeat
from operator import add, eq, itemgetter, ne, not_
from typing import Protocol

__all__ = ["Haystack", "MarkerSearch", "OnePass", "PassPerMarker", "marker_search"]


class Haystack(Protocol):
    """What is searched: bytes, a bytearray, or a read-only memory map of a file."""

    def __len__(self) -> int: ...
    def find(self, sub: bytes, start: int = ..., end: int = ..., /) -> int: ...


class MarkerSearch(Protocol):
    """Where markers start in ``haystack[low:high]``, in ascending order.

    Overlapping occurrences may be reported once: a caller wants the lines that hold a
    marker, and markers never span lines.
    """

    def starts(self, haystack: Haystack, low: int, high: int) -> list[int]: ...

    def starts_apart(
        self, haystack: Haystack, low: int, high: int, apart: tuple[int, ...]
    ) -> tuple[list[int], list[list[int]]]:
        """starts() of the markers but those whose indexes are ``apart``, and the starts
        of each of those, in the same pass."""
        ...


class OnePass:
    """All markers in one SIMD pass (ahocorasick_rs, leftmost-first: the kind that lets
    it use its packed "Teddy" prefilter; standard matching searched ten times slower)."""

    def __init__(self, markers: Sequence[bytes]) -> None:
        import ahocorasick_rs  # noqa: PLC0415 - only scanning needs it; and it may be absent

        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            list(markers), matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST
        )

    def starts(self, haystack: Haystack, low: int, high: int) -> list[int]:
        with memoryview(haystack) as view, view[low:high] as window:  # type: ignore[arg-type]
            return [low + start for _, start, _ in self._automaton.find_matches_as_indexes(window)]

    def starts_apart(
        self, haystack: Haystack, low: int, high: int, apart: tuple[int, ...]
    ) -> tuple[list[int], list[list[int]]]:
        with memoryview(haystack) as view, view[low:high] as window:  # type: ignore[arg-type]
            found = self._automaton.find_matches_as_indexes(window)
        # by C-level maps, not a loop: this runs for every marker found
        positions = map(itemgetter(1), found)
        starts = list(map(add, positions, repeat(low)) if low else positions)
        indexes = list(map(itemgetter(0), found))
        # (a marker above the highest index found is not looked for among them)
        top = max(indexes, default=-1)
        present = [marker for marker in apart if marker <= top and marker in indexes]
        if not present:
            return starts, [[] for _ in apart]
        if len(present) == 1:  # (nearly always: the progress marker)
            rest = list(compress(starts, map(ne, indexes, repeat(present[0]))))
        else:
            rest = list(compress(starts, map(not_, map(apart.__contains__, indexes))))
        return rest, [
            list(compress(starts, map(eq, indexes, repeat(marker)))) if marker in present else []
            for marker in apart
        ]


class PassPerMarker:
    """One ``bytes.find`` pass per marker: the standard library's fallback."""

    def __init__(self, markers: Sequence[bytes]) -> None:
        self._markers = tuple(markers)

    def starts(self, haystack: Haystack, low: int, high: int) -> list[int]:
        return self.starts_apart(haystack, low, high, ())[0]

    def starts_apart(
        self, haystack: Haystack, low: int, high: int, apart: tuple[int, ...]
    ) -> tuple[list[int], list[list[int]]]:
        found: list[int] = []
        aside: list[list[int]] = [[] for _ in apart]
        for index, text in enumerate(self._markers):
            these = aside[apart.index(index)] if index in apart else found
            at = haystack.find(text, low, high)
            while at != -1:
                these.append(at)
                at = haystack.find(text, at + len(text), high)
        found.sort()
        for these in aside:
            these.sort()
        return found, aside


@lru_cache(maxsize=8)
def marker_search(markers: tuple[bytes, ...]) -> MarkerSearch:
    """The fastest search for ``markers`` this Python has: :class:`OnePass` where
    ahocorasick_rs is installed, else :class:`PassPerMarker`."""
    if not markers or b"" in markers:
        raise ValueError("markers must be non-empty byte strings")
    try:
        return OnePass(markers)
    except ImportError:
        return PassPerMarker(markers)
