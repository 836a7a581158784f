"""Micro-benchmark: what building a LogEntry costs, through its constructor and straight
from a tuple (as watchdog_mdm/entries.py does).

    python tests/perf/entry_build.py [--number 1000000] [--rounds 9]

The scanner builds one entry per candidate line: 53,383 in the 200 MB compact export of
tests/perf/bench.py, about 10,500 in the ndjson one.
"""

from __future__ import annotations

import argparse
import timeit
from datetime import UTC, datetime
from functools import partial

from watchdog_mdm.entries import LogEntry

FIELDS = (
    "mdmclient",
    "[0:MDMDaemon:HTTPUtil:<0x2fdb>] <<<<< Received HTTP response (200)",
    "com.apple.ManagedClient",
    "HTTPUtil",
    "Default",
    1057,
    "/usr/libexec/mdmclient",
    0,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    # as entries.py builds every entry
    from_tuple = partial(tuple.__new__, LogEntry)
    names = {
        "new_entry": from_tuple,
        "LogEntry": LogEntry,
        "timestamp": datetime(2026, 11, 25, tzinfo=UTC),
        "fields": FIELDS,
    }
    ways = {
        "LogEntry(...)": "LogEntry(timestamp, *fields)",
        "from a tuple": "new_entry((timestamp, *fields))",
    }
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(args.rounds):  # in turn, so that a slow spell falls on both alike
        for label, statement in ways.items():
            best[label] = min(
                best[label], timeit.timeit(statement, globals=names, number=args.number)
            )
    for label, seconds in best.items():
        print(
            f"{label:14} {seconds / args.number * 1e6:.3f} us an entry (fastest of {args.rounds})"
        )


if __name__ == "__main__":
    main()
