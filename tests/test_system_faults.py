"""The real seam facing faults: files that are not files, commands that leave children,
a lock file others could hold, temporary files left by a killed run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import psutil
import pytest
from click.testing import CliRunner

from tests.support import FakeMac, FakeSystem, prefs, python_in_zone, remediation, saved_state
from watchdog_mdm.cli import cli
from watchdog_mdm.config import LOCAL_PREFERENCES, MANAGED_PREFERENCES, read_configuration
from watchdog_mdm.state import STATE_PATH, load_state
from watchdog_mdm.system import CommandError, LockBusy, MacSystem


class Blocked(BaseException):
    """Raised in a read that blocks: no handler for errors of the tool catches it."""


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Turns a read that would block for good into a failure instead of a stuck suite:
    the reads must not block at all, so this never fires when they are right."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Blocked("blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 2, 0.5)  # again and again, however it is caught
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def plant_fifo(mac: FakeMac, path: str) -> Path:
    target = mac.root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(target, 0o600)
    return target


@pytest.mark.usefixtures("no_hang")
class TestFifoWhereAFileShouldBe:
    def test_read_bytes_refuses_it_at_once(self, fake_mac: FakeMac) -> None:
        plant_fifo(fake_mac, STATE_PATH)
        with pytest.raises(OSError, match="not a regular file"):
            MacSystem(fake_mac.root).read_bytes(STATE_PATH)

    def test_read_trusted_refuses_it_at_once(self, fake_mac: FakeMac) -> None:
        plant_fifo(fake_mac, MANAGED_PREFERENCES)
        with pytest.raises(OSError, match="not a regular file"):
            MacSystem(fake_mac.root).read_trusted(MANAGED_PREFERENCES)

    def test_a_folder_is_refused_too(self, fake_mac: FakeMac) -> None:
        (fake_mac.root / STATE_PATH.lstrip("/")).mkdir(parents=True)
        with pytest.raises(OSError, match="not a regular file"):
            MacSystem(fake_mac.root).read_bytes(STATE_PATH)

    def test_preferences_fall_back_to_the_other_file_and_defaults(self, fake_mac: FakeMac) -> None:
        plant_fifo(fake_mac, MANAGED_PREFERENCES)
        plant_fifo(fake_mac, LOCAL_PREFERENCES)
        configuration = read_configuration(MacSystem(fake_mac.root))
        assert configuration.warnings == (
            f"{MANAGED_PREFERENCES}: not a regular file; ignored",
            f"{LOCAL_PREFERENCES}: not a regular file; ignored",
        )

    def test_the_state_is_unreadable_and_moved_aside(self, fake_mac: FakeMac) -> None:
        fifo = plant_fifo(fake_mac, STATE_PATH)
        system = MacSystem(fake_mac.root)
        _, warnings = load_state(system, system.now())
        assert len(warnings) == 1
        assert warnings[0].startswith(f"{STATE_PATH} was unreadable (not a regular file); moved")
        assert not fifo.exists()

    def test_status_and_config_end(self, fake_mac: FakeMac) -> None:
        plant_fifo(fake_mac, STATE_PATH)
        plant_fifo(fake_mac, MANAGED_PREFERENCES)
        system = MacSystem(fake_mac.root)
        for command in (["config"], ["status"]):
            result = CliRunner().invoke(cli, command, obj=system)
            assert "not a regular file" in result.output, (command, result.output)
            assert not isinstance(result.exception, Blocked), command


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _stand_in_with_a_child(mac: FakeMac, child_output: str) -> Path:
    script = mac.root / "usr/bin/profiles"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        sleep 300 {child_output} &
        echo $! > {mac.root}/child.pid
        sleep 300
        """)
    )
    script.chmod(0o755)
    return mac.root / "child.pid"


@pytest.mark.parametrize(
    "child_output",
    [">/dev/null 2>&1", ""],
    ids=["child-detached-from-the-output", "child-holding-the-output"],
)
@pytest.mark.usefixtures("no_hang")
def test_a_command_past_its_time_limit_is_killed_with_its_children(
    fake_mac: FakeMac, child_output: str
) -> None:
    pid_file = _stand_in_with_a_child(fake_mac, child_output)
    started = time.monotonic()
    try:
        with pytest.raises(CommandError, match=r"/usr/bin/profiles did not finish within 0\.5 s"):
            MacSystem(fake_mac.root).run(["/usr/bin/profiles"], timeout=0.5)
        assert time.monotonic() - started < 1.5
        assert _gone(int(pid_file.read_text()))
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


LOCK = STATE_PATH.rsplit("/", 1)[0] + "/.lock"


def _plant_lock(mac: FakeMac, mode: int) -> Path:
    lock = mac.write(LOCK, b"")
    lock.chmod(mode)
    return lock


def test_the_lock_file_is_created_private(fake_mac: FakeMac) -> None:
    with MacSystem(fake_mac.root).exclusive_lock(LOCK, 0):
        pass
    info = (fake_mac.root / LOCK.lstrip("/")).stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646, 0o622, 0o644, 0o640])
def test_a_lock_file_others_can_open_is_replaced_and_their_lock_not_honoured(
    fake_mac: FakeMac, mode: int
) -> None:
    lock = _plant_lock(fake_mac, mode)
    before = lock.stat().st_ino
    with lock.open("rb") as theirs:  # another user's process, holding the lock
        fcntl.flock(theirs.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with MacSystem(fake_mac.root).exclusive_lock(LOCK, 0):
            info = lock.stat()
            assert stat.S_IMODE(info.st_mode) == 0o600
            assert info.st_ino != before
    assert [p.name for p in lock.parent.iterdir()] == [".lock"]


def test_a_private_lock_held_by_another_run_is_still_busy(fake_mac: FakeMac) -> None:
    lock = _plant_lock(fake_mac, 0o600)
    with lock.open("rb") as theirs:
        fcntl.flock(theirs.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LockBusy), MacSystem(fake_mac.root).exclusive_lock(LOCK, 0):
            pass


def test_a_fifo_as_the_lock_is_replaced(fake_mac: FakeMac) -> None:
    fifo = plant_fifo(fake_mac, LOCK)
    with MacSystem(fake_mac.root).exclusive_lock(LOCK, 0):
        assert stat.S_ISREG(fifo.lstat().st_mode)


def test_a_lock_file_of_another_owner_is_replaced_by_roots(fake_mac: FakeMac) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    lock = _plant_lock(fake_mac, 0o600)
    os.chown(lock, 65534, 65534)
    with MacSystem(fake_mac.root).exclusive_lock(LOCK, 0):
        info = lock.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)


def test_temporary_files_a_killed_write_left_are_removed(fake_mac: FakeMac) -> None:
    folder = fake_mac.root / STATE_PATH.rsplit("/", 1)[0].lstrip("/")
    folder.mkdir(parents=True)
    stale = folder / ".state.json.k1ll3d.tmp"
    fresh = folder / ".state.json.wr1t1n.tmp"  # a write under way this minute
    other = folder / ".other.json.k1ll3d.tmp"
    for path in (stale, fresh, other):
        path.write_bytes(b"{")
    an_hour_ago = time.time() - 3600
    for path in (stale, other):
        os.utime(path, (an_hour_ago, an_hour_ago))
    MacSystem(fake_mac.root).write_file(STATE_PATH, b"{}")
    assert sorted(p.name for p in folder.iterdir()) == [
        ".other.json.k1ll3d.tmp",
        ".state.json.wr1t1n.tmp",
        "state.json",
    ]


def test_a_time_zone_no_offset_can_hold_falls_back_to_utc() -> None:
    # TZ=XXX-24:59 asks for an offset past a day, which Python's datetimes cannot hold
    script = (
        "from datetime import datetime; from watchdog_mdm.system import MacSystem; "
        "s = MacSystem('/'); print(s.now().utcoffset()); "
        "print(s.local_time(datetime(2026, 1, 15, 12)).isoformat())"
    )
    done = python_in_zone("XXX-24:59", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0:00:00", "2026-01-15T12:00:00+00:00"]


def test_a_folder_of_exports_with_a_link_loop_lists_only_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "mdm.log").write_text("x\n")
    (folder / "a").symlink_to("b")
    (folder / "b").symlink_to("a")  # a loop: is_file() raises ELOOP
    (folder / "self").symlink_to(folder)
    assert MacSystem("/").export_files(str(folder)) == [str(folder / "mdm.log")]


def test_a_folder_that_cannot_be_read_is_unreadable_evidence(tmp_path: Path) -> None:
    class Unreadable(FakeSystem):
        def export_files(self, folder: str) -> list[str] | None:
            raise PermissionError(13, "Permission denied", folder)

    result = CliRunner().invoke(cli, ["analyze", str(tmp_path)], obj=Unreadable())
    assert result.exit_code == 3
    assert result.output == (
        f"mdm-watchdog: error: cannot read the folder {tmp_path}: Permission denied\n"
    )


def _log_whose_child_escapes(mac: FakeMac, *, log_hangs: bool) -> Path:
    """A `log` that starts a process in a session of its own (out of reach of a kill of
    its process group) holding its standard output open, then hangs or ends at once."""
    escaped = mac.root / "escaped.pid"
    script = mac.root / "usr/bin/log"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        {sys.executable} -c 'import os, time; os.setsid(); time.sleep(30)' &
        echo $! > {escaped}
        echo '{{"count":0,"finished":1}}'
        {"sleep 300" if log_hangs else "exit 0"}
        """)
    )
    script.chmod(0o755)
    return escaped


@contextlib.contextmanager
def _ended_afterwards(pid_file: Path) -> Iterator[None]:
    """Kills the escaped process when the test is done: nothing else can reach it."""
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


ESCAPES = pytest.mark.parametrize("log_hangs", [True, False], ids=["log-hangs", "log-ends"])


@ESCAPES
@pytest.mark.usefixtures("no_hang")
def test_a_stream_ends_at_its_time_limit_though_an_escaped_child_holds_the_output(
    fake_mac: FakeMac, log_hangs: bool
) -> None:
    escaped = _log_whose_child_escapes(fake_mac, log_hangs=log_hangs)
    with _ended_afterwards(escaped):
        blocks = []
        with pytest.raises(CommandError, match=r"/usr/bin/log did not finish within 0\.5 s"):
            for block in MacSystem(fake_mac.root).stream(["/usr/bin/log", "show"], timeout=0.5):
                blocks.append(bytes(block))
        assert b"".join(blocks) == b'{"count":0,"finished":1}\n'


class Impatient(MacSystem):
    """This Mac with `log show` given a twentieth of its time limit: the smallest
    LogShowTimeoutSeconds (10 s) is then half a second."""

    def stream(self, argv: Sequence[str], *, timeout: float) -> Iterator[bytes]:
        return super().stream(argv, timeout=timeout / 20)


@ESCAPES
@pytest.mark.usefixtures("no_hang")
def test_a_log_whose_escaped_child_holds_the_output_ends_the_heal_as_unreadable_evidence(
    enrolled_mac: FakeMac, log_hangs: bool
) -> None:
    prefs(enrolled_mac, LogShowTimeoutSeconds=10)
    escaped = _log_whose_child_escapes(enrolled_mac, log_hangs=log_hangs)
    with _ended_afterwards(escaped):
        result = CliRunner().invoke(cli, ["-heal"], obj=Impatient(enrolled_mac.root))
    assert result.exit_code == 3, result.output
    assert result.output.endswith(
        "mdm-watchdog: error: could not read the unified log: /usr/bin/log did not finish "
        "within 0.5 s; nothing was restarted\n"
    )
    assert remediation(enrolled_mac) == []
    assert "did not finish within 0.5 s" in saved_state(enrolled_mac)["last_run"]["error"]
