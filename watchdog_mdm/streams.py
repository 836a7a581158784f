"""Standard output and error that cannot end a run.

Output on a full disk (``> /dev/full``), a closed pipe, a failing device or a descriptor
closed from the start (``>&-``) must not cost what the run did: by the time anything is
printed, a `-heal` run has restarted what it restarted and saved it. So write failures
are remembered instead of raised, the rest of the output is dropped, the run ends as it
would have, and the command line then reports the failure in one line and with its own
exit status. Nothing is left in a buffer for the interpreter to fail on (and complain
about) at exit.

Kept apart from the command line and from system.py: importing either costs more than
``-version`` takes in all (launch.py answers it with this module alone).
"""

from __future__ import annotations

import io
import os
import sys

from watchdog_mdm import PROG

# typing is not imported: it costs `-version` a fifth of Python's start-up. Type checkers
# take any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from _typeshed import ReadableBuffer


__all__ = ["EXIT_OUTPUT", "GuardedStreams"]

EXIT_OUTPUT = 6


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

    def exit_status(self, code: int) -> int:
        """The exit status, once all the output was tried: a status the run chose stands;
        a run that ended well but could not say so exits 6. Either way, a lost output is
        said in one line on standard error."""
        error = self.output_error()
        if error is None:
            return code
        reason = error.strerror or str(error)
        if sys.stderr is not None:
            print(
                f"{PROG}: error: could not write the output: {reason}; "
                "what the run did stands (a -heal run is recorded in state.json)",
                file=sys.stderr,
                flush=True,
            )
        return EXIT_OUTPUT if code == 0 else code


def _guard(name: str) -> _Guarded | None:
    stream: TextIO | None = getattr(sys, name)
    if stream is None:  # started with the descriptor closed (`>&-`): Python gave up on it
        held = _hold_closed(_DESCRIPTORS[name])
        return _replace(name, _Guarded(held), "utf-8", "backslashreplace")
    try:
        fd = stream.fileno()
        stream.flush()
    except (OSError, ValueError):  # not a real descriptor (a test's capture): leave it
        return None
    return _replace(name, _Guarded(fd), stream.encoding, stream.errors, bool(stream.line_buffering))


_DESCRIPTORS = {"stdout": 1, "stderr": 2}


def _hold_closed(fd: int) -> int:
    """``fd``, which was closed, taken by /dev/null opened for reading only: no file the
    run opens gets it (to be written over as standard output, or handed to a child as
    one), and every write to it fails (EBADF), so output that had nowhere to go is
    reported like any other that could not be written."""
    held = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    if held == fd:
        return fd
    try:
        os.fstat(fd)
    except OSError:  # still closed (a lower descriptor was too): take it
        os.dup2(held, fd, inheritable=False)
        os.close(held)
        return fd
    return held  # already someone's: leave it to them, and fail writes just the same


def _replace(
    name: str, raw: _Guarded, encoding: str, errors: str | None, line_buffering: bool = False
) -> _Guarded:
    setattr(
        sys,
        name,
        io.TextIOWrapper(
            io.BufferedWriter(raw),
            encoding=encoding,
            errors=errors,
            line_buffering=line_buffering,
        ),
    )
    return raw
