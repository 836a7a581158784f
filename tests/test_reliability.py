"""Reliability and root safety: bad input, faults, concurrency, time, hostile paths.

Each test names the protection it proves; each fails when that protection is removed.
The figures in docs/reliability.md come from these tests and from `simulate` below.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import plistlib
import random
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exports import downloading, render
from tests.reference_reader import ReferenceReader
from tests.support import (
    ENROLLED,
    KICK_MDM,
    LOGS,
    QUIET_WINDOW,
    REPO,
    FakeMac,
    FakeSystem,
    Reply,
    actions,
    export,
    fake_system,
    heal,
    installed_command,
    kicks,
    ndjson_line,
    prefs,
    quiet,
    reconstructed_record,
    reference,
    reference_lines,
    remediation,
    run_heal,
    run_installed,
    saved_state,
)
from watchdog_mdm.cli import cli
from watchdog_mdm.config import load_configuration
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.heal import Decision
from watchdog_mdm.run import HealRun, heal_run
from watchdog_mdm.state import STATE_PATH, parse_rfc3339
from watchdog_mdm.system import MacSystem, ProcessInfo

# ------------------------------------------------------------------ bad input

STYLES = ("compact", "default", "json", "ndjson", "syslog")


@functools.cache
def style_examples() -> dict[str, list[str]]:
    """Real lines of each `log show` style."""
    json_lines = reference("json_style_examples.txt").read_text().splitlines()
    return {
        "default": (LOGS / "super-ad1495a" / "mdm.log").read_text().splitlines(),
        "compact": (
            LOGS / "super-45fdb21" / "12.3-to-13.3.1-Apple-Silicon-Jamf-Pro-MDM" / "mdmCommand.log"
        )
        .read_text()
        .splitlines(),
        "syslog": [
            x.replace("<Date> <Time>", "2021-02-10 10:00:00")
            for x in reference_lines("mdmclient_lines.txt", "<Date> <Time>")
        ],
        "ndjson": [
            x
            for x in reference_lines("reconstructed_mdmclient.ndjson", "")
            if not x.startswith("#")
        ],
        "json": [x for x in json_lines if not x.startswith("#")],
    }


def test_every_style_has_real_examples() -> None:
    examples = style_examples()
    assert sorted(examples) == sorted(STYLES)
    assert all(len(lines) >= 5 for lines in examples.values()), {
        k: len(v) for k, v in examples.items()
    }


INPUT_EXAMPLES = 300  # per style, for the figures in docs/reliability.md


def mutate(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    """Truncations, insertions (NUL, invalid UTF-8, anything) and overwrites."""
    out = bytearray(data)
    for kind, where, chunk in edits:
        at = where % (len(out) + 1)
        if kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = chunk
        else:
            out[at : at + len(chunk)] = chunk
    return bytes(out)


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["cut", "insert", "overwrite"]),
        st.integers(0, 1 << 20),
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from([b"\0", b"\xff\xfe", b"\n", b"{", b"}", b'"', b"\xc3", b"[{", b"},{"]),
        ),
    ),
    max_size=8,
)


@pytest.mark.parametrize("style", STYLES)
@settings(max_examples=INPUT_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=EDITS, final_newline=st.booleans())
def test_no_mutation_of_a_real_export_makes_the_reader_raise(
    style: str, edits: list[tuple[str, int, bytes]], final_newline: bool
) -> None:
    real = "\n".join(style_examples()[style]).encode()
    data = mutate(real + (b"\n" if final_newline else b""), edits)
    reader = ReferenceReader()
    entries = list(reader.read(data.splitlines(keepends=True)))
    assert all(isinstance(e, LogEntry) and e.timestamp.tzinfo is not None for e in entries)
    assert len(entries) <= reader.lines_read


@settings(max_examples=60, deadline=None)
@given(edits=EDITS, style=st.sampled_from(STYLES))
def test_analyze_completes_on_any_mutated_export(
    edits: list[tuple[str, int, bytes]], style: str
) -> None:
    data = mutate("\n".join(style_examples()[style]).encode(), edits)
    result = CliRunner().invoke(cli, ["analyze", "-", "--json"], obj=FakeSystem(), input=data)
    # 3 when the mutations left nothing from Apple's daemons to judge
    assert result.exit_code in (0, 3), result.output
    doc = json.JSONDecoder().raw_decode(result.output[result.output.index("{") :])[0]
    assert (result.exit_code == 3) is (
        doc["evidence"]["circumstances"]["evidence_problem"] is not None
    )


@pytest.mark.parametrize(
    "record",
    [
        "[]",
        "3",
        '"text"',
        "null",
        '{"timestamp": 5, "eventMessage": "x"}',
        '{"timestamp": "2026-11-25 10:00:00.000000+0000", "eventMessage": ["x"]}',
        '{"timestamp": "yesterday", "eventMessage": "x"}',
    ],
)
def test_json_of_the_wrong_shape_is_skipped(record: str) -> None:
    reader = ReferenceReader()
    assert list(reader.read([record])) == []
    assert reader.lines_skipped == 1


def test_json_fields_of_the_wrong_type_are_read_as_absent() -> None:
    record = (
        '{"timestamp": "2026-11-25 10:00:00.000000+0000", "eventMessage": "x", '
        '"processImagePath": 7, "processID": "12", "subsystem": {}}'
    )
    (entry,) = ReferenceReader().read([record])
    assert (entry.message, entry.process, entry.subsystem, entry.pid) == ("x", "", "", None)


@pytest.mark.parametrize(
    ("stamp", "offset"),
    [
        ("2026-11-25 10:00:00.000000+0530", timedelta(hours=5, minutes=30)),
        ("2026-11-25 10:00:00.000000+1400", timedelta(hours=14)),
        ("2026-11-25 10:00:00.000000-1200", timedelta(hours=-12)),
        ("2026-11-25 10:00:00.000000+00:00", timedelta(0)),
        ("2026-11-25T10:00:00Z", timedelta(0)),
        ("2026-11-25 10:00:00", timedelta(0)),  # none: read in the given zone (UTC here)
    ],
)
def test_odd_offsets(stamp: str, offset: timedelta) -> None:
    record = json.dumps(
        {"timestamp": stamp, "eventMessage": "x", "processImagePath": "/usr/libexec/mdmclient"}
    )
    (entry,) = ReferenceReader().read([record])
    assert entry.timestamp.utcoffset() == offset


def _peak_rss_kib(*argv: str) -> tuple[int, subprocess.CompletedProcess[str]]:
    """Run a command from a fresh process and return its peak resident memory."""
    probe = textwrap.dedent("""
        import json, resource, subprocess, sys
        done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps([peak, done.returncode, done.stdout, done.stderr]))
    """)
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True
    ).stdout
    peak, code, stdout, stderr = json.loads(out)
    return peak, subprocess.CompletedProcess(argv, code, stdout, stderr)


GIANT_LINE_MB = 300
PEAK_LIMIT_MB = 64


def test_a_single_line_of_hundreds_of_megabytes_keeps_memory_bounded(tmp_path: Path) -> None:
    export = tmp_path / "giant.log"
    real = style_examples()["compact"][3].encode()
    with export.open("wb") as out:
        out.write(real + b"\n")
        chunk = b"A" * (1 << 20)
        for _ in range(GIANT_LINE_MB):
            out.write(chunk)
        out.write(b"\n" + real + b"\n")
    peak, done = _peak_rss_kib(installed_command(), "analyze", str(export), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["evidence"]["log"]["entries_read"] == 2
    assert peak < PEAK_LIMIT_MB * 1024, f"peak {peak} KiB"


def test_far_more_output_than_expected_keeps_memory_flat(tmp_path: Path) -> None:
    export = tmp_path / "chatty.ndjson"
    lines = "\n".join(style_examples()["ndjson"]).encode() + b"\n"
    with export.open("wb") as out:
        for _ in range(40 * (1 << 20) // len(lines)):  # about 40 MB
            out.write(lines)
    peak, done = _peak_rss_kib(installed_command(), "analyze", str(export), "--json")
    assert done.returncode == 0, done.stderr
    assert peak < PEAK_LIMIT_MB * 1024, f"peak {peak} KiB"


@pytest.mark.parametrize(
    "output",
    [
        b"MDM-Registrierung: Ja (vom Benutzer genehmigt)\n",  # a German form
        b"\xff\xfe\x00garbage\n",
        b"",
        b"MDM enrollment:\n",
    ],
)
def test_profiles_in_an_unexpected_form_never_decides_enrollment(output: bytes) -> None:
    system = FakeSystem().reply("/usr/bin/profiles", Reply(output))
    system.reply("/usr/bin/log", Reply(b'{"count":0,"finished":1}\n'))
    result = CliRunner().invoke(cli, ["-diagnose"], obj=system)
    assert result.exit_code == 3
    assert "could not tell whether this Mac is enrolled" in result.output


# ------------------------------------------------------------------ faults


@pytest.fixture
def stuck_mac(enrolled_mac: FakeMac) -> FakeMac:
    """An enrolled Mac whose updates are stuck, with every remediation tool present."""
    enrolled_mac.install("/usr/bin/log", export(style_examples()["ndjson"], 3))
    return enrolled_mac


def valid_state(mac: FakeMac) -> dict[str, Any]:
    """The state file must always parse, with the two compatible keys in their form."""
    if not (mac.root / STATE_PATH.lstrip("/")).exists():
        return {}
    document = saved_state(mac)
    for key in ("last_mdm_kickstart", "last_software_update_kickstart"):
        parse_rfc3339(document[key])
    return document


def test_a_log_show_past_its_time_limit_heals_nothing() -> None:
    """`log show` gets LogShowTimeoutSeconds; past it, the seam ends it and its children
    (test_system) and raises, and nothing is restarted."""
    system = fake_system()
    prefs(system, LogShowTimeoutSeconds=10)
    system.replies["/usr/bin/log"] = [Reply(error="/usr/bin/log did not finish within 10 s")]
    result = heal(system)
    assert result.exit_code == 3
    assert "did not finish within 10 s; nothing was restarted" in result.output
    assert actions(system) == []
    assert [t for command, t in system.timeouts if command == "/usr/bin/log"] == [10]


def test_log_show_failing_half_way_heals_nothing(stuck_mac: FakeMac) -> None:
    stuck_mac.install(
        "/usr/bin/log",
        export(style_examples()["ndjson"], 3)[:2000],
        rc=1,
        stderr=b"log: read error\n",
    )
    done = run_heal(stuck_mac)
    assert done.returncode == 3
    assert remediation(stuck_mac) == []


def test_a_hanging_launchctl_falls_back_to_the_signal() -> None:
    system = fake_system(updates=False)
    quiet(system)
    system.reply("/bin/launchctl", Reply(error="/bin/launchctl did not finish within 30 s"))
    (daemon,) = system.procs["/usr/libexec/mdmclient"]
    doc = json.loads(CliRunner().invoke(cli, ["-heal", "--json"], obj=system).output)
    assert system.calls_to("/bin/launchctl")[0] == KICK_MDM
    assert (daemon.pid, signal.SIGTERM) in system.signals
    assert doc["MDMClientRestarted"] is True


def test_a_full_disk_while_saving_restarts_nothing() -> None:
    system = fake_system()
    system.write_error = OSError(28, "No space left on device")
    result = CliRunner().invoke(cli, ["-heal"], obj=system)
    assert result.exit_code == 5
    assert "No space left on device" in result.output
    assert actions(system) == []


def test_signalling_a_process_that_is_gone_or_was_replaced(tmp_path: Path) -> None:
    system = MacSystem(tmp_path)
    child = subprocess.Popen(["sleep", "30"])
    try:
        started = psutil.Process(child.pid).create_time()
        stranger = ProcessInfo(child.pid, 0, 0, started - 100)  # same pid, older process
        with pytest.raises(ProcessLookupError):
            system.send_signal(stranger, signal.SIGTERM)
        assert child.poll() is None  # the pid's new owner was not touched
    finally:
        child.kill()
        child.wait()
    with pytest.raises(ProcessLookupError):
        system.send_signal(ProcessInfo(child.pid, 0, 0, started), signal.SIGTERM)


# Every step of a software-update heal, and the signal that ends the run there.
STEPS = [
    ("profiles", 1),
    ("log", 1),
    ("launchctl", 1),
    ("dscacheutil", 1),
    ("killall", 1),
    ("pkill", 1),
    ("launchctl", 2),
]


@pytest.mark.parametrize("signal_name", ["KILL", "TERM"])
@pytest.mark.parametrize(("command", "call"), STEPS)
def test_killed_at_any_step_the_state_stays_valid_and_the_cooldown_holds(
    stuck_mac: FakeMac, command: str, call: int, signal_name: str
) -> None:
    (stuck_mac.root / ".fake" / command).mkdir(parents=True, exist_ok=True)
    (stuck_mac.root / ".fake" / command / "kill-caller").write_text(f"{signal_name} {call}\n")
    first = run_heal(stuck_mac)
    assert first.returncode == -getattr(signal, f"SIG{signal_name}")
    valid_state(stuck_mac)
    (stuck_mac.root / ".fake" / command / "kill-caller").unlink()
    second = run_heal(stuck_mac)
    assert second.returncode == 0, second.stderr
    state = valid_state(stuck_mac)
    for label, key in (
        ("com.apple.mdmclient.daemon", "last_mdm_kickstart"),
        ("com.apple.softwareupdated", "last_software_update_kickstart"),
    ):
        done = [k for k in kicks(stuck_mac) if k.endswith(label)]
        assert len(done) <= 1, (label, kicks(stuck_mac))
        if done:  # a restart that happened was recorded first
            assert parse_rfc3339(state[key]) is not None


# ------------------------------------------------------------------ concurrency

PARALLEL_RUNS = 8


def test_many_runs_at_once_restart_each_daemon_once(stuck_mac: FakeMac) -> None:
    runs = [
        subprocess.Popen(
            [installed_command(), "-heal", "--system-root", str(stuck_mac.root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(PARALLEL_RUNS)
    ]
    codes = [run.wait(timeout=120) for run in runs]
    for run in runs:
        assert run.stdout is not None and run.stderr is not None
        run.stdout.close()
        run.stderr.close()
    assert set(codes) <= {0, 4}
    assert sorted(kicks(stuck_mac)) == [
        "launchctl kickstart -k system/com.apple.mdmclient.daemon",
        "launchctl kickstart -k system/com.apple.softwareupdated",
    ]
    valid_state(stuck_mac)


def test_a_lock_left_by_a_dead_run_does_not_block(stuck_mac: FakeMac) -> None:
    lock = stuck_mac.write("/Library/Application Support/mdm-watchdog/.lock", b"")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import fcntl, time
        handle = open({str(lock)!r}, "rb")
        fcntl.flock(handle, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(300)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    holder.kill()  # dies holding the lock
    holder.wait()
    holder.stdout.close()
    prefs(stuck_mac, LockWaitSeconds=0, VerifySeconds=0)
    assert run_heal(stuck_mac).returncode == 0
    assert lock.exists()


# ------------------------------------------------------------------ time

SCHEDULE = timedelta(minutes=95)
COOLDOWN = timedelta(hours=24)
SIMULATED_DAYS = 30
SIMULATIONS = 25


@dataclass
class Simulation:
    """30 days of a Mac through the clock seam: a -heal run every 95 minutes, random
    evidence, random sleeps (missed runs), and the clock jumping both ways."""

    seed: int
    runs: int = 0
    stuck_runs: int = 0
    missed_runs: int = 0
    restarts: dict[str, list[datetime]] = field(default_factory=dict)  # true times
    forward: list[tuple[datetime, timedelta]] = field(default_factory=list)
    backward: list[datetime] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def run(self) -> Simulation:
        rng = random.Random(self.seed)
        true = datetime(2026, 1, 1, tzinfo=UTC)
        end = true + timedelta(days=SIMULATED_DAYS)
        offset = timedelta(0)
        system = FakeSystem(clock=true)
        system.start("/usr/libexec/mdmclient")
        system.start(
            "/System/Library/CoreServices/Software Update.app/Contents/Resources/softwareupdated"
        )
        # the original's rule: half the runs find a quiet, so stuck, client to restart
        configuration = load_configuration({}, {"StuckRule": "quiet"})
        idle_200 = reconstructed_record("Received HTTP response (200) [Idle]")
        update_ack = reconstructed_record("(200) [Acknowledged(ScheduleOSUpdate)")
        while true < end:
            asleep = rng.random() < 0.1
            true += SCHEDULE * (rng.randint(2, 16) if asleep else 1)
            self.missed_runs += asleep
            if rng.random() < 0.04:  # the clock is set wrong, or corrected
                jump = (
                    timedelta(hours=rng.uniform(1, 72))
                    if rng.random() < 0.5
                    else (-timedelta(hours=rng.uniform(1, 24 * 400)))
                )
                offset += jump
                if jump > timedelta(0):
                    self.forward.append((true, jump))
                else:
                    self.backward.append(true)
            system.clock = now = true + offset
            stuck = rng.random() < 0.5
            updates = rng.random() < 0.5
            command = (
                None
                if updates
                else update_ack["eventMessage"].replace("ScheduleOSUpdate)", "SecurityInfo)")
            )
            window = QUIET_WINDOW if stuck else ndjson_line(idle_200, now - timedelta(minutes=5))
            history = ndjson_line(update_ack, now - timedelta(hours=3), command)
            system.replies = {
                "/usr/bin/profiles": [Reply(ENROLLED)],
                "/usr/bin/log": [Reply(window), Reply(history)],
            }
            system.calls.clear()
            run, _ = heal_run(system, configuration)
            self.runs += 1
            self.stuck_runs += stuck
            self._check(system, run, true)
        self._check_spacing()
        return self

    def _check(self, system: FakeSystem, run: HealRun, true: datetime) -> None:
        try:
            state = json.loads(system.files[STATE_PATH])
            for key in ("last_mdm_kickstart", "last_software_update_kickstart"):
                parse_rfc3339(state[key])
        except (KeyError, ValueError) as exc:
            self.violations.append(f"invalid state at {true}: {exc}")
        for call in system.calls:
            if call[:3] == ("/bin/launchctl", "kickstart", "-k"):
                self.restarts.setdefault(call[3], []).append(true)
        for result in run.healing:
            if result.action.decision is not Decision.COOLDOWN:
                continue
            label = f"system/{result.action.daemon.label}"
            events = [*self.restarts.get(label, []), *self.backward]
            if not any(true - COOLDOWN < t <= true for t in events):
                self.violations.append(
                    f"{label} blocked at {true} with no restart or clock change within the cooldown"
                )

    def _check_spacing(self) -> None:
        for label, times in self.restarts.items():
            for earlier, later in itertools.pairwise(times):
                jumped = sum((j for t, j in self.forward if earlier < t <= later), timedelta())
                if later - earlier + jumped < COOLDOWN:
                    self.violations.append(f"{label} restarted at {earlier} and {later}")


@settings(max_examples=SIMULATIONS, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_month_of_runs_never_restarts_twice_in_a_cooldown_nor_blocks_longer(seed: int) -> None:
    simulation = Simulation(seed).run()
    assert simulation.violations == []
    assert simulation.runs > 100
    assert simulation.restarts  # stuck half the time: there are restarts to check


def simulate(seeds: range = range(SIMULATIONS)) -> dict[str, int]:
    """The figures for docs/reliability.md: python -c 'from tests.test_reliability
    import simulate; print(simulate())'."""
    total = {
        "runs": 0,
        "stuck_runs": 0,
        "missed_runs": 0,
        "restarts": 0,
        "forward_jumps": 0,
        "backward_jumps": 0,
        "violations": 0,
    }
    for seed in seeds:
        s = Simulation(seed).run()
        total["runs"] += s.runs
        total["stuck_runs"] += s.stuck_runs
        total["missed_runs"] += s.missed_runs
        total["restarts"] += sum(len(t) for t in s.restarts.values())
        total["forward_jumps"] += len(s.forward)
        total["backward_jumps"] += len(s.backward)
        total["violations"] += len(s.violations)
    return total


# ------------------------------------------------------------------ root safety

APP = "Library/Application Support/mdm-watchdog"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "victim"
    path.parent.mkdir()
    path.write_bytes(b"precious")
    path.chmod(0o600)
    return path


def untouched(victim: Path) -> bool:
    return victim.read_bytes() == b"precious" and victim.stat().st_mode & 0o777 == 0o600


def test_a_symlinked_lock_file_is_not_followed(stuck_mac: FakeMac, victim: Path) -> None:
    lock = stuck_mac.root / APP / ".lock"
    lock.parent.mkdir(parents=True)
    lock.symlink_to(victim)
    done = run_heal(stuck_mac)
    assert done.returncode == 5
    assert "could not lock" in done.stderr
    assert remediation(stuck_mac) == []
    assert untouched(victim)


def test_a_symlinked_state_file_is_replaced_not_followed(stuck_mac: FakeMac, victim: Path) -> None:
    state = stuck_mac.root / APP / "state.json"
    state.parent.mkdir(parents=True)
    state.symlink_to(victim)
    done = run_heal(stuck_mac)
    assert done.returncode == 0, done.stderr
    assert "unreadable" in done.stderr  # the link was moved aside, as a bad state is
    assert untouched(victim)
    assert not state.is_symlink()
    valid_state(stuck_mac)


def test_a_swapped_state_folder_is_refused(stuck_mac: FakeMac, victim: Path) -> None:
    folder = stuck_mac.root / APP
    folder.parent.mkdir(parents=True)
    folder.symlink_to(victim.parent)
    done = run_heal(stuck_mac)
    assert done.returncode == 5
    assert remediation(stuck_mac) == []  # exit 5 before any restart, not after one
    assert "refusing to write in it" in done.stderr
    assert untouched(victim)
    assert sorted(p.name for p in victim.parent.iterdir()) == ["victim"]


def test_the_log_file_is_never_opened_by_the_tool(stuck_mac: FakeMac, victim: Path) -> None:
    log = stuck_mac.root / "var/log/mdm-watchdog.log"
    log.parent.mkdir(parents=True)
    log.symlink_to(victim)  # launchd writes it; the tool itself writes only the state
    run_heal(stuck_mac)
    assert untouched(victim)


@pytest.mark.parametrize("owner_mode", [(65534, 0o644), (0, 0o666), (0, 0o664)])
def test_preferences_others_could_write_are_ignored(
    stuck_mac: FakeMac, owner_mode: tuple[int, int]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    uid, mode = owner_mode
    stuck_mac.write(
        "/Library/Preferences/com.github.mdm-watchdog.plist",
        plistlib.dumps({"VerifySeconds": 0, "StuckRule": "quiet"}),
    )
    path = stuck_mac.root / "Library/Managed Preferences/com.github.mdm-watchdog.plist"
    path.write_bytes(plistlib.dumps({"DryRun": True}))
    os.chown(path, uid, 0)
    path.chmod(mode)
    done = run_heal(stuck_mac)
    assert "; ignored" in done.stderr
    assert f"(owner {uid}, mode {mode:o})" in done.stderr
    assert kicks(stuck_mac) != []  # DryRun from that file did not apply


ESCAPE = "\x1b[2J\x1b]0;owned\x07"
BIDI = "\u202eevil\u202c"


def test_control_characters_from_the_log_never_reach_the_terminal() -> None:
    record = json.loads(style_examples()["ndjson"][1])
    record["eventMessage"] = record["eventMessage"].replace("[Idle]", f"[Idle{ESCAPE}{BIDI}]")
    data = (json.dumps(record) + "\n").encode()
    for args in (["--explain"], ["--json"]):
        result = CliRunner().invoke(cli, ["analyze", "-", *args], obj=FakeSystem(), input=data)
        assert result.exit_code == 0
        assert "\x1b" not in result.output and "\u202e" not in result.output
        assert "\x07" not in result.output
        assert "\ufffd" in result.output or "\\ufffd" in result.output


def test_control_characters_in_a_tampered_state_are_escaped() -> None:
    system = FakeSystem()
    system.files[STATE_PATH] = json.dumps({"note": ESCAPE + BIDI}).encode()
    result = CliRunner().invoke(cli, ["status", "--json"], obj=system)
    assert "\x1b" not in result.output and "\u202e" not in result.output


def test_no_shell_anywhere() -> None:
    modules = sorted((REPO / "watchdog_mdm").glob("*.py"))
    assert REPO / "watchdog_mdm" / "system.py" in modules
    source = "\n".join(p.read_text() for p in modules)
    for needle in ("shell=True", "os.system(", "os.popen(", "getoutput(", "getstatusoutput("):
        assert needle not in source, needle
    # every command the tool runs is named by absolute path (FakeSystem enforces it for
    # every test), and only system.py starts processes
    for path in modules:
        if path.name != "system.py":
            assert "subprocess" not in path.read_text(), path.name


def test_the_linter_refuses_a_shell_in_the_tool() -> None:
    """ruff, with the project's settings (run over the code by test_quality), reports a
    command run through a shell in a module of the tool."""
    probe = "import subprocess\n\nsubprocess.run('ls', shell=True, check=False)\n"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--output-format",
            "concise",
            "--stdin-filename",
            "watchdog_mdm/probe.py",
            "-",
        ],
        input=probe,
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "S602" in done.stdout  # flake8-bandit: subprocess call with shell=True


def test_many_long_different_lines_holding_markers_keep_memory_bounded(tmp_path: Path) -> None:
    """Lines and messages are remembered (read once however often they repeat) only when
    short, and only so many: 120 different lines of 0.9 MB, each with a marker, once
    took 600 MB (found in review)."""
    export = tmp_path / "long-lines.log"
    head = style_examples()["compact"][3]  # a real compact line, made long and different below
    assert "Sending HTTP request" in head
    with export.open("wb") as out:
        for n in range(120):
            out.write(f"{head} {n:06d} ".encode() + b"x" * 900_000 + b"\n")
    peak, done = _peak_rss_kib(installed_command(), "analyze", str(export), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["evidence"]["log"]["relevant_entries"] == 120
    assert peak < PEAK_LIMIT_MB * 1024, f"peak {peak} KiB"


@pytest.mark.parametrize("lines", [1, 120])
def test_lines_crowded_with_progress_markers_keep_memory_bounded(
    tmp_path: Path, lines: int
) -> None:
    """Each progress marker is taken for a line's start while lines of a run are proved
    alike: a line holding thousands, or lines each holding hundreds, must not be copied
    once for each (here a gigabyte, and 220 MB)."""
    when = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    progress = "".join(
        render("ndjson", when + timedelta(seconds=n), downloading(n / 10)) for n in range(4)
    )
    markers = 256 * 1024 // 20 if lines == 1 else 420
    crowded = ('{"eventMessage":"' + "Reported progress (x" * markers + '"}\n') * lines
    export = tmp_path / "crowded.ndjson"
    export.write_text(progress + crowded + progress)
    peak, done = _peak_rss_kib(installed_command(), "analyze", str(export), "--json")
    assert done.returncode == 0, done.stderr
    assert peak < PEAK_LIMIT_MB * 1024, f"peak {peak} KiB"


@pytest.mark.parametrize("opening", [b"[", b"[{", b"[ "])
@pytest.mark.parametrize("before", [b"", b"text that is no log\n"])
def test_an_input_ending_in_an_array_that_never_opens_ends(
    tmp_path: Path, opening: bytes, before: bytes
) -> None:
    """A "[" with nothing after it (no line break) once read itself again for ever: each
    time it was told to open a JSON export, and read again as a new input."""
    export = tmp_path / "opening.log"
    export.write_bytes(before + opening)
    done = run_installed("analyze", str(export), "--json")  # (a time limit: never hangs)
    assert done.returncode == 3, done.stderr
    assert "no readable log entry" in done.stderr
    done = run_installed("analyze", "-", "--json", stdin=before + opening)
    assert done.returncode == 3, done.stderr
