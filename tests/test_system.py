"""The real seam, against stand-in executables under a system root."""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.support import FakeMac, FakeSystem, Reply, python_in_zone, reference_lines
from watchdog_mdm.system import COMMAND_ENV, CommandError, MacSystem, System


def test_commands_run_under_the_root_with_a_fixed_environment(fake_mac: FakeMac) -> None:
    fake_mac.install("/usr/bin/profiles", b"MDM enrollment: No\n")
    system = MacSystem(fake_mac.root)
    result = system.run(["/usr/bin/profiles", "status", "-type", "enrollment"], timeout=10)
    assert (result.returncode, result.stdout) == (0, b"MDM enrollment: No\n")
    assert fake_mac.calls("profiles") == [["status", "-type", "enrollment"]]


def test_environment_is_not_inherited(fake_mac: FakeMac, monkeypatch: pytest.MonkeyPatch) -> None:
    script = fake_mac.root / "usr/bin/env-dump"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("#!/bin/sh\nenv\n")
    script.chmod(0o755)
    monkeypatch.setenv("DYLD_INSERT_LIBRARIES", "/tmp/evil.dylib")
    out = MacSystem(fake_mac.root).run(["/usr/bin/env-dump"], timeout=10).stdout.decode()
    assert "DYLD_INSERT_LIBRARIES" not in out
    for key, value in COMMAND_ENV.items():
        assert f"{key}={value}" in out


def test_stream_yields_the_output_and_reports_failure_after_it(fake_mac: FakeMac) -> None:
    fake_mac.install("/usr/bin/log", b"one\ntwo\n", rc=64, stderr=b"log: Invalid predicate\n")
    blocks: list[bytes] = []
    with pytest.raises(CommandError, match=r"exited with status 64: log: Invalid predicate"):
        blocks.extend(MacSystem(fake_mac.root).stream(["/usr/bin/log", "show"], timeout=10))
    assert b"".join(blocks) == b"one\ntwo\n"


def test_stream_is_stopped_at_its_time_limit(fake_mac: FakeMac) -> None:
    fake_mac.install("/usr/bin/log", b"late\n", sleep=30)
    with pytest.raises(CommandError, match=r"did not finish within 0\.5 s"):
        list(MacSystem(fake_mac.root).stream(["/usr/bin/log", "show"], timeout=0.5))


def test_a_stream_past_its_time_limit_is_ended_with_its_children(fake_mac: FakeMac) -> None:
    """A hanging `log show` is killed, and so is everything it started."""
    script = fake_mac.root / "usr/bin/log"
    script.parent.mkdir(parents=True)
    script.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        sleep 300 &
        echo $! > {fake_mac.root}/child.pid
        echo $$ > {fake_mac.root}/log.pid
        sleep 300
        """)
    )
    script.chmod(0o755)
    with pytest.raises(CommandError, match=r"/usr/bin/log did not finish within 0\.5 s"):
        list(MacSystem(fake_mac.root).stream(["/usr/bin/log", "show"], timeout=0.5))
    for name in ("log.pid", "child.pid"):
        pid = int((fake_mac.root / name).read_text())
        deadline = time.monotonic() + 5
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie":
            assert time.monotonic() < deadline, f"{name} {pid} still running"
            time.sleep(0.05)


def test_run_is_stopped_at_its_time_limit(fake_mac: FakeMac) -> None:
    fake_mac.install("/usr/bin/profiles", sleep=30)
    with pytest.raises(CommandError, match="did not finish"):
        MacSystem(fake_mac.root).run(["/usr/bin/profiles"], timeout=0.5)


def test_missing_command(fake_mac: FakeMac) -> None:
    system = MacSystem(fake_mac.root)
    assert system.has_command("/usr/bin/log") is False
    with pytest.raises(CommandError, match="/usr/bin/log is missing or not executable"):
        list(system.stream(["/usr/bin/log", "show"], timeout=10))


def test_relative_commands_are_refused(fake_mac: FakeMac) -> None:
    with pytest.raises(CommandError, match="absolute path"):
        MacSystem(fake_mac.root).run(["log", "show"], timeout=10)


def test_files_are_read_under_the_root(fake_mac: FakeMac) -> None:
    fake_mac.write("/Library/Application Support/mdm-watchdog/state.json", b"{}")
    system = MacSystem(fake_mac.root)
    assert system.read_bytes("/Library/Application Support/mdm-watchdog/state.json") == b"{}"
    assert system.read_bytes("/Library/Preferences/missing.plist") is None


# A stand-in for the standard library's syslog module, put first on the path of a
# separate Python: it records each call (constants by name), or fails as told, and the
# host's own log is never written.
SYSLOG_STAND_IN = """
import json, os
LOG_PID, LOG_DAEMON, LOG_NOTICE = "LOG_PID", "LOG_DAEMON", "LOG_NOTICE"
def _call(*args):
    if os.environ.get("SYSLOG_FAILS"):
        raise OSError(2, "No such file or directory: /dev/log")
    with open(os.environ["SYSLOG_CALLS"], "a") as calls:
        calls.write(json.dumps(args) + "\\n")
def openlog(*args): _call("openlog", *args)
def syslog(*args): _call("syslog", *args)
def closelog(): _call("closelog")
"""


def _log_to_system_through_stand_in(
    tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[list[object]]]:
    (tmp_path / "syslog.py").write_text(SYSLOG_STAND_IN)
    calls = tmp_path / "calls"
    code = (
        "from watchdog_mdm.system import MacSystem; "
        "MacSystem('/').log_to_system('MDMEnrolled: true MDMClientStuck: false')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "SYSLOG_CALLS": str(calls), **env},
    )
    recorded = [json.loads(x) for x in calls.read_text().splitlines()] if calls.exists() else []
    return done, recorded


def test_the_system_log_gets_the_line_as_a_notice_under_the_tools_name(tmp_path: Path) -> None:
    done, calls = _log_to_system_through_stand_in(tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls == [
        ["openlog", "mdm-watchdog", "LOG_PID", "LOG_DAEMON"],
        ["syslog", "LOG_NOTICE", "MDMEnrolled: true MDMClientStuck: false"],
        ["closelog"],
    ]


def test_a_system_log_that_cannot_be_written_is_not_an_error(tmp_path: Path) -> None:
    done, calls = _log_to_system_through_stand_in(tmp_path, SYSLOG_FAILS="1")
    assert (done.returncode, done.stderr, calls) == (0, "", [])


def test_a_fake_root_counts_as_a_mac_and_the_real_root_only_on_macos(tmp_path: Path) -> None:
    assert MacSystem(tmp_path).is_mac is True
    assert MacSystem("/").is_mac is (sys.platform == "darwin")


STATE = "/Library/Application Support/mdm-watchdog/state.json"


def plant_state_link(fake_mac: FakeMac, target: Path, content: bytes) -> Path:
    """state.json made a symlink to ``target``, as a local attacker would leave it."""
    target.write_bytes(content)
    link = fake_mac.root / STATE.lstrip("/")
    link.parent.mkdir(parents=True)
    link.parent.chmod(0o755)
    link.symlink_to(target)
    return link


def test_write_replaces_a_planted_symlink_instead_of_following_it(
    fake_mac: FakeMac, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    link = plant_state_link(fake_mac, victim, b"precious")
    MacSystem(fake_mac.root).write_file(STATE, b"{}")
    assert victim.read_bytes() == b"precious"
    assert not link.is_symlink()
    assert link.read_bytes() == b"{}"
    assert sorted(p.name for p in link.parent.iterdir()) == ["state.json"]  # no temp left


def test_write_creates_the_folder_0755_and_the_file_0644(fake_mac: FakeMac) -> None:
    MacSystem(fake_mac.root).write_file(STATE, b"{}")
    path = fake_mac.root / STATE.lstrip("/")
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.parent.stat().st_mode & 0o777 == 0o755


def test_a_folder_others_can_write_is_refused(fake_mac: FakeMac) -> None:
    folder = fake_mac.root / STATE.lstrip("/")
    folder.parent.mkdir(parents=True)
    folder.parent.chmod(0o777)
    with pytest.raises(OSError, match=r"writable by others \(owner \d+, mode 777\)"):
        MacSystem(fake_mac.root).write_file(STATE, b"{}")
    assert list(folder.parent.iterdir()) == []


def test_reading_a_planted_symlink_is_an_error_not_its_target(
    fake_mac: FakeMac, tmp_path: Path
) -> None:
    plant_state_link(fake_mac, tmp_path / "secret", b"secret")
    with pytest.raises(OSError):
        MacSystem(fake_mac.root).read_bytes(STATE)


def _write_together(root: Path, writers: int) -> list[BaseException]:
    import threading

    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []
    system = MacSystem(root)

    def write() -> None:
        barrier.wait()
        try:
            system.write_file(STATE, b"{}")
        except OSError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_runs_creating_the_state_folder_at_the_same_moment_all_succeed(tmp_path: Path) -> None:
    for attempt in range(30):
        root = tmp_path / f"mac{attempt}"
        root.mkdir()
        assert _write_together(root, 8) == []


def test_a_live_stream_comes_in_blocks_so_lines_without_markers_are_never_parsed(
    fake_mac: FakeMac,
) -> None:
    from watchdog_mdm.patterns import RELEVANT_MARKERS
    from watchdog_mdm.scan import LogReader

    chatter = [x for x in reference_lines("ndjson_examples.ndjson", "") if x[:1] == "{"]
    output = ("\n".join(chatter * 2000) + "\n").encode()  # 6,000 lines, none relevant
    fake_mac.install("/usr/bin/log", output)
    reader = LogReader()
    list(
        reader.scan(
            MacSystem(fake_mac.root).stream(["/usr/bin/log", "show"], timeout=30), RELEVANT_MARKERS
        )
    )
    assert reader.candidates == 0
    assert reader.entries < 600  # the last entry of each block, not one per line (6,000)


def test_an_export_file_is_searched_in_place_a_window_at_a_time(tmp_path: Path) -> None:
    """Regular files are memory-mapped in windows (flat memory, no copying); a line cut by
    a window's edge is read whole, and a line far too long to be a log line is skipped."""
    import mmap

    from watchdog_mdm.evidence import Collector
    from watchdog_mdm.patterns import RELEVANT_MARKERS
    from watchdog_mdm.scan import LogReader
    from watchdog_mdm.system import MAPPED_WINDOW_BYTES

    line = (
        next(
            x
            for x in reference_lines("mdmclient_lines.txt", "mdmclient")
            if "Received HTTP response (200)" in x and x[:1] == "2"
        ).encode()
        + b"\n"
    )
    filler = b"x" * (MAPPED_WINDOW_BYTES - len(line) // 2) + b"\n"  # puts a line on the edge
    huge = b"Received HTTP response (200) " * 40_000 + b"\n"  # 1.2 MB, one "line"
    data = line + filler[len(line) :] + line + huge + line * 3
    path = tmp_path / "export.log"
    path.write_bytes(data)

    chunks = list(MacSystem("/").read_export(str(path)))
    assert [type(c) for c in chunks] == [mmap.mmap, mmap.mmap]
    reader = LogReader()
    scanned = (
        Collector()
        .add_all(reader.scan(MacSystem("/").read_export(str(path)), RELEVANT_MARKERS))
        .observations()
    )
    assert scanned.relevant_entries == 5  # both sides of the edge, and the last three
    assert (reader.candidates, reader.lines_skipped) == (6, 1)  # the huge line, skipped

    (tmp_path / "empty.log").write_bytes(b"")
    assert list(MacSystem("/").read_export(str(tmp_path / "empty.log"))) == []


def test_an_export_that_changes_while_it_is_read_is_read_as_it_is_then(tmp_path: Path) -> None:
    """Cut short between two windows: what is left is read, no error; appended to: the
    new lines are read too (as reading the file in chunks would)."""
    import mmap

    from watchdog_mdm.system import MAPPED_WINDOW_BYTES

    path = tmp_path / "export.log"
    path.write_bytes(b"x" * (MAPPED_WINDOW_BYTES + 10))
    chunks = MacSystem("/").read_export(str(path))
    assert isinstance(next(chunks), mmap.mmap)
    with path.open("r+b") as handle:
        handle.truncate(100)
    assert list(chunks) == []

    path.write_bytes(b"x" * (MAPPED_WINDOW_BYTES + 10))
    chunks = MacSystem("/").read_export(str(path))
    first = next(chunks)
    assert len(first) == MAPPED_WINDOW_BYTES
    with path.open("ab") as handle:
        handle.write(b"appended\n")
    assert b"".join(bytes(c[:]) for c in chunks) == b"x" * 10 + b"appended\n"


@pytest.mark.parametrize(
    "special", ["/sys/kernel/mm/transparent_hugepage/enabled", "/proc/version"]
)
def test_files_the_kernel_will_not_map_are_read(special: str) -> None:
    """/sys reports a size but refuses to be mapped; /proc reports size 0 but has text."""
    if not Path(special).exists():
        pytest.skip(f"{special} is not on this system")
    expected = Path(special).read_bytes()
    assert expected
    assert b"".join(bytes(c[:]) for c in MacSystem("/").read_export(special)) == expected
    # and up to an end, read as they are (no window was mapped)
    end = len(expected) // 2
    assert (
        b"".join(bytes(c[:]) for c in MacSystem("/").read_export(special, 1, end))
        == (expected[1:end])
    )


@pytest.mark.parametrize("system", [MacSystem("/"), FakeSystem()], ids=["MacSystem", "FakeSystem"])
def test_a_chunk_kept_past_the_next_request_can_no_longer_be_read(
    system: System, tmp_path: Path
) -> None:
    """read_export is consumed as it goes (System): a chunk is invalid once the next is
    asked for, in the recording fake as in the real seam, so a consumer that keeps one
    fails in the tests as it would on a Mac."""
    path = tmp_path / "export.log"
    path.write_bytes(b"first line\nsecond line\n")
    kept = list(system.read_export(str(path)))
    assert kept
    with pytest.raises(ValueError, match="closed"):
        kept[0][:1]


def test_a_streamed_chunk_kept_past_the_next_request_can_no_longer_be_read() -> None:
    # the fake holds stream() to the same rule, so the live checks are tested under it
    system = FakeSystem().reply("/usr/bin/log", Reply(b"first line\nsecond line\n"))
    kept = list(system.stream(["/usr/bin/log", "show"], timeout=10))
    assert len(kept) == 2
    with pytest.raises(ValueError, match="closed"):
        kept[0][:1]


def test_a_wall_clock_time_is_read_by_the_macs_zone_rules_on_its_date() -> None:
    # A DDM deadline is local time with no offset: on each side of a daylight-saving
    # change it must get that date's offset, not today's.
    script = (
        "from datetime import datetime; from watchdog_mdm.system import MacSystem; "
        "s = MacSystem('/'); "
        "print(s.local_time(datetime(2026, 1, 15, 12)).isoformat()); "
        "print(s.local_time(datetime(2026, 7, 15, 12)).isoformat())"
    )
    done = python_in_zone("Europe/Berlin", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2026-01-15T12:00:00+01:00", "2026-07-15T12:00:00+02:00"]


def test_a_process_first_seen_before_its_exec_is_found_after_it(tmp_path: Path) -> None:
    """launchd starting a daemon again forks, then execs: a look between the two must not
    hide the daemon from every later look (psutil keeps a process's first exe())."""
    from tests.support import SLEEP

    if not Path("/proc/self/exe").exists():
        pytest.skip("needs /proc to see when the exec happened")
    daemon = tmp_path / "usr/libexec/mdmclient"
    daemon.parent.mkdir(parents=True)
    daemon.write_bytes(Path(SLEEP).read_bytes())
    daemon.chmod(0o755)
    system = MacSystem(tmp_path)
    exec_later = f"import os, sys; sys.stdin.readline(); os.execv({str(daemon)!r}, ['x', '30'])"
    child = subprocess.Popen([sys.executable, "-c", exec_later], stdin=subprocess.PIPE)
    try:
        assert system.processes("/usr/libexec/mdmclient") == []  # still Python
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.flush()
        for _ in range(500):  # until the kernel says it is the daemon now (a bound, not a timing)
            if os.path.realpath(f"/proc/{child.pid}/exe") == str(daemon):
                break
            time.sleep(0.01)
        found = system.processes("/usr/libexec/mdmclient")
        assert [p.pid for p in found] == [child.pid]
        assert found[0].uid == os.getuid()
    finally:
        child.kill()
        child.wait()


def test_an_export_named_by_a_pipes_path_is_read_as_a_stream(tmp_path: Path) -> None:
    """`analyze /dev/stdin`, `analyze <(gunzip -c x.gz)`, a named pipe: not seekable, so
    read in chunks, and never opened twice (the end of a file is read only from a map)."""
    data = b"line one\nline two\n" * 1000
    read, write = os.pipe()
    with os.fdopen(write, "wb") as writer:
        writer.write(data)
    system = MacSystem("/")
    path = f"/dev/fd/{read}"
    with system.map_export(path) as mapped:
        assert mapped is None
    assert b"".join(bytes(c) for c in system.read_export(path)) == data
    os.close(read)


def test_an_export_read_from_within_a_window_is_mapped_from_the_next_one_up_to_an_end(
    tmp_path: Path,
) -> None:
    """What comes before the first window boundary after the start is read, then the
    windows are mapped (the handle's read-ahead once kept them from being: the rest came
    in 4 MB copies); with an end, up to there."""
    window = 16384
    data = bytes(range(256)) * (window * 5 // 256)
    path = tmp_path / "export.log"
    path.write_bytes(data)
    system = MacSystem("/", export_window=window)
    for start, end in ((100, None), (100, 3 * window + 5), (window, 2 * window), (7, 50)):
        chunks = [(type(c), bytes(c)) for c in system.read_export(str(path), start, end)]
        assert b"".join(c for _, c in chunks) == data[start:end], (start, end)
        first_boundary = -(-start // window) * window
        mapped = [len(c) for kind, c in chunks if kind is mmap.mmap]
        assert sum(mapped) == max(0, len(data[first_boundary:end])), (start, end)


def test_an_export_is_read_from_an_offset_within_a_window_and_beyond(tmp_path: Path) -> None:
    from watchdog_mdm.system import MAPPED_WINDOW_BYTES

    data = bytes(range(256)) * ((MAPPED_WINDOW_BYTES * 2) // 256 + 3)
    path = tmp_path / "export.log"
    path.write_bytes(data)
    for start in (0, 1, 4095, MAPPED_WINDOW_BYTES, MAPPED_WINDOW_BYTES + 7, len(data) - 1):
        chunks = MacSystem("/").read_export(str(path), start)
        assert b"".join(bytes(c) for c in chunks) == data[start:], start
    with MacSystem("/").map_export(str(path)) as mapped:
        assert mapped is not None
        assert len(mapped) == len(data)
        assert mapped[5:9] == data[5:9]
        assert (mapped[7], mapped[-1], mapped[len(data) - 3]) == (7, data[-1], data[-3])
        assert mapped.find(b"\x07\x08", 10) == data.find(b"\x07\x08", 10)
        assert mapped.rfind(b"\x07\x08", 0, len(data)) == data.rfind(b"\x07\x08")
    with MacSystem("/").map_export(str(tmp_path)) as folder:
        assert folder is None
    (tmp_path / "empty.log").write_bytes(b"")
    with MacSystem("/").map_export(str(tmp_path / "empty.log")) as empty:
        assert empty is None
