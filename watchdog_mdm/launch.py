"""The command's entry point: answers ``-version`` at once, and hands everything else to
the command line.

``-version`` is what scripts and inventory tools run to see what is installed, often and
all at once; importing click alone takes about four times Python's own start-up, so
the answer is given before the command line (click and all) is loaded. Its output is
guarded like any other (streams.py): written nowhere, it exits 6 with the same line.
"""

from __future__ import annotations

import gc
import sys

from watchdog_mdm import __version__

__all__ = ["main"]

VERSION_ARGUMENTS = (["-version"], ["--version"])


def main() -> None:
    """Print the version when that is all that was asked; otherwise run the command line."""
    if sys.argv[1:] in VERSION_ARGUMENTS:
        from watchdog_mdm.streams import GuardedStreams  # noqa: PLC0415

        streams = GuardedStreams()
        print(__version__)
        sys.exit(streams.exit_status(0))
    # Loading click and the command line makes objects that live as long as the process,
    # not garbage: the collector, which walked them again and again (3 ms), waits, and
    # then leaves them out of its collections.
    gc.disable()
    try:
        from watchdog_mdm.cli import main as command_line  # noqa: PLC0415 - loads click
    finally:
        gc.freeze()
        gc.enable()
    command_line()
