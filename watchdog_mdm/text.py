"""Untrusted text made safe to show: log messages and other programs' error output.

Whatever mdmclient, softwareupdated, launchctl or a tampered state file wrote is only
ever matched, never interpreted; before it reaches a terminal, a log or an extension
attribute, its control characters are replaced, so it cannot move a cursor, hide text
or reorder a line.
"""

from __future__ import annotations

import re

__all__ = ["one_line", "printable"]

# C0 and C1 controls (tab and newline included: shown text is one line), DEL, and the
# bidirectional marks, embeddings, overrides and isolates.
_UNPRINTABLE = re.compile(
    "[\\x00-\\x1f\\x7f-\\x9f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]"
)


def printable(text: str) -> str:
    """``text`` with every control character replaced by U+FFFD."""
    return _UNPRINTABLE.sub("\ufffd", text)


def one_line(text: str, limit: int) -> str:
    """White space folded to single spaces, controls replaced, cut at ``limit``."""
    return printable(" ".join(text.split()))[:limit]
