"""Standard output and error that cannot end a run.

Output on a full disk (``> /dev/full``), a closed pipe or a failing device must not cost
what the run did: by the time anything is printed, a `-heal` run has restarted what it
restarted and saved it. So write failures are remembered instead of raised, the rest of
the output is dropped, the run ends as it would have, and the command line then reports
the failure in one line and with its own exit status. Nothing is left in a buffer for
the interpreter to fail on (and complain about) at exit.

Kept apart from the command line and from system.py: importing either costs more than
``-version`` takes in all.
"""

from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["GuardedStreams"]


class _Guarded(io.RawIOBase):
    """A descriptor to write to, which takes every write and remembers the first
    failure; after it, the rest is dropped (a half-written result is not one)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data)
        if self.error is None:
            try:
                return os.write(self.fd, view)
            except OSError as exc:
                self.error = exc
        return view.nbytes


class GuardedStreams:
    """Puts guarded standard output and error in place for the rest of the process."""

    def __init__(self) -> None:
        self._stdout = _guard("stdout")
        _guard("stderr")  # where a failure could not even be reported: dropped

    def output_error(self) -> OSError | None:
        """Why standard output could not be written, once all of it was tried."""
        if sys.stdout is not None:
            sys.stdout.flush()  # never raises: see _Guarded
        return None if self._stdout is None else self._stdout.error


def _guard(name: str) -> _Guarded | None:
    stream: TextIO | None = getattr(sys, name)
    if stream is None:  # started with the descriptor closed: there is nothing to fail
        return None
    try:
        fd = stream.fileno()
        stream.flush()
    except (OSError, ValueError):  # not a real descriptor (a test's capture): leave it
        return None
    raw = _Guarded(fd)
    setattr(
        sys,
        name,
        io.TextIOWrapper(
            io.BufferedWriter(raw),
            encoding=stream.encoding,
            errors=stream.errors,
            line_buffering=bool(stream.line_buffering),
        ),
    )
    return raw
