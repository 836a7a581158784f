"""The run history: every -diagnose and -heal run leaves one row in history.db; `history`
lists and summarizes them; nothing about it can change a verdict or an exit status."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
import subprocess
import sys
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.support import (
    REPO,
    FakeMac,
    FakeSystem,
    Reply,
    export,
    fake_system,
    heal,
    prefs,
    reconstructed_lines,
    run_heal,
    run_installed,
    saved_state,
)
from watchdog_mdm.cli import cli
from watchdog_mdm.history import (
    COLUMNS,
    HISTORY_PATH,
    PRUNE_LIMIT,
    REFUSED_ATTEMPTS,
    SCHEDULE,
    RunAction,
    RunRecord,
    read_history,
    record_run,
    summarize,
)
from watchdog_mdm.state import STATE_PATH
from watchdog_mdm.system import MacSystem

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def run(
    started: datetime,
    *,
    mode: str = "heal",
    client: str = "false",
    updates: str = "false",
    restarted: bool = False,
    awake_since: datetime | None = None,
    exit_code: int = 0,
) -> RunRecord:
    """A run as the history stores it, started at ``started``, lasting ten seconds."""
    actions = (RunAction("mdmclient", "restart", True, True, None),) if restarted else ()
    return RunRecord(
        started=started,
        finished=started + timedelta(seconds=10),
        mode=mode,
        exit_code=exit_code,
        mdm_enrolled="true",
        mdm_identity_error="false",
        mdm_client_stuck=client,
        software_updates_stuck=updates,
        client_state="request-hung" if client == "true" else "healthy",
        update_state="stalled" if updates == "true" else "none",
        mdm_client_restarted=restarted,
        actions=actions,
        awake_since=awake_since,
    )


def invoke(system: FakeSystem, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=system)


def db_file(system: FakeSystem) -> Path:
    return system.on_disk(HISTORY_PATH)


# ------------------------------------------------------------------ recording


class TestRecording:
    def test_a_heal_run_leaves_one_row_with_its_verdicts_actions_and_exit_status(self) -> None:
        system = fake_system()
        result = heal(system)
        assert result.exit_code == 0
        (row,) = read_history(system)
        # times are kept to the second
        assert (row.mode, row.exit_code) == ("heal", 0)
        assert row.started == system.clock.replace(microsecond=0)
        assert (row.mdm_enrolled, row.mdm_client_stuck, row.software_updates_stuck) == (
            "true",
            "true",
            "true",
        )
        assert row.client_state == "quiet-too-long"
        assert row.mdm_client_restarted and row.software_update_restarted
        assert [(a.daemon, a.decision, a.restarted) for a in row.actions] == [
            ("mdmclient", "restart", True),
            ("softwareupdated", "restart", True),
        ]
        assert row.version and row.id == 1

    def test_a_diagnose_run_is_recorded_too_and_a_dry_run_is_not(self) -> None:
        system = fake_system(stuck=False)
        assert invoke(system, "-diagnose").exit_code == 0
        assert heal(system, "--dry-run").exit_code == 0
        assert [r.mode for r in read_history(system)] == ["diagnose"]

    def test_a_run_that_proves_nothing_is_recorded_with_its_exit_status_3(self) -> None:
        system = fake_system()
        system.replies["/usr/bin/log"] = [Reply(b"")]
        assert heal(system).exit_code == 3
        (row,) = read_history(system)
        assert row.exit_code == 3
        assert row.mdm_client_stuck == "unknown"
        assert "printed nothing" in row.error

    def test_a_run_that_finds_another_running_is_recorded_with_exit_status_4(self) -> None:
        system = fake_system()
        system.locked = True
        assert heal(system).exit_code == 4
        (row,) = read_history(system)
        assert (row.exit_code, row.mdm_client_stuck, row.actions) == (4, "unknown", ())

    def test_a_history_that_cannot_be_written_changes_neither_output_nor_exit_status(
        self,
    ) -> None:
        normal = heal(fake_system())
        system = fake_system()
        system.private_file_error = PermissionError(13, "Permission denied")
        broken = heal(system)
        assert broken.exit_code == normal.exit_code == 0
        assert broken.stdout == normal.stdout
        assert broken.stderr == (
            f"mdm-watchdog: warning: could not record this run in {HISTORY_PATH}: "
            "Permission denied\n"
        )
        assert system.procs != {}  # the restarts happened all the same
        assert saved_state(system)["last_mdm_kickstart"] != "0001-01-01T00:00:00Z"

    def test_a_month_of_runs_keeps_only_history_days(self) -> None:
        system = fake_system()
        prefs(system, HistoryDays=7)
        starts, restarts = [], 0
        for _ in range(int(31 * DAY / SCHEDULE)):
            system.clock += SCHEDULE
            result = heal(system)
            assert result.exit_code == 0
            starts.append(system.clock.replace(microsecond=0))
            restarts += "MDMClientRestarted: true" in result.stdout
        rows = read_history(system)
        kept = [s for s in starts if s >= starts[-2] - 7 * DAY]
        assert [r.started for r in rows] == kept
        assert rows[0].id == len(starts) - len(kept) + 1  # the older ones were removed
        # once a day at most: the cooldown
        recent = sum(r.mdm_client_restarted for r in rows)
        assert 7 <= recent <= 8
        assert restarts >= 30

    def test_each_run_removes_the_rows_older_than_history_days(self) -> None:
        system = FakeSystem()
        for day in range(100):
            assert record_run(system, run(T0 + day * DAY), 90) == []
        rows = read_history(system)
        # 90 days before the run recorded before the last one, to the second
        assert rows[0].started == T0 + 8 * DAY
        assert len(rows) == 92

    def test_a_corrupt_database_is_set_aside_and_the_state_kept(self) -> None:
        system = fake_system()
        assert heal(system).exit_code == 0
        state_before = system.files[STATE_PATH]
        garbage = b"this is not a database, it was damaged on the way" * 40
        db_file(system).write_bytes(garbage)
        system.clock += SCHEDULE
        result = heal(system)
        assert result.exit_code == 0
        assert f"{HISTORY_PATH} was corrupt (file is not a database); moved aside to " in (
            result.stderr
        )
        (aside,) = db_file(system).parent.glob("history.db.corrupt-*")
        assert aside.read_bytes() == garbage
        (row,) = read_history(system)
        assert row.started == system.clock.replace(microsecond=0)
        assert (
            json.loads(system.files[STATE_PATH])["last_run"] != json.loads(state_before)["last_run"]
        )

    def test_a_malformed_index_is_set_aside_too(self) -> None:
        # SQLite reports it as SQLITE_CORRUPT_INDEX, an extended code of SQLITE_CORRUPT
        system = FakeSystem()
        for day in (0, 1, 2, 3, 4, 100):
            assert record_run(system, run(T0 + day * DAY), 90) == []
        with sqlite3.connect(db_file(system)) as connection:
            connection.execute("PRAGMA writable_schema=ON")
            connection.execute(
                "UPDATE sqlite_master SET sql = "
                "'CREATE INDEX runs_by_start ON runs (finished_unix DESC)' "
                "WHERE name = 'runs_by_start'"
            )
        connection.close()
        # the next run removes the first five rows, through the index
        (warning,) = record_run(system, run(T0 + 101 * DAY), 90)
        assert "was corrupt (database disk image is malformed); moved aside to " in warning
        assert len(list(db_file(system).parent.glob("history.db.corrupt-*"))) == 1
        assert [r.started for r in read_history(system)] == [T0 + 101 * DAY]

    def test_a_table_of_another_shape_is_set_aside_and_started_afresh(self) -> None:
        system = FakeSystem()
        db_file(system).parent.mkdir(parents=True)
        with sqlite3.connect(db_file(system)) as connection:
            connection.execute("CREATE TABLE runs (x)")
            connection.execute("INSERT INTO runs VALUES ('kept')")
        connection.close()
        (warning,) = record_run(system, run(T0), 90)
        assert warning.startswith(f"{HISTORY_PATH} is not this program's run history (")
        assert "moved aside to " in warning
        assert record_run(system, run(T0 + SCHEDULE), 90) == []  # warned once, not forever
        assert len(read_history(system)) == 2
        (aside,) = db_file(system).parent.glob("history.db.corrupt-*")
        with sqlite3.connect(aside) as connection:
            assert connection.execute("SELECT x FROM runs").fetchall() == [("kept",)]
        connection.close()

    def test_a_history_of_a_newer_version_is_left_alone_and_the_run_not_recorded(self) -> None:
        system = FakeSystem()
        assert record_run(system, run(T0), 90) == []
        with sqlite3.connect(db_file(system)) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")  # whatever the newer one chose
            connection.execute("PRAGMA user_version=2")
        connection.close()
        before = db_file(system).read_bytes()
        (warning,) = record_run(system, run(T0 + SCHEDULE), 90)
        assert warning == (
            f"could not record this run in {HISTORY_PATH}: it was written by a newer "
            "version (schema 2; this version writes 1); it is left as it is"
        )
        assert db_file(system).read_bytes() == before
        assert list(db_file(system).parent.glob("history.db.corrupt-*")) == []

    def test_a_clock_far_ahead_does_not_wipe_the_history(self) -> None:
        system = FakeSystem()
        for day in range(90):
            assert record_run(system, run(T0 + day * DAY), 90) == []
        future = datetime(2099, 1, 1, tzinfo=UTC)
        assert record_run(system, run(future), 90) == []
        assert len(read_history(system)) == 91  # the run ahead removes nothing
        assert record_run(system, run(future + SCHEDULE), 90) == []
        # a second run ahead: at most the oldest PRUNE_LIMIT rows
        rows = read_history(system)
        assert len(rows) == 92 - PRUNE_LIMIT
        assert rows[0].started == T0 + PRUNE_LIMIT * DAY
        # the clock put right: nothing recent is lost
        assert record_run(system, run(T0 + 90 * DAY), 90) == []
        assert len(read_history(system)) == 93 - PRUNE_LIMIT


class OtherWriterFirst(MacSystem):
    """The real seam over a new history that another writer holds (BEGIN IMMEDIATE)
    before a run's first write; its sleeps are counted, and the other writer lets go
    during the first of them when ``lets_go``."""

    def __init__(self, root: Path, *, lets_go: bool) -> None:
        super().__init__(root)
        self.slept: list[float] = []
        self.lets_go = lets_go
        path = self.private_file(HISTORY_PATH, create=True)
        assert path is not None
        self.other = sqlite3.connect(path, isolation_level=None)
        self.other.execute("BEGIN IMMEDIATE")

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.lets_go and self.other.in_transaction:
            self.other.execute("ROLLBACK")


class TestOnTheFakeMac:
    """The real seam: file modes, WAL mode, links, and processes writing at once."""

    def test_the_database_is_root_only_in_wal_mode(self, enrolled_mac: FakeMac) -> None:
        enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 0.1))
        assert run_heal(enrolled_mac).returncode == 0
        path = enrolled_mac.root / HISTORY_PATH.lstrip("/")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert connection.execute("SELECT count(*) FROM runs").fetchone() == (1,)
        connection.close()

    def test_a_loose_mode_is_tightened(self, enrolled_mac: FakeMac) -> None:
        path = enrolled_mac.write(HISTORY_PATH, b"")
        path.chmod(0o644)
        enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 0.1))
        assert run_heal(enrolled_mac).returncode == 0
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_a_link_in_its_place_is_refused_and_the_run_goes_on(
        self, enrolled_mac: FakeMac, tmp_path: Path
    ) -> None:
        elsewhere = tmp_path / "elsewhere.db"
        elsewhere.write_bytes(b"")
        link = enrolled_mac.root / HISTORY_PATH.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(elsewhere)
        enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 0.1))
        done = run_heal(enrolled_mac)
        assert done.returncode == 0
        assert done.stderr.startswith(
            f"mdm-watchdog: warning: could not record this run in {HISTORY_PATH}: "
        )
        assert len(done.stderr.splitlines()) == 1
        assert elsewhere.read_bytes() == b""
        assert saved_state(enrolled_mac)["last_run"]["error"] is None

    def test_a_corrupt_database_is_set_aside_by_the_installed_command(
        self, enrolled_mac: FakeMac
    ) -> None:
        enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 0.1))
        assert run_heal(enrolled_mac).returncode == 0
        state = saved_state(enrolled_mac)
        enrolled_mac.write(HISTORY_PATH, b"\x00garbage" * 512)
        done = run_heal(enrolled_mac)
        assert done.returncode == 0
        assert "was corrupt" in done.stderr
        assert (
            saved_state(enrolled_mac)["last_run"]["started_at"] > (state["last_run"]["started_at"])
        )
        folder = enrolled_mac.root / HISTORY_PATH.lstrip("/").rpartition("/")[0]
        assert len(list(folder.glob("history.db.corrupt-*"))) == 1
        listed = run_installed("--system-root", str(enrolled_mac.root), "history", "--json")
        assert listed.returncode == 0
        assert len(json.loads(listed.stdout)) == 1

    def test_processes_writing_at_once_lose_and_corrupt_no_row(self, tmp_path: Path) -> None:
        writer = (
            "import sys\n"
            "from datetime import datetime, UTC\n"
            "from watchdog_mdm.history import RunRecord, record_run\n"
            "from watchdog_mdm.system import MacSystem\n"
            "system, name = MacSystem(sys.argv[1]), sys.argv[2]\n"
            "for n in range(25):\n"
            "    now = datetime.now(UTC)\n"
            "    record = RunRecord(now, now, 'heal', 0, error=f'{name}-{n}')\n"
            "    assert record_run(system, record, 90) == [], name\n"
        )
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", writer, str(tmp_path), f"w{i}"],
                cwd=REPO,
                stderr=subprocess.PIPE,
            )
            for i in range(4)
        ]
        for process in writers:
            _, errors = process.communicate(timeout=120)
            assert process.returncode == 0, errors.decode()
        rows = read_history(MacSystem(tmp_path))
        assert sorted(r.error for r in rows) == sorted(
            f"w{i}-{n}" for i in range(4) for n in range(25)
        )
        assert len({r.id for r in rows}) == 100
        path = tmp_path / HISTORY_PATH.lstrip("/")
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        connection.close()

    def test_a_first_run_refused_at_once_by_another_writer_begins_again(
        self, tmp_path: Path
    ) -> None:
        """Two first runs at once: while the new database is not yet in WAL mode, each
        may hold a lock the other needs, and SQLite refuses one at once ("database is
        locked", not after the busy timeout). It begins again after a moment, and its
        row is kept (found as a rare failure of the test above)."""
        system = OtherWriterFirst(tmp_path, lets_go=True)
        now = datetime.now(UTC)
        with closing(system.other):
            assert record_run(system, RunRecord(now, now, "heal", 0, error="second"), 90) == []
        assert [row.error for row in read_history(MacSystem(tmp_path))] == ["second"]
        assert len(system.slept) == 1 and 0 < system.slept[0] < 1

    def test_a_run_still_refused_after_its_attempts_says_so(self, tmp_path: Path) -> None:
        system = OtherWriterFirst(tmp_path, lets_go=False)
        now = datetime.now(UTC)
        with closing(system.other):
            problems = record_run(system, RunRecord(now, now, "heal", 0), 90)
        assert problems == [f"could not record this run in {HISTORY_PATH}: database is locked"]
        assert len(system.slept) == REFUSED_ATTEMPTS - 1

    def test_threads_writing_at_once_lose_no_row(self, tmp_path: Path) -> None:
        system = MacSystem(tmp_path)
        problems: list[str] = []

        def write(name: str) -> None:
            for n in range(25):
                now = datetime.now(UTC)
                problems.extend(
                    record_run(system, RunRecord(now, now, "heal", 0, error=f"{name}-{n}"), 90)
                )

        threads = [threading.Thread(target=write, args=(f"t{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert problems == []
        assert sorted(r.error for r in read_history(system)) == sorted(
            f"t{i}-{n}" for i in range(4) for n in range(25)
        )


# ------------------------------------------------------------------ the summary


class TestSummary:
    def test_restarts_are_counted_per_daemon(self) -> None:
        rows = [
            run(T0, client="true", restarted=True),
            run(T0 + SCHEDULE),
            run(T0 + DAY, client="true", restarted=True),
        ]
        summary = summarize(rows, T0 + 2 * DAY)
        assert summary.restarts == {"mdmclient": 2, "softwareupdated": 0}
        assert (summary.runs, summary.heal_runs) == (3, 3)

    def test_consecutive_stuck_runs_are_one_episode_ending_at_the_first_well_run(
        self,
    ) -> None:
        rows = [
            run(T0),
            run(T0 + SCHEDULE, client="true"),
            run(T0 + 2 * SCHEDULE, client="unknown"),  # neither ends nor breaks it
            run(T0 + 3 * SCHEDULE, client="true"),
            run(T0 + 4 * SCHEDULE),
            run(T0 + 5 * SCHEDULE, updates="true"),
        ]
        now = T0 + 6 * SCHEDULE
        summary = summarize(rows, now)
        client, updates = summary.episodes
        assert (client.daemon, client.started, client.ended, client.runs) == (
            "mdmclient",
            T0 + SCHEDULE,
            T0 + 4 * SCHEDULE,
            2,
        )
        assert client.duration(now) == 3 * SCHEDULE
        assert (updates.daemon, updates.ended, updates.runs) == ("softwareupdated", None, 1)
        assert updates.duration(now) == SCHEDULE  # still stuck: until now

    def test_a_gap_while_awake_is_missed_runs(self) -> None:
        rows = [run(T0), run(T0 + 4 * SCHEDULE, awake_since=T0 - DAY)]
        summary = summarize(rows, T0 + 4 * SCHEDULE)
        assert (summary.missed_runs, summary.missed_runs_include_sleep) == (3, False)

    def test_a_gap_that_ends_in_a_wake_counts_only_from_the_wake(self) -> None:
        asleep_overnight = [run(T0), run(T0 + 10 * HOUR, awake_since=T0 + 10 * HOUR)]
        assert summarize(asleep_overnight, T0 + 10 * HOUR).missed_runs == 0
        woke_then_missed = [run(T0), run(T0 + 10 * HOUR, awake_since=T0 + 10 * HOUR - 3 * SCHEDULE)]
        assert summarize(woke_then_missed, T0 + 10 * HOUR).missed_runs == 2

    def test_without_wake_evidence_gaps_over_two_intervals_count_sleep_included(self) -> None:
        late = [run(T0), run(T0 + 2 * SCHEDULE - timedelta(minutes=1))]
        assert summarize(late, T0 + 2 * SCHEDULE).missed_runs == 0  # late, not missed
        overnight = [run(T0), run(T0 + 10 * HOUR)]
        summary = summarize(overnight, T0 + 10 * HOUR)
        assert summary.missed_runs == int(10 * HOUR / SCHEDULE) - 1
        assert summary.missed_runs_include_sleep

    def test_only_the_daemons_own_runs_count_for_missed_runs(self) -> None:
        rows = [run(T0), run(T0 + HOUR, mode="diagnose"), run(T0 + 3 * SCHEDULE + HOUR)]
        summary = summarize(rows, T0 + 3 * SCHEDULE + HOUR)
        assert (summary.runs, summary.heal_runs, summary.missed_runs) == (3, 2, 2)

    def test_the_gap_since_the_last_heal_run_counts_too(self) -> None:
        rows = [run(T0 + n * SCHEDULE) for n in range(5)]
        summary = summarize(rows, T0 + 4 * SCHEDULE + 10 * DAY)
        assert summary.missed_runs == int(10 * DAY / SCHEDULE) - 1
        assert summary.missed_runs_include_sleep  # nothing says when the Mac slept since
        assert summarize(rows, T0 + 5 * SCHEDULE).missed_runs == 0  # the next run is due

    def test_a_failed_restart_is_one_refused_or_whose_fresh_process_was_not_seen(
        self,
    ) -> None:
        def restart(restarted: bool, verified: bool) -> RunRecord:
            action = RunAction("mdmclient", "restart", restarted, verified, None)
            return RunRecord(T0, T0, "heal", 0, mdm_client_restarted=restarted, actions=(action,))

        assert summarize([restart(True, True)], T0).failed_restarts == 0
        assert summarize([restart(True, False)], T0).failed_restarts == 1
        assert summarize([restart(False, False)], T0).failed_restarts == 1
        waited = RunAction("mdmclient", "wait", False, False, "cooldown")
        assert summarize([RunRecord(T0, T0, "heal", 0, actions=(waited,))], T0).failed_restarts == 0

    def test_an_empty_history(self) -> None:
        summary = summarize([], T0)
        assert (summary.runs, summary.missed_runs, summary.episodes) == (0, 0, ())
        assert summary.first_run is None


# ------------------------------------------------------------------ the command


@pytest.fixture
def recorded() -> FakeSystem:
    """A fake Mac with four runs: healthy, wedged and restarted, still wedged, well."""
    system = FakeSystem(clock=T0 + 40 * DAY)
    rows = [
        run(T0 + 30 * DAY),
        run(T0 + 38 * DAY, client="true", restarted=True),
        run(T0 + 38 * DAY + SCHEDULE, client="true", mode="diagnose", exit_code=3),
        run(T0 + 39 * DAY),
    ]
    for row in rows:
        assert record_run(system, row, 90) == []
    return system


class TestCommand:
    def test_the_runs_one_line_each_in_local_time(self, recorded: FakeSystem) -> None:
        result = invoke(recorded, "history")
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert len(lines) == 4
        assert lines[1] == (
            "2026-12-09 08:00:00  heal      exit 0  MDMEnrolled: true MDMIdentityError: false "
            "MDMClientStuck: true MDMSoftwareUpdatesStuck: false  restarted: mdmclient"
        )

    def test_since_keeps_only_recent_runs(self, recorded: FakeSystem) -> None:
        result = invoke(recorded, "history", "--since", "3d", "--json")
        assert result.exit_code == 0
        runs = json.loads(result.stdout)
        assert [r["started_at"] for r in runs] == [
            "2026-12-09T08:00:00Z",
            "2026-12-09T09:35:00Z",
            "2026-12-10T08:00:00Z",
        ]

    def test_json_has_every_column(self, recorded: FakeSystem) -> None:
        runs = json.loads(invoke(recorded, "history", "--json").stdout)
        assert list(runs[0]) == [name for name, _ in COLUMNS]
        assert runs[1]["actions"] == [
            {
                "daemon": "mdmclient",
                "decision": "restart",
                "restarted": True,
                "verified": True,
                "problem": None,
            }
        ]
        assert runs[1]["mdm_client_restarted"] is True
        assert runs[2]["exit_code"] == 3
        assert runs[0]["started_unix"] == int((T0 + 30 * DAY).timestamp())

    def test_csv_has_a_header_and_a_row_per_run(self, recorded: FakeSystem) -> None:
        result = invoke(recorded, "history", "--csv")
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert [r["mode"] for r in rows] == ["heal", "heal", "diagnose", "heal"]
        assert list(rows[0]) == [name for name, _ in COLUMNS]
        assert rows[1]["mdm_client_restarted"] == "1"

    def test_summary(self, recorded: FakeSystem) -> None:
        result = invoke(recorded, "history", "--summary")
        assert result.exit_code == 0
        assert result.stdout.splitlines() == [
            "Runs (all recorded runs): 4, of which -heal: 3",
            "First run: 2026-12-01 08:00:00; last run: 2026-12-10 08:00:00",
            "Restarts: mdmclient 1, softwareupdated 0",
            "Wedged episodes: 1",
            "  mdmclient stuck from 2026-12-09 08:00:00 to 2026-12-10 08:00:00 (2 runs, 1d 0h 00m)",
            # 8 days between the first two -heal runs (121 intervals: 120 missed), a
            # day between the last two and another since (15 intervals: 14 missed,
            # each); no wake recorded
            "Missed scheduled runs: 148 (includes time asleep: some gaps have no record of "
            "when the Mac woke)",
        ]

    def test_summary_json(self, recorded: FakeSystem) -> None:
        result = invoke(recorded, "history", "--summary", "--since", "30d", "--json")
        document = json.loads(result.stdout)
        assert document == {
            "since": "2026-11-11T08:00:00Z",
            "until": "2026-12-11T08:00:00Z",
            "runs": 4,
            "heal_runs": 3,
            "first_run": "2026-12-01T08:00:00Z",
            "last_run": "2026-12-10T08:00:00Z",
            "restarts": {"mdmclient": 1, "softwareupdated": 0},
            "failed_restarts": 0,
            "wedged_episodes": [
                {
                    "daemon": "mdmclient",
                    "started": "2026-12-09T08:00:00Z",
                    "ended": "2026-12-10T08:00:00Z",
                    "ongoing": False,
                    "runs": 2,
                    "duration_seconds": 86400,
                }
            ],
            "missed_runs": 148,
            "missed_runs_include_sleep": True,
        }

    def test_a_bare_number_since_is_minutes_as_everywhere(self, recorded: FakeSystem) -> None:
        assert invoke(recorded, "history", "--since", "30").stdout == ""
        assert len(invoke(recorded, "history", "--since", "30d").stdout.splitlines()) == 4

    def test_no_history_yet(self) -> None:
        system = FakeSystem()
        assert invoke(system, "history").stdout == ""
        assert json.loads(invoke(system, "history", "--json").stdout) == []
        summary = json.loads(invoke(system, "history", "--summary", "--json").stdout)
        assert (summary["runs"], summary["restarts"]) == (0, {"mdmclient": 0, "softwareupdated": 0})
        assert not db_file(system).exists()  # reading never creates it

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--since", "soon"], "'soon' is not a duration"),
            (["--since", "0m"], "out of range"),
            (["--since", "99999d"], "out of range"),
            (["--json", "--csv"], "choose one of --json and --csv"),
            (["--summary", "--csv"], "--summary prints text or --json"),
        ],
    )
    def test_bad_options_are_one_line_and_exit_2(self, args: list[str], message: str) -> None:
        done = run_installed("history", *args)
        assert done.returncode == 2
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1
        assert done.stderr.startswith("mdm-watchdog: error: ")
        assert message in done.stderr

    def test_an_unreadable_history_is_one_line_and_exit_5(self, fake_mac: FakeMac) -> None:
        fake_mac.write(HISTORY_PATH, b"not a database at all" * 100)
        done = run_installed("--system-root", str(fake_mac.root), "history")
        assert done.returncode == 5
        assert done.stderr == (
            f"mdm-watchdog: error: cannot read {HISTORY_PATH}: file is not a database\n"
        )
        assert (fake_mac.root / HISTORY_PATH.lstrip("/")).read_bytes().startswith(b"not a")

    def test_reading_changes_nothing(self, recorded: FakeSystem) -> None:
        path = db_file(recorded)
        before = path.read_bytes()
        assert len(json.loads(invoke(recorded, "history", "--json").stdout)) == 4
        assert invoke(recorded, "history", "--summary").exit_code == 0
        assert path.read_bytes() == before
        # nor leaves SQLite's WAL files behind
        assert {p.name for p in path.parent.iterdir()} == {"history.db"}


class TestCommandReads:
    def test_duration_is_the_stored_one_not_whole_seconds(self) -> None:
        system = FakeSystem(clock=T0 + DAY)
        started = T0.replace(microsecond=900_000)
        record = RunRecord(started, started + timedelta(milliseconds=200), "heal", 0)
        assert record_run(system, record, 90) == []
        (listed,) = json.loads(invoke(system, "history", "--json").stdout)
        assert listed["duration_seconds"] == 0.2
        (row,) = csv.DictReader(io.StringIO(invoke(system, "history", "--csv").stdout))
        assert row["duration_seconds"] == "0.2"

    def test_reading_leaves_no_file_behind(self) -> None:
        system = fake_system(stuck=False)
        assert invoke(system, "-diagnose").exit_code == 0
        folder = db_file(system).parent
        before = sorted(p.name for p in folder.iterdir())
        for args in (["history"], ["history", "--json"], ["history", "--summary", "--json"]):
            assert invoke(system, *args).exit_code == 0
        assert sorted(p.name for p in folder.iterdir()) == before


def test_usage_documents_the_command_and_every_summary_key(recorded: FakeSystem) -> None:
    usage = (REPO / "docs" / "usage.md").read_text()
    section = usage.split("### `history`", 1)[1].split("\n### ", 1)[0]
    summary = json.loads(invoke(recorded, "history", "--summary", "--json").stdout)
    for key in [*summary, *summary["wedged_episodes"][0], *summary["restarts"]]:
        assert f"`{key}`" in section, key
    assert invoke(recorded, "history").stdout.splitlines()[1] in section
    assert f"a run removes at most {PRUNE_LIMIT}\nrows" in section
    assert "a bare number is minutes" in section
    assert "mdm-watchdog history [--since 30d] [--summary] [--json | --csv]" in usage
