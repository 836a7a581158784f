"""The one seam between mdm-watchdog and the Mac it runs on.

Everything that touches the operating system lives here: running commands (by absolute
path, no shell, a fixed environment, a time limit), the clock, files, and the system
log. The rest of the program receives a :class:`System` and never imports ``os`` or
``subprocess`` for itself, so tests can pass a recording fake, and ``--system-root DIR``
can lay a whole fake Mac out in a folder: every absolute path is taken under ``root``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import mmap
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO, NoReturn, Protocol, cast, overload

from watchdog_mdm.framing import Buffer
from watchdog_mdm.text import one_line

if TYPE_CHECKING:
    import subprocess

# subprocess and tempfile (with shutil and random), and fcntl and signal, are imported by
# the methods that run commands, write files or lock: a third of `analyze`'s start-up, and
# it runs none.

__all__ = [
    "CommandError",
    "CommandResult",
    "HandOn",
    "LockBusy",
    "MacSystem",
    "ProcessInfo",
    "Second",
    "SecondFailed",
    "SecondWork",
    "System",
    "Take",
]

# Commands run with this environment and nothing inherited: a predictable PATH, and the
# C locale so that `profiles` and `log` print their English, parseable wording.
COMMAND_ENV = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C", "LC_ALL": "C"}
STDERR_CHARS = 300
STREAM_BLOCK_BYTES = 1 << 20
SYSLOG_IDENT = "mdm-watchdog"


class CommandError(Exception):
    """A command could not be run, failed, or ran out of time. The message is one line."""


class LockBusy(Exception):
    """Another run holds the lock."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A command that ran to completion: its exit status and what it wrote."""

    returncode: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A running process whose executable is a given path."""

    pid: int
    uid: int  # real user id
    euid: int
    create_time: float


class SecondFailed(Exception):
    """The work of a second process failed: it raised, or its process ended otherwise."""


# What a second process's work is given: a function that hands a piece of its output on,
# and one that takes the next piece of work that is left (None once none is).
HandOn = Callable[[bytes], None]
Take = Callable[[], int | None]
SecondWork = Callable[[HandOn, Take], None]


class Second(Protocol):
    """Work running in a second process (:meth:`System.in_second_process`), and the
    pieces of work the two processes share out."""

    def handed_on(self) -> Iterator[bytes]:
        """What the work has handed on since last asked (here or by :meth:`output`),
        piece by piece, without waiting for more."""
        ...

    def output(self) -> Generator[bytes, None, None]:
        """What the work hands on, piece by piece, as it does so (waiting for each),
        from the first not given yet; raises SecondFailed, part-way or at the end, when
        it failed. The process is stopped and reaped when the iterator ends or is
        closed."""
        ...

    def take_last(self) -> int | None:
        """The last of the pieces of work neither process has taken, now this one's;
        None once none is left. Asked before :meth:`output`."""
        ...

    def cancel(self) -> None:
        """Stop the work, its output unread."""
        ...


class System(Protocol):
    """What mdm-watchdog needs from the operating system.

    Output and files are read in chunks, consumed as they come: a chunk that
    :meth:`stream` or :meth:`read_export` yields is valid only until the next one is
    asked for (or the iterator is closed). Then a buffer may be refilled or a memory map
    closed, so a consumer copies what it must keep (as the scanner does with a line cut
    by a chunk's end) and never holds a chunk itself.
    """

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def local_time(self, wall: datetime) -> datetime:
        """A wall-clock time on this Mac (no offset), as an instant: by the Mac's zone
        rules for that date, so a deadline across a daylight-saving change is right."""
        ...

    def has_command(self, path: str) -> bool:
        """Whether the macOS command at ``path`` can be run here."""
        ...

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        """Run a command to completion and capture its output."""
        ...

    def stream(
        self, argv: Sequence[str], *, timeout: float
    ) -> Iterator[bytes | bytearray | mmap.mmap]:
        """Run a command and yield its output as it comes, in blocks that may cut lines,
        each to be consumed before the next is asked for (see above).

        Raises :class:`CommandError` (after the last line) when it fails or times out.
        """
        ...

    def read_bytes(self, path: str) -> bytes | None:
        """A file's content, or None when there is no such file."""
        ...

    def read_trusted(self, path: str) -> bytes | None:
        """Like read_bytes, for a file that steers what runs as root (preferences):
        PermissionError unless it is root's and nobody else can write it."""
        ...

    def log_to_system(self, message: str, *, detail: bool = False) -> None:
        """Write one line to the system log under the process name mdm-watchdog: a run's
        result at the default level (kept on disk; Watchman reads it), a ``detail`` (a
        warning, a restart, an error) at the info level. A URL loses its query string
        and credentials on the way: no token is ever written there."""
        ...

    def write_file(self, path: str, data: bytes) -> None:
        """Replace a file atomically and durably: root-owned, 0644, in a 0755 folder.

        Never follows a symbolic link, neither the file's nor its folder's.
        Raises OSError when it cannot.
        """
        ...

    def move_aside(self, path: str, suffix: str) -> str:
        """Rename ``path`` to ``path + suffix``; returns the new path. Raises OSError."""
        ...

    def private_file(self, path: str, *, create: bool) -> str | None:
        """Where a root-only file lives on this machine, for a library that opens files
        by name (sqlite3): a plain file, root's (unprivileged, one's own).

        With ``create``, the folder is checked as :meth:`write_file` checks it, the file
        is made (empty, 0600) when missing, and a looser mode is tightened to 0600.
        Without, nothing is changed, and None means there is no such file.
        Never follows a symbolic link. Raises OSError when the file cannot be used.
        """
        ...

    def exclusive_lock(self, path: str, wait_seconds: float) -> AbstractContextManager[None]:
        """Hold an exclusive lock on ``path`` for the block; :class:`LockBusy` if it
        stays taken for ``wait_seconds``."""
        ...

    def processes(self, executable: str) -> list[ProcessInfo]:
        """The running processes whose executable is exactly ``executable``."""
        ...

    def send_signal(self, process: ProcessInfo, signum: int) -> None:
        """Signal that very process (not a later one with its pid). Raises OSError."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def read_export(
        self, path: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes | bytearray | mmap.mmap]:
        """A file the user named (``-``: standard input) in chunks that may cut lines,
        from byte ``start`` of a regular file (up to byte ``end``, where given); user
        paths are not taken under the system root. Raises OSError.

        Consume as you go (see above): each chunk is invalid once the next is asked for.
        A regular file comes as read-only memory maps of :attr:`export_window` bytes
        each, from a multiple of it (what comes before the first such multiple after
        ``start``, read), each closed then; anything else as one buffer, refilled for
        each chunk.
        """
        ...

    @property
    def export_window(self) -> int:
        """How much of a regular file :meth:`read_export` maps at a time."""
        ...

    def in_second_process(self, work: SecondWork, pieces: int) -> Second | None:
        """``work`` run meanwhile in a second process, a copy of this one: what it hands
        the first function it is given is kept (in an unlinked temporary file, not
        memory) for :meth:`Second.output`. The ``pieces`` pieces of work, numbered from
        0, are shared out as the two go: the work takes them from the first on, each
        time it calls the second function (None once none is left), this process from
        the last back (:meth:`Second.take_last`); each is taken once. None where no
        second process can help: one processor, or no way to copy a process."""
        ...

    def map_export(self, path: str) -> AbstractContextManager[Buffer | None]:
        """A regular, non-empty file the user named, mapped whole and read-only for as
        long as the context lasts, to be searched anywhere (from its end), keeping no
        more of it in memory than what one search reads; None for standard input and
        anything that cannot be mapped. Raises OSError."""
        ...

    def export_files(self, folder: str) -> list[str] | None:
        """The files of a folder the user named, sorted, hidden ones left out; None when
        it is not a folder."""
        ...

    def write_export(self, path: str, data: bytes) -> None:
        """Write a file the user named (not taken under the system root), atomically and
        readable by its owner alone (0600): it may hold what only root could read.

        Replaces a file or a symbolic link there, never writing through it; the folder
        must exist. Raises OSError.
        """
        ...


def _one_line(data: bytes) -> str:
    return one_line(data.decode("utf-8", "replace"), STDERR_CHARS)


def _failure(name: str, returncode: int, stderr: bytes) -> CommandError:
    detail = _one_line(stderr)
    return CommandError(
        f"{name} exited with status {returncode}" + (f": {detail}" if detail else "")
    )


class MacSystem:
    """The real thing: this machine, optionally re-rooted under ``root``."""

    # Paths are strings joined by os.path: pathlib (with urllib.parse) would be a
    # twentieth of every start-up, for a few joins.
    def __init__(
        self, root: str | os.PathLike[str] = "/", *, export_window: int | None = None
    ) -> None:
        self.root = os.fspath(root)
        # a multiple of every page size (the tests make it small, to put windows anywhere)
        self._window = export_window or MAPPED_WINDOW_BYTES
        # A fake Mac under --system-root is a Mac as far as this tool is concerned.
        self.is_mac = sys.platform == "darwin" or os.path.normpath(self.root) != "/"

    def path(self, path: str) -> str:
        """Where an absolute macOS path lives on this machine."""
        return os.path.join(self.root, path.lstrip("/"))

    def local_time(self, wall: datetime) -> datetime:
        # a naive datetime's astimezone() reads it in the system zone, by its rules
        try:
            return wall.replace(tzinfo=None).astimezone()
        except (ValueError, OverflowError):  # a TZ no offset can hold: as now() does
            return wall.replace(tzinfo=UTC)

    def now(self) -> datetime:
        now = datetime.now(UTC)
        try:
            return now.astimezone()
        except (ValueError, OverflowError):  # a TZ no offset can hold (TZ=XXX-24:59)
            return now

    def has_command(self, path: str) -> bool:
        return self.is_mac and os.access(self.path(path), os.X_OK)

    def _argv(self, argv: Sequence[str]) -> list[str]:
        if not argv or not argv[0].startswith("/"):
            raise CommandError(f"refusing to run {argv[:1]!r}: commands need an absolute path")
        executable = self.path(argv[0])
        if not os.access(executable, os.X_OK):
            raise CommandError(f"{argv[0]} is missing or not executable")
        return [executable, *argv[1:]]

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        import subprocess  # noqa: PLC0415

        args = self._argv(argv)
        # In a session of its own, so that at its time limit the command is killed with
        # every process it started (which could otherwise keep running, or keep its
        # output open and the reading here waiting).
        try:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=COMMAND_ENV,
                start_new_session=True,
            )
        except OSError as exc:
            raise CommandError(f"{argv[0]} could not be started: {exc.strerror}") from exc
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(process)
            process.wait()
            raise CommandError(f"{argv[0]} did not finish within {timeout:g} s") from exc
        except BaseException:
            _kill_group(process)
            process.wait()
            raise
        finally:
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
        return CommandResult(process.returncode, stdout, stderr)

    def stream(self, argv: Sequence[str], *, timeout: float) -> Iterator[bytes]:
        import subprocess  # noqa: PLC0415
        import tempfile  # noqa: PLC0415

        args = self._argv(argv)
        deadline = time.monotonic() + timeout
        # stderr goes to a file: a pipe nobody reads could fill up and hang the command.
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=COMMAND_ENV,
                    start_new_session=True,
                )
            except OSError as exc:
                raise CommandError(f"{argv[0]} could not be started: {exc.strerror}") from exc
            try:
                assert process.stdout is not None
                finished = yield from _blocks_until(process.stdout.fileno(), deadline)
                returncode = _wait_until(process, deadline) if finished else None
            finally:
                if process.poll() is None:  # out of time, the reader stopped early, or failed
                    _kill_group(process)
                    process.wait()
                # closed even while someone else holds the pipe's other end: see _blocks_until
                if process.stdout is not None:
                    process.stdout.close()
            if returncode is None:
                raise CommandError(f"{argv[0]} did not finish within {timeout:g} s")
            if returncode != 0:
                errors.seek(0)
                raise _failure(argv[0], returncode, errors.read(64 * 1024))

    def _open_no_follow(self, path: str) -> BinaryIO | None:
        # O_NOFOLLOW: a symlink planted where a file should be is an error, not a file.
        # O_NONBLOCK: a FIFO planted there would block the open (and every read) until
        # someone writes to it; opened at once, it is then refused as not a regular file.
        try:
            fd = os.open(
                self.path(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            )
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise OSError(errno.EINVAL, "not a regular file", self.path(path))
            # reads from a regular file never block; clear the flag all the same
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")

    def read_bytes(self, path: str) -> bytes | None:
        handle = self._open_no_follow(path)
        if handle is None:
            return None
        with handle:
            return handle.read()

    def read_trusted(self, path: str) -> bytes | None:
        handle = self._open_no_follow(path)
        if handle is None:
            return None
        with handle:
            info = os.fstat(handle.fileno())
            # Running unprivileged (a developer, the tests), one's own files are trusted.
            if info.st_uid not in (0, os.geteuid()) or info.st_mode & 0o022:
                raise PermissionError(
                    f"not root's or writable by others (owner {info.st_uid}, mode "
                    f"{stat.S_IMODE(info.st_mode):o})"
                )
            return handle.read()

    def _secure_folder(self, folder: str) -> None:
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(folder) or ".", exist_ok=True)
            try:
                os.mkdir(folder, 0o755)
            except FileExistsError:  # another run made it a moment ago: check theirs
                self._secure_folder(folder)
                return
            # mkdir's mode is filtered by the umask; the state folder must be 0755
            os.chmod(folder, 0o755)  # noqa: S103 - world-readable by design, like the original
            if os.geteuid() == 0:
                os.chown(folder, 0, 0)
            return
        if not stat.S_ISDIR(info.st_mode):
            raise OSError(f"{folder} is not a folder (a symbolic link?); refusing to write in it")
        # Whoever can write in the folder can replace the state and reset the cooldown.
        if info.st_uid not in (0, os.geteuid()) or info.st_mode & 0o022:
            raise OSError(
                f"{folder} is writable by others (owner {info.st_uid}, mode "
                f"{stat.S_IMODE(info.st_mode):o}); refusing to write in it"
            )

    def write_file(self, path: str, data: bytes) -> None:
        import tempfile  # noqa: PLC0415

        target = self.path(path)
        parent, name = os.path.split(target)
        self._secure_folder(parent)
        _remove_stale_temporaries(parent, name)
        fd, temporary = tempfile.mkstemp(dir=parent, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), 0o644)
                if os.geteuid() == 0:
                    os.fchown(handle.fileno(), 0, 0)
                os.fsync(handle.fileno())
            # rename replaces whatever is at target, a symlink included, never through it
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        folder = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def move_aside(self, path: str, suffix: str) -> str:
        os.replace(self.path(path), self.path(path + suffix))
        return path + suffix

    def private_file(self, path: str, *, create: bool) -> str | None:
        target = self.path(path)
        if create:
            self._secure_folder(os.path.dirname(target))
        # O_NOFOLLOW: never a planted link; O_NONBLOCK: a planted FIFO cannot block us
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(target, flags | (os.O_CREAT if create else 0), 0o600)
        except (FileNotFoundError, NotADirectoryError):
            if create:
                raise
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", target)
            if info.st_uid not in (0, os.geteuid()):
                raise PermissionError(errno.EPERM, f"not root's (owner {info.st_uid})", target)
            if create and stat.S_IMODE(info.st_mode) & 0o077:
                os.fchmod(fd, 0o600)  # only ever tightened: the history is root's alone
        finally:
            os.close(fd)
        return target

    @contextlib.contextmanager
    def exclusive_lock(self, path: str, wait_seconds: float) -> Iterator[None]:
        import fcntl  # noqa: PLC0415

        target = self.path(path)
        self._secure_folder(os.path.dirname(target))
        deadline = time.monotonic() + wait_seconds
        while True:
            fd = _open_lock(target)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise LockBusy(path) from None
                time.sleep(0.1)
                continue
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, target):
                break
            # replaced (repaired by another run) while we waited: lock the new one
            os.close(fd)
        try:
            # The kernel drops the lock when the holder dies, so a stale lock file
            # never blocks the next run.
            yield
        finally:
            os.close(fd)

    def processes(self, executable: str) -> list[ProcessInfo]:
        import psutil  # noqa: PLC0415 - only healing needs it; keeps start-up fast

        wanted = os.path.realpath(self.path(executable))
        found = []
        # A fresh Process per pid, not process_iter's cached ones: psutil keeps a process's
        # first exe() for good, so one first seen between fork and exec (launchd starting
        # the daemon again) would stay "python" or "launchd" and never be recognised
        for pid in psutil.pids():
            try:
                process = psutil.Process(pid)
                with process.oneshot():
                    exe, uids, started = process.exe(), process.uids(), process.create_time()
            except psutil.Error:
                continue
            if exe == wanted:
                found.append(ProcessInfo(pid, uids.real, uids.effective, started))
        return found

    def send_signal(self, process: ProcessInfo, signum: int) -> None:
        import psutil  # noqa: PLC0415 - only healing needs it; keeps start-up fast

        try:
            target = psutil.Process(process.pid)
            if target.create_time() != process.create_time:
                raise ProcessLookupError(f"process {process.pid} is gone")
            target.send_signal(signum)
        except psutil.NoSuchProcess as exc:
            raise ProcessLookupError(f"process {process.pid} is gone") from exc
        except psutil.AccessDenied as exc:
            raise PermissionError(f"not permitted to signal process {process.pid}") from exc

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def read_export(
        self, path: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes | bytearray | mmap.mmap]:
        if path == "-":
            yield from _chunks(cast(io.BufferedIOBase, sys.stdin.buffer))
            return
        try:
            with open(path, "rb") as handle:  # a user path: not re-rooted
                if start:
                    handle.seek(start)
                yield from _export_chunks(handle, self._window, end)
        except OSError as exc:
            # name the file even when reading, not opening, failed
            raise OSError(exc.errno, exc.strerror, exc.filename or path) from exc

    @property
    def export_window(self) -> int:
        return self._window

    def in_second_process(self, work: SecondWork, pieces: int) -> Second | None:
        if not hasattr(os, "fork") or _processors() < 2:
            return None
        return _ForkedSecond.start(work, pieces)

    @contextlib.contextmanager
    def map_export(self, path: str) -> Iterator[Buffer | None]:
        mapped = None if path == "-" else _mapped_whole(path)
        if mapped is None:
            yield None
            return
        with mapped:
            yield _ReleasedAfterEachSearch(mapped)

    def export_files(self, folder: str) -> list[str] | None:
        if folder == "-" or not os.path.isdir(folder):
            return None
        with os.scandir(folder) as found:
            return sorted(
                os.path.join(folder, f.name)
                for f in found
                if not f.name.startswith(".") and _is_file(f)
            )

    def write_export(self, path: str, data: bytes) -> None:
        import tempfile  # noqa: PLC0415

        parent = os.path.dirname(os.path.abspath(path))
        # mkstemp creates it 0600 whatever the umask
        fd, temporary = tempfile.mkstemp(
            dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def log_to_system(self, message: str, *, detail: bool = False) -> None:
        # Goes to the unified log on macOS (a notice is its default level, kept on disk;
        # info is kept in memory, shown by `log show --info`); without syslog, nowhere.
        import syslog  # noqa: PLC0415 - absent on some platforms; only needed here

        try:
            syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog.LOG_DAEMON)
            syslog.syslog(
                syslog.LOG_INFO if detail else syslog.LOG_NOTICE, without_url_secrets(message)
            )
            syslog.closelog()
        except OSError:
            pass


# A URL's scheme, then its credentials (user:password@, up to the last "@" before the
# first "/": a password may hold a raw "@"), host and path, then its path parameters
# (";jsessionid=…"), query string or fragment (where MDM servers and others put tokens),
# up to a space or quote; punctuation that ends a sentence ("…?a=1; next") is the
# sentence's. A scheme is at most 32 characters and no quantifier is nested, so each
# place in the text is looked at a bounded number of times: a long line without a URL
# ("a.a.a.…") takes linear time, not quadratic.
# Compiled on first use and kept by `re` (a millisecond that `analyze`, which logs nothing
# to the system, does not spend).
_URL = (
    r"""(?i)([a-z][a-z0-9+.-]{0,31}://)(?:[^\s/'"<>]*@)?([^\s?#;'"<>]*)"""
    r"""(?:(?:[?#]|;(?![\s'"<>]|$))[^\s'"<>]*?(?=[;,.)]?(?:[\s'"<>]|$)))?"""
)


def without_url_secrets(text: str) -> str:
    """``text`` with every URL cut to its scheme, host and path."""
    return re.sub(_URL, r"\1\2", text)


STALE_TEMPORARY_SECONDS = 60


def _remove_stale_temporaries(folder: str, name: str) -> None:
    """Remove what a write of ``name`` killed mid-way left (``.name.XXXX.tmp``): any
    such file older than a minute, since no write takes that long."""
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    prefix = f".{name}."
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
                continue
            with contextlib.suppress(OSError):
                if (
                    entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_mtime < cutoff
                ):
                    os.unlink(entry.path)


def _lock_is_sound(info: os.stat_result) -> bool:
    """A plain lock file of root's (or, unprivileged, one's own) nobody else can open:
    flock needs only a descriptor, so whoever could read it could hold it and make every
    run give up as busy."""
    return (
        stat.S_ISREG(info.st_mode)
        and info.st_uid in (0, os.geteuid())
        and not stat.S_IMODE(info.st_mode) & 0o077
    )


def _open_lock(target: str) -> int:
    """The lock file open for locking, created 0600 and root's, replaced when others
    could open it (another owner, a looser mode) or it is not a plain file."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    for _ in range(3):
        try:
            fd = os.open(target, flags, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.EISDIR, errno.ENXIO):
                raise
        else:
            if _lock_is_sound(os.fstat(fd)):
                return fd
            os.close(fd)
        _replace_lock(target)
    raise OSError(errno.EPERM, "cannot make the lock file root's and private", target)


def _replace_lock(target: str) -> None:
    """Put a fresh private lock file in place at once: whoever holds the old one holds
    a lock on a file nobody else looks at any more."""
    import tempfile  # noqa: PLC0415

    parent, name = os.path.split(target)
    fd, temporary = tempfile.mkstemp(dir=parent, prefix=f"{name}.", suffix=".new")
    try:
        os.fchmod(fd, 0o600)
        if os.geteuid() == 0:
            os.fchown(fd, 0, 0)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    finally:
        os.close(fd)


def _same_file(fd: int, target: str) -> bool:
    """Whether ``target`` is still the file open as ``fd``."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (info.st_dev, info.st_ino) == (held.st_dev, held.st_ino)


def _is_file(entry: os.DirEntry[str]) -> bool:
    """Whether a folder's entry is a file to read; a link loop or a dangling link is not."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    import signal  # noqa: PLC0415

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _blocks_until(fd: int, deadline: float) -> Generator[bytes, None, bool]:
    """A pipe's output in blocks as it arrives, until its end (returns True) or the
    deadline (returns False), whichever comes first.

    No read ever waits past the deadline: a process the command started in a session of
    its own escapes the kill of its process group and can hold the pipe open for as long
    as it likes, so waiting for the end of the output alone could wait for good.
    """
    import selectors  # noqa: PLC0415 - only live runs read a command's output

    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            # Blocks of whatever has arrived, not lines: the reader joins lines across
            # blocks, and a block costs it one search, not one per line.
            block = os.read(fd, STREAM_BLOCK_BYTES)
            if not block:
                return True
            yield block
    return False


def _wait_until(process: subprocess.Popen[bytes], deadline: float) -> int | None:
    """The command's exit status, or None when it has not ended by the deadline."""
    import subprocess  # noqa: PLC0415

    try:
        return process.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None


EXPORT_CHUNK_BYTES = 4 << 20
MAPPED_WINDOW_BYTES = 4 << 20  # a multiple of every page size (4 KiB Intel, 16 KiB arm64)


def _export_chunks(
    handle: io.BufferedReader, window: int, end: int | None = None
) -> Iterator[bytes | bytearray | mmap.mmap]:
    """A regular file as successive read-only memory maps; anything else (a pipe, a
    device, a file the kernel will not map) read in chunks, as is what is left when a
    window cannot be mapped (the file was cut short meanwhile) or was appended meanwhile.
    With ``end``, a regular file up to there.

    Searched in place, a mapped file costs one pass over memory; read() into a buffer
    costs three (the kernel reads the page cache, writes the buffer, the search reads it
    again): 60 against 180 ms per 200 MB here. Mapping a window at a time, each unmapped
    when the next is asked for, keeps resident memory flat however large the file. As
    with ripgrep, which maps files too, a file cut short by another program while a
    window of it is being read ends the process with SIGBUS; exports are not written
    while analysed.
    """
    descriptor = handle.fileno()
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):  # a pipe (/dev/stdin, <(...)) cannot even tell()
        yield from _chunks(handle)
        return
    size = info.st_size if end is None else min(info.st_size, end)
    # From where it stands (a start sought, or a shared descriptor such as /dev/stdin on
    # macOS partly read already). A window's offset must be a multiple of the page size:
    # a start inside one is read up to the next window's start first, in chunks.
    start = handle.tell()
    if start % window:
        # read at offsets, not through the handle: its read-ahead would move the
        # descriptor past the window's start, and the windows would never be mapped
        head_end = min(start - start % window + window, size)
        while start < head_end and (
            head := os.pread(descriptor, min(head_end - start, EXPORT_CHUNK_BYTES), start)
        ):
            start += len(head)
            yield head
        handle.seek(start)  # nothing buffered: the descriptor goes there too
    if os.lseek(descriptor, 0, os.SEEK_CUR) == start:
        mapped = yield from _windows(descriptor, size, start, window)
        # all of it, and nothing since (a /proc file says 0 bytes but has text): done,
        # without a read buffer
        if 0 < mapped == (os.fstat(descriptor).st_size if end is None else size):
            return
        handle.seek(mapped)
    if end is None:
        yield from _chunks(handle)
        return
    left = end - handle.tell()
    while left > 0 and (rest := handle.read(min(left, EXPORT_CHUNK_BYTES))):
        left -= len(rest)
        yield rest


def _windows(
    descriptor: int, size: int, offset: int, window: int
) -> Generator[mmap.mmap, None, int]:
    """The bytes from ``offset`` (a window's start) to ``size``, mapped a window at a
    time, until one cannot be (the file is shorter now, or not mappable); returns where
    the windows mapped end."""
    while offset < size:
        length = min(window, size - offset)
        try:
            mapped = mmap.mmap(descriptor, length, access=mmap.ACCESS_READ, offset=offset)
        except (OSError, ValueError):  # ValueError: the file is shorter now
            break
        with mapped:
            if hasattr(mapped, "madvise"):
                mapped.madvise(mmap.MADV_SEQUENTIAL)
            yield mapped
        offset += length
    return offset


def _mapped_whole(path: str) -> mmap.mmap | None:
    """A regular, non-empty file mapped whole and read-only; None otherwise."""
    try:
        # not opened unless regular: opening a named pipe would take its writer's output
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:  # a user path: not re-rooted
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            try:  # the map outlives the descriptor
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # empty, or the kernel will not map it
                return None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, exc.filename or path) from exc


class _ReleasedAfterEachSearch:
    """A whole file's read-only map whose pages are given back after each search.

    Searched from its end, a step back every few megabytes touches a few bytes each
    time, but the kernel maps in the whole large page-cache folio around each (about
    half a megabyte here): a gigabyte's steps kept 136 MB resident. Given back after
    each search (madvise DONTNEED: for a read-only file map, just unmapped; the page
    cache keeps them), they never add up.
    """

    _RELEASED = 2 << 20  # a multiple of every folio and page size around a search

    def __init__(self, mapped: mmap.mmap) -> None:
        self._mapped = mapped
        # where the platform cannot, what was searched simply stays mapped
        self._release = getattr(mapped, "madvise", None) if hasattr(mmap, "MADV_DONTNEED") else None

    def __len__(self) -> int:
        return len(self._mapped)

    @overload
    def __getitem__(self, index: int, /) -> int: ...
    @overload
    def __getitem__(self, index: slice, /) -> bytes: ...
    def __getitem__(self, index: int | slice, /) -> int | bytes:
        found = self._mapped[index]
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self._mapped))
        else:
            start, stop = index % len(self._mapped), index % len(self._mapped) + 1
        self._released(start, stop)
        return found

    def find(self, sub: bytes, start: int = 0, end: int = sys.maxsize, /) -> int:
        found = self._mapped.find(sub, start, end)
        self._released(start, end)
        return found

    def rfind(self, sub: bytes, start: int = 0, end: int = sys.maxsize, /) -> int:
        found = self._mapped.rfind(sub, start, end)
        self._released(start, end)
        return found

    def _released(self, start: int, end: int) -> None:
        size = len(self._mapped)
        low = max(0, start) // self._RELEASED * self._RELEASED
        high = min(size, -(-min(end, size) // self._RELEASED) * self._RELEASED)
        if self._release is not None and high > low:
            with contextlib.suppress(OSError):  # only ever memory given back early
                self._release(mmap.MADV_DONTNEED, low, high - low)


def _chunks(handle: io.BufferedIOBase) -> Iterator[bytes | bytearray]:
    """Fixed-size chunks, cut anywhere: the reader joins lines across them and bounds
    what it carries, so one enormous line cannot take enormous memory.

    One buffer is filled again and again (the reader is done with a chunk before it asks
    for the next), which saves allocating and faulting in fresh memory for every chunk.
    """
    buffer = bytearray(EXPORT_CHUNK_BYTES)
    while count := handle.readinto(buffer):
        yield buffer if count == len(buffer) else bytes(buffer[:count])


def _processors() -> int:
    """How many processors this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class _ForkedSecond:
    """Work run in a forked copy of this process. What it hands on goes, each piece
    after its length, to a temporary file made before the fork (so the two share it)
    and unlinked at once: however much it is, it takes no memory while it waits. This
    process reads it at offsets (the two share the file's position, which only the
    second process moves), each piece once it is all there."""

    def __init__(self, pid: int, output: BinaryIO, shares: _Shares) -> None:
        self._pid = pid
        self._output = output
        self._shares = shares
        self._offset = 0  # where the first piece not given yet starts
        self._reaped = False

    @classmethod
    def start(cls, work: SecondWork, pieces: int) -> _ForkedSecond | None:
        try:  # (no room for it, or no fork: the work is done in one process)
            output = _unlinked_file()
        except OSError:
            return None
        try:
            shares = _Shares(pieces, output.fileno())
        except OSError:
            output.close()
            return None
        first = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            output.close()
            shares.close()
            return None
        if pid == 0:

            def shared_work(hand_on: HandOn) -> None:
                try:
                    work(hand_on, shares.take_first)
                except BaseException:
                    # What this process would read of the pieces left is dropped (the
                    # work failed: the file is read again whole), so none is left to it.
                    with contextlib.suppress(OSError):
                        shares.take_all()
                    raise

            _work_in_child(shared_work, output, first)
        return cls(pid, output, shares)

    def handed_on(self) -> Iterator[bytes]:
        descriptor = self._output.fileno()
        while (piece := _piece_at(descriptor, self._offset)) is not None:
            self._offset += _LENGTH_BYTES + len(piece)
            yield piece

    def output(self) -> Generator[bytes, None, None]:
        ended = False
        try:
            while True:
                yield from self.handed_on()
                if ended:  # all it wrote was read
                    return
                ended = self._ended()
                if not ended:
                    time.sleep(_OUTPUT_POLL)
        finally:
            self.cancel()

    def take_last(self) -> int | None:
        try:
            return self._shares.take_last()
        except OSError:  # no lock on that file system: the second process takes them all
            return None

    def _ended(self) -> bool:
        """Whether the work is done (all it handed on is written); raises SecondFailed
        when it failed."""
        pid, status = os.waitpid(self._pid, os.WNOHANG)
        if pid == 0:
            return False
        self._reaped = True
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            raise SecondFailed(f"the second process ended with status {status:#x}")
        return True

    def cancel(self) -> None:
        if not self._reaped:
            import signal  # noqa: PLC0415 - keeps start-up fast

            with contextlib.suppress(ProcessLookupError):  # done already
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._reaped = True
        self._output.close()
        self._shares.close()


class _Shares:
    """Pieces of work numbered from 0, shared out between this process and a copy of it
    forked after: the copy takes them from the first on, this one from the last back,
    one at a time, each once. Two counters in memory the two share (an anonymous map,
    made before the fork) are read and changed under a lock on a file they share: a
    POSIX record lock is its process's, so the two exclude each other (a lock of
    flock's, the open file's, would not)."""

    _LOCKED = 1 << 40  # the byte locked: far past anything written (a lock needs none)

    def __init__(self, pieces: int, descriptor: int) -> None:
        self._counters = mmap.mmap(-1, 16)  # shared (MAP_SHARED), and so after the fork
        self._counters[:] = (0).to_bytes(8, "little") + pieces.to_bytes(8, "little")
        self._descriptor = descriptor

    def close(self) -> None:
        self._counters.close()

    def take_first(self) -> int | None:
        return self._take(from_first=True)

    def take_last(self) -> int | None:
        return self._take(from_first=False)

    def take_all(self) -> None:
        """Every piece left taken (none is left to either process)."""
        while self._take(from_first=True) is not None:
            pass

    def _take(self, *, from_first: bool) -> int | None:
        import fcntl  # noqa: PLC0415 - keeps start-up fast

        fcntl.lockf(self._descriptor, fcntl.LOCK_EX, 1, self._LOCKED)
        try:
            counters = self._counters
            first = int.from_bytes(counters[:8], "little")  # the next from the first on
            end = int.from_bytes(counters[8:], "little")  # where the last ones taken begin
            if first >= end:
                return None
            if from_first:
                counters[:8] = (first + 1).to_bytes(8, "little")
                return first
            counters[8:] = (end - 1).to_bytes(8, "little")
            return end - 1
        finally:
            fcntl.lockf(self._descriptor, fcntl.LOCK_UN, 1, self._LOCKED)


def _unlinked_file() -> BinaryIO:
    """A new file that this process alone can read and write (0600), unlinked as soon as
    it is made: it lasts as long as it is open (a forked copy shares it) and leaves
    nothing behind. Made as tempfile.mkstemp makes one: in $TMPDIR (else /tmp), under a
    random name, never through a link or over a file (O_EXCL, O_NOFOLLOW). tempfile
    itself (with shutil and random) would take 8-15 ms to load, before the second
    process starts."""
    folder = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - O_EXCL, a random name, 0600
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(_NAMES_TRIED):
        path = os.path.join(folder, f".mdm-watchdog-{os.urandom(8).hex()}")
        try:
            descriptor = os.open(path, flags, 0o600)
        except FileExistsError:  # (64 random bits: never, unless made to)
            continue
        try:
            os.unlink(path)
            return os.fdopen(descriptor, "w+b")
        except BaseException:
            os.close(descriptor)
            raise
    raise FileExistsError(errno.EEXIST, "no unused name for a temporary file", folder)


# Random names tried for an unlinked file before giving up.
_NAMES_TRIED = 16
# How a piece's length is written before it, and how often the first process looks for
# more of what the second hands on.
_LENGTH_BYTES = 8
_OUTPUT_POLL = 0.001


def _piece_at(descriptor: int, offset: int) -> bytes | None:
    """The piece written at ``offset`` of a second process's output, once it is all
    there (regular files read short only at their end)."""
    head = os.pread(descriptor, _LENGTH_BYTES, offset)
    if len(head) < _LENGTH_BYTES:
        return None
    size = int.from_bytes(head, "big")
    piece = os.pread(descriptor, size, offset + _LENGTH_BYTES)
    return piece if len(piece) == size else None


def _work_in_child(work: Callable[[HandOn], None], output: BinaryIO, first: int) -> NoReturn:
    """The second process: the work, then out at once, the copied process's buffers and
    exit handlers left alone (they are the first process's to run). It stops at the next
    piece it hands on once the first process is gone (killed: none would read what it
    found), rather than read on to its part's end, a processor's seconds on a large file."""
    status = 1
    try:

        def hand_on(piece: bytes) -> None:
            if os.getppid() != first:  # (an orphan is given another parent)
                raise SecondFailed("the first process is gone")
            output.write(len(piece).to_bytes(_LENGTH_BYTES, "big"))
            output.write(piece)
            output.flush()  # there to be read at once

        work(hand_on)
        output.flush()
        status = 0
    finally:
        os._exit(status)
