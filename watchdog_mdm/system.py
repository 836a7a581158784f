"""The one seam between mdm-watchdog and the Mac it runs on.

Everything that touches the operating system lives here: running commands (by absolute
path, no shell, a fixed environment, a time limit), the clock, files, and the system
log. The rest of the program receives a :class:`System` and never imports ``os`` or
``subprocess`` for itself, so tests can pass a recording fake, and ``--system-root DIR``
can lay a whole fake Mac out in a folder: every absolute path is taken under ``root``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

__all__ = ["CommandError", "CommandResult", "MacSystem", "System"]

# Commands run with this environment and nothing inherited: a predictable PATH, and the
# C locale so that `profiles` and `log` print their English, parseable wording.
COMMAND_ENV = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C", "LC_ALL": "C"}
STDERR_CHARS = 300
# Lines longer than this are cut: no log line the checks need is anywhere near it, and
# it bounds the memory a garbage input can take.
MAX_LINE_BYTES = 1 << 20
SYSLOG_IDENT = "mdm-watchdog"


class CommandError(Exception):
    """A command could not be run, failed, or ran out of time. The message is one line."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: bytes
    stderr: bytes


class System(Protocol):
    """What mdm-watchdog needs from the operating system."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def has_command(self, path: str) -> bool:
        """Whether the macOS command at ``path`` can be run here."""
        ...

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        """Run a command to completion and capture its output."""
        ...

    def stream(self, argv: Sequence[str], *, timeout: float) -> Iterator[bytes]:
        """Run a command and yield its output line by line.

        Raises :class:`CommandError` (after the last line) when it fails or times out.
        """
        ...

    def read_bytes(self, path: str) -> bytes | None:
        """A file's content, or None when there is no such file."""
        ...

    def log_to_system(self, message: str) -> None:
        """Write one line to the system log under the process name mdm-watchdog."""
        ...


def _one_line(data: bytes) -> str:
    text = " ".join(data.decode("utf-8", "replace").split())
    return text[:STDERR_CHARS]


def _failure(name: str, returncode: int, stderr: bytes) -> CommandError:
    detail = _one_line(stderr)
    return CommandError(f"{name} exited with status {returncode}" + (f": {detail}" if detail
                                                                      else ""))


class MacSystem:
    """The real thing: this machine, optionally re-rooted under ``root``."""

    def __init__(self, root: Path | str = "/") -> None:
        self.root = Path(root)
        # A fake Mac under --system-root is a Mac as far as this tool is concerned.
        self.is_mac = sys.platform == "darwin" or self.root != Path("/")

    def path(self, path: str) -> Path:
        """Where an absolute macOS path lives on this machine."""
        return self.root / path.lstrip("/")

    def now(self) -> datetime:
        return datetime.now(UTC).astimezone()

    def has_command(self, path: str) -> bool:
        return self.is_mac and os.access(self.path(path), os.X_OK)

    def _argv(self, argv: Sequence[str]) -> list[str]:
        if not argv or not argv[0].startswith("/"):
            raise CommandError(f"refusing to run {argv[:1]!r}: commands need an absolute path")
        executable = self.path(argv[0])
        if not os.access(executable, os.X_OK):
            raise CommandError(f"{argv[0]} is missing or not executable")
        return [str(executable), *argv[1:]]

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        args = self._argv(argv)
        try:
            done = subprocess.run(
                args, stdin=subprocess.DEVNULL, capture_output=True, env=COMMAND_ENV,
                timeout=timeout, check=False, start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandError(f"{argv[0]} did not finish within {timeout:g} s") from exc
        except OSError as exc:
            raise CommandError(f"{argv[0]} could not be started: {exc.strerror}") from exc
        return CommandResult(done.returncode, done.stdout, done.stderr)

    def stream(self, argv: Sequence[str], *, timeout: float) -> Iterator[bytes]:
        args = self._argv(argv)
        # stderr goes to a file: a pipe nobody reads could fill up and hang the command.
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                    env=COMMAND_ENV, start_new_session=True,
                )
            except OSError as exc:
                raise CommandError(f"{argv[0]} could not be started: {exc.strerror}") from exc
            timed_out = threading.Event()

            def stop() -> None:
                timed_out.set()
                _kill_group(process)

            timer = threading.Timer(timeout, stop)
            timer.daemon = True
            timer.start()
            try:
                assert process.stdout is not None
                while line := process.stdout.readline(MAX_LINE_BYTES):
                    yield line
                returncode = process.wait()
            finally:
                timer.cancel()
                if process.poll() is None:  # the reader stopped early, or failed
                    _kill_group(process)
                    process.wait()
                if process.stdout is not None:
                    process.stdout.close()
            if timed_out.is_set():
                raise CommandError(f"{argv[0]} did not finish within {timeout:g} s")
            if returncode != 0:
                errors.seek(0)
                raise _failure(argv[0], returncode, errors.read(64 * 1024))

    def read_bytes(self, path: str) -> bytes | None:
        try:
            return self.path(path).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def log_to_system(self, message: str) -> None:
        # Goes to the unified log on macOS; where there is no syslog it does nothing.
        import syslog  # noqa: PLC0415 - absent on some platforms; only needed here

        try:
            syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog.LOG_DAEMON)
            syslog.syslog(syslog.LOG_NOTICE, message)
            syslog.closelog()
        except OSError:
            pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
