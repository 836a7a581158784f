"""`-heal`: plan, act, record — on the recording fake System, which also plays launchd."""

from __future__ import annotations

import json
import plistlib
import signal
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner

from tests.support import (
    ENROLLMENT,
    KICK_MDM,
    LAUNCHCTL,
    NOT_ENROLLED,
    REPO,
    RFC3339_MICRO,
    SIP_REFUSAL,
    SU_SEQUENCE,
    TRAILER,
    WINDOW,
    FakeSystem,
    Reply,
    actions,
    diagnose,
    entries,
    fake_system,
    heal,
    prefs,
    quiet,
    quiet_rule,
    reconstructed_export,
    run_lines,
    saved_state,
)
from watchdog_mdm.cli import cli
from watchdog_mdm.config import LOCAL_PREFERENCES, MANAGED_PREFERENCES, Settings
from watchdog_mdm.evidence import Collector, Sighting
from watchdog_mdm.heal import MDM_CLIENT, SOFTWARE_UPDATE, effective_kickstarts, plan_heal
from watchdog_mdm.run import SCHEDULE, missed_runs
from watchdog_mdm.state import STATE_PATH, Kickstarts
from watchdog_mdm.verdicts import judge


class TestPlan:
    at = datetime.fromisoformat("2023-05-04T08:00:00+00:00")

    def plan(
        self, kickstarts: Kickstarts | None = None, settings: Settings | None = None
    ) -> dict[str, str]:
        d = diagnose(run_lines(), at=self.at, enrollment=ENROLLMENT)
        assert d.updates_stuck
        return {
            a.daemon.name: a.decision
            for a in plan_heal(d, kickstarts or Kickstarts(), settings or Settings(), self.at)
        }

    def test_both_restart_when_updates_are_stuck(self) -> None:
        assert self.plan() == {"mdmclient": "restart", "softwareupdated": "restart"}

    def test_healthy_needs_nothing(self) -> None:
        d = diagnose(
            run_lines(), at=self.at - timedelta(hours=2, minutes=40), enrollment=ENROLLMENT
        )
        assert {a.decision for a in plan_heal(d, Kickstarts(), Settings(), self.at)} == {
            "not needed"
        }

    def test_cooldown_per_daemon(self) -> None:
        recent = Kickstarts(mdm_client=self.at - timedelta(hours=23, minutes=59))
        assert self.plan(recent) == {"mdmclient": "cooldown", "softwareupdated": "restart"}
        exactly = Kickstarts(mdm_client=self.at - timedelta(hours=24))
        assert self.plan(exactly)["mdmclient"] == "restart"

    def test_configuration_can_switch_each_off(self) -> None:
        settings = Settings(heal_mdm_client=False, heal_software_update=False)
        assert set(self.plan(settings=settings).values()) == {"disabled"}

    def test_future_kickstart_blocks_one_cooldown_from_now_only(self) -> None:
        future = Kickstarts(mdm_client=self.at + timedelta(days=365))
        assert self.plan(future)["mdmclient"] == "cooldown"
        d = diagnose(run_lines(), at=self.at, enrollment=ENROLLMENT)
        (mdm, _) = plan_heal(d, future, Settings(), self.at)
        assert f"after {(self.at + timedelta(hours=24)).isoformat()}" in mdm.reason
        assert effective_kickstarts(future, self.at).mdm_client == self.at

    def test_identity_error_is_not_healed_by_a_restart(self) -> None:
        obs = Collector().add_all(entries(run_lines())).observations()
        identity = Sighting(self.at - timedelta(minutes=10), "Unable to create MDM identity")
        obs = replace(obs, identity_errors=(identity,))
        d = judge(obs, self.at, quiet_rule(WINDOW), ENROLLMENT)
        assert d.identity_error and d.client_stuck and d.updates_stuck
        assert {a.decision for a in plan_heal(d, Kickstarts(), Settings(), self.at)} == {
            "identity error"
        }


class TestHeal:
    def test_healthy_runs_nothing_and_records_the_run(self) -> None:
        system = fake_system(stuck=False)
        result = heal(system)
        assert result.exit_code == 0, result.output
        assert result.output == (
            "MDMEnrolled: true MDMIdentityError: false MDMClientStuck: false "
            "MDMSoftwareUpdatesStuck: false MDMClientRestarted: false "
            "SoftwareUpdateDaemonRestarted: false "
            "LastMDMKickstart: 0001-01-01 00:00:00 +0000 UTC "
            "LastSoftwareUpdateDaemonKickstart: 0001-01-01 00:00:00 +0000 UTC\n"
        )
        assert actions(system) == []
        saved = saved_state(system)
        assert saved["last_mdm_kickstart"] == "0001-01-01T00:00:00Z"
        assert saved["last_software_update_kickstart"] == "0001-01-01T00:00:00Z"
        assert saved["schema_version"] == 1
        assert saved["last_run"]["result"]["MDMClientStuck"] is False
        assert system.system_log == [result.output.strip()]

    def test_stuck_client_is_kickstarted_once_per_cooldown(self) -> None:
        system = fake_system(updates=False)
        first = heal(system)
        assert first.exit_code == 0, first.output
        assert "MDMClientRestarted: true SoftwareUpdateDaemonRestarted: false" in first.output
        assert actions(system) == [KICK_MDM]
        stamp = saved_state(system)["last_mdm_kickstart"]
        assert RFC3339_MICRO.fullmatch(stamp)
        assert datetime.fromisoformat(stamp) == system.clock

        quiet(system)
        again = heal(system)
        assert actions(system) == []
        assert "MDMClientRestarted: false" in again.output
        assert f"LastMDMKickstart: {system.clock.strftime('%Y-%m-%d %H:%M:%S')}" in again.output

        system.clock += timedelta(hours=24)
        quiet(system)
        heal(system)
        assert actions(system) == [KICK_MDM]

    def test_software_updates_stuck_runs_the_four_step_sequence(self) -> None:
        system = fake_system()
        result = heal(system, "--json")
        assert actions(system) == [KICK_MDM, *SU_SEQUENCE]
        doc = json.loads(result.output)
        assert doc["MDMClientRestarted"] is True
        assert doc["SoftwareUpdateDaemonRestarted"] is True
        daemons = {d["daemon"]: d for d in doc["heal"]["daemons"]}
        assert daemons["softwareupdated"]["method"] == "kickstart"
        assert daemons["softwareupdated"]["verified"] is True
        assert [c["argv"] for c in daemons["softwareupdated"]["commands"]] == [
            list(c) for c in SU_SEQUENCE
        ]

    def test_not_enrolled_runs_nothing(self) -> None:
        system = fake_system(enrolled=NOT_ENROLLED)
        system.replies["/usr/bin/log"] = [Reply(TRAILER)]
        heal(system)
        assert actions(system) == []

    def test_refused_kickstart_falls_back_to_signalling_the_root_daemon_only(self) -> None:
        system = fake_system(updates=False)
        system.reply(LAUNCHCTL, Reply(b"", 150, SIP_REFUSAL))
        (daemon,) = system.procs[MDM_CLIENT.executable]
        agent = system.start(MDM_CLIENT.executable, uid=501)  # a user's `mdmclient agent`
        decoy = system.start("/usr/local/bin/mdmclient")  # same name, other path
        result = heal(system, "--json")
        doc = json.loads(result.output)
        assert doc["MDMClientRestarted"] is True
        assert system.signals == [(daemon.pid, signal.SIGTERM)]
        assert agent in system.procs[MDM_CLIENT.executable]
        assert decoy in system.procs["/usr/local/bin/mdmclient"]
        (mdm,) = [d for d in doc["heal"]["daemons"] if d["daemon"] == "mdmclient"]
        assert mdm["method"] == "signal"
        assert mdm["verified"] is True
        assert mdm["commands"][0]["returncode"] == 150
        assert "System Integrity Protection" in mdm["commands"][0]["detail"]

    def test_softwareupdated_is_signalled_as_its_own_account_runs_it(self) -> None:
        # macOS 26.3's `ps aux`: softwareupdated runs as _softwareupdate (uid 200)
        system = fake_system()
        system.reply(LAUNCHCTL, Reply(b"", 150, SIP_REFUSAL))
        system.procs[SOFTWARE_UPDATE.executable] = []
        daemon = system.start(SOFTWARE_UPDATE.executable, uid=200)
        someone = system.start(SOFTWARE_UPDATE.executable, uid=501)  # a user ran the binary
        doc = json.loads(heal(system, "--json").output)
        assert doc["SoftwareUpdateDaemonRestarted"] is True
        assert (daemon.pid, signal.SIGTERM) in system.signals
        assert all(pid != someone.pid for pid, _ in system.signals)

    def test_a_daemon_that_ignores_sigterm_gets_sigkill(self) -> None:
        system = fake_system(updates=False)
        system.reply(LAUNCHCTL, Reply(b"", 150, SIP_REFUSAL))
        (daemon,) = system.procs[MDM_CLIENT.executable]
        original = system.send_signal

        def wedged(process: Any, signum: int) -> None:
            system.signals.append((process.pid, signum))
            if signum == signal.SIGKILL:
                system.signals.pop()
                original(process, signum)

        system.send_signal = wedged  # type: ignore[method-assign]
        heal(system)
        assert (daemon.pid, signal.SIGTERM) in system.signals
        assert (daemon.pid, signal.SIGKILL) in system.signals

    def test_nothing_to_signal_is_reported_not_restarted(self) -> None:
        system = fake_system(updates=False)
        system.procs.clear()
        system.reply(LAUNCHCTL, Reply(b"", 150, SIP_REFUSAL))
        doc = json.loads(heal(system, "--json").output)
        assert doc["MDMClientRestarted"] is False
        (mdm,) = [d for d in doc["heal"]["daemons"] if d["daemon"] == "mdmclient"]
        assert "no /usr/libexec/mdmclient process of its own account" in mdm["problem"]
        # the attempt still counts against the cooldown: no restart loop
        assert saved_state(system)["last_mdm_kickstart"] != "0001-01-01T00:00:00Z"

    def test_signal_not_permitted(self) -> None:
        system = fake_system(updates=False)
        system.reply(
            LAUNCHCTL, Reply(b"", 1, b"Could not kickstart service: 1: Operation not permitted\n")
        )
        system.signal_error = PermissionError(1, "Operation not permitted")
        doc = json.loads(heal(system, "--json").output)
        assert doc["MDMClientRestarted"] is False

    def test_restart_confirmation_is_reported_separately(self) -> None:
        system = fake_system(updates=False)
        system.reply(LAUNCHCTL, Reply(b"", 150, SIP_REFUSAL))
        system.relaunch = False
        result = heal(system, "--explain")
        assert "MDMClientRestarted: true" in result.output
        assert "mdmclient: restarted by signal; no fresh process seen yet" in result.output

    def test_log_failing_runs_nothing_exit_3(self) -> None:
        system = fake_system()
        system.replies["/usr/bin/log"] = [Reply(b"", 70)]
        result = heal(system)
        assert result.exit_code == 3
        assert "nothing was restarted" in result.output
        assert actions(system) == []
        assert "could not read the unified log" in saved_state(system)["last_run"]["error"]

    def test_unwritable_state_runs_nothing_exit_5(self) -> None:
        system = fake_system()
        system.unwritable = True
        result = heal(system)
        assert result.exit_code == 5
        assert actions(system) == []
        assert result.output.splitlines()[0].startswith("MDMEnrolled: true")
        assert "could not save /Library/Application Support/mdm-watchdog/state.json" in (
            result.output
        )
        assert "mdmclient was not restarted" in result.output

    def test_another_run_holding_the_lock_exits_4(self) -> None:
        system = fake_system()
        system.locked = True
        result = heal(system)
        assert result.exit_code == 4
        assert "another mdm-watchdog run is in progress" in result.output
        assert system.calls == []

    def test_dry_run_changes_nothing(self) -> None:
        system = fake_system()
        result = heal(system, "--dry-run")
        assert result.exit_code == 0
        assert actions(system) == []
        assert system.writes == []
        assert (
            "mdmclient: dry run, would run: /bin/launchctl kickstart -k "
            "system/com.apple.mdmclient.daemon"
        ) in result.output
        assert "would run: /usr/bin/dscacheutil -flushcache; " in result.output

    def test_dry_run_from_managed_preferences(self) -> None:
        system = fake_system()
        prefs(system, MANAGED_PREFERENCES, DryRun=True)
        heal(system)
        assert actions(system) == []
        assert system.writes == []

    def test_managed_preferences_change_window_and_cooldown(self) -> None:
        system = fake_system(updates=False)
        prefs(system, MANAGED_PREFERENCES, LookbackMinutes=30, KickstartCooldownHours=2)
        prefs(system, LOCAL_PREFERENCES, KickstartCooldownHours=48)  # managed wins
        heal(system)
        assert system.calls_to("/usr/bin/log")[0][6] == "31m"
        assert actions(system) == [KICK_MDM]
        system.clock += timedelta(hours=2)
        quiet(system)
        heal(system)
        assert actions(system) == [KICK_MDM]

    def test_a_bad_preference_is_reported_and_its_default_used(self) -> None:
        system = fake_system(updates=False)
        prefs(system, MANAGED_PREFERENCES, KickstartCooldownHours=0)
        result = heal(system)
        assert (
            "warning: /Library/Managed Preferences/com.github.mdm-watchdog.plist: "
            "KickstartCooldownHours 0 is below the minimum of 1; ignored"
        ) in result.output
        system.clock += timedelta(hours=1)
        quiet(system)
        heal(system)
        assert actions(system) == []  # still the 24h default

    def test_corrupt_state_is_moved_aside_and_healing_goes_on(self) -> None:
        system = fake_system(updates=False)
        system.files[STATE_PATH] = b'{"last_mdm_kickstart": "yesterday'
        result = heal(system)
        assert "warning: /Library/Application Support/mdm-watchdog/state.json was corrupt" in (
            result.output
        )
        aside = [p for p in system.files if ".corrupt-" in p]
        assert len(aside) == 1
        assert system.files[aside[0]] == b'{"last_mdm_kickstart": "yesterday'
        assert actions(system) == [KICK_MDM]

    def test_empty_state_is_moved_aside(self) -> None:
        system = fake_system(stuck=False)
        system.files[STATE_PATH] = b""
        assert "was empty" in heal(system).output

    def test_original_state_is_read_and_foreign_keys_are_kept(self) -> None:
        system = fake_system(updates=False)
        system.files[STATE_PATH] = json.dumps(
            {
                "last_mdm_kickstart": (system.clock - timedelta(hours=1)).isoformat(),
                "last_software_update_kickstart": "0001-01-01T00:00:00Z",
                "addigy_extra": [1, 2],
            }
        ).encode()
        heal(system)
        assert actions(system) == []
        assert saved_state(system)["addigy_extra"] == [1, 2]

    def test_clock_moved_back_blocks_one_cooldown_then_heals(self) -> None:
        system = fake_system(updates=False)
        future = system.clock + timedelta(days=300)
        system.files[STATE_PATH] = json.dumps(
            {
                "last_mdm_kickstart": future.isoformat(timespec="microseconds"),
                "last_software_update_kickstart": "0001-01-01T00:00:00Z",
            }
        ).encode()
        result = heal(system, "--explain")
        assert actions(system) == []
        assert "the clock went back?" in result.output
        assert datetime.fromisoformat(saved_state(system)["last_mdm_kickstart"]) == system.clock
        system.clock += timedelta(hours=24)
        quiet(system)
        heal(system)
        assert actions(system) == [KICK_MDM]

    def test_heal_line_prints_times_as_go_does(self) -> None:
        system = fake_system(updates=False)
        system.files[STATE_PATH] = json.dumps(
            {
                "last_mdm_kickstart": "2022-07-17T01:21:54.555443-04:00",
                "last_software_update_kickstart": "2022-07-20T14:30:00.250000+00:00",
            }
        ).encode()
        output = heal(system).output  # mdmclient is restarted now; softwareupdated is not
        assert "LastMDMKickstart: 2022-08-01 15:59:36.910717 -0400 -0400 " in output
        assert output.endswith(
            "LastSoftwareUpdateDaemonKickstart: 2022-07-20 14:30:00.25 +0000 UTC\n"
        )

    def test_heal_and_diagnose_are_exclusive(self) -> None:
        assert CliRunner().invoke(cli, ["-heal", "-diagnose"], obj=fake_system()).exit_code == 2
        assert CliRunner().invoke(cli, ["-diagnose", "--dry-run"], obj=fake_system()).exit_code == 2

    def test_a_heal_run_reads_the_state_once(self) -> None:
        system = fake_system()
        heal(system)
        assert system.events.count(f"read {STATE_PATH}") == 1

    def test_the_restart_time_is_saved_before_the_restart(self) -> None:
        system = fake_system()
        heal(system)
        kick = " ".join(KICK_MDM)
        first_save = system.events.index(f"write {STATE_PATH}")
        assert first_save < system.events.index(kick)
        second_save = system.events.index(f"write {STATE_PATH}", first_save + 1)
        assert (
            system.events.index(kick)
            < second_save
            < system.events.index("/usr/bin/dscacheutil -flushcache")
        )

    def test_identity_error_is_reported_and_nothing_run(self) -> None:
        system = fake_system()
        record = json.loads(
            next(
                x
                for x in reconstructed_export().splitlines()
                if x.startswith(b"{") and b"mdmclient" in x
            )
        )
        record["eventMessage"] = "Unable to create MDM identity"
        record["timestamp"] = (system.clock - timedelta(minutes=5)).strftime(
            "%Y-%m-%d %H:%M:%S.%f%z"
        )
        quiet(system, reconstructed_export())
        system.replies["/usr/bin/log"][0] = Reply(json.dumps(record).encode() + b"\n")
        doc = json.loads(heal(system, "--json").output)
        assert doc["MDMIdentityError"] is True and doc["MDMClientStuck"] is True
        assert {d["decision"] for d in doc["heal"]["daemons"]} == {"identity error"}
        assert actions(system) == []

    def test_launchd_names_the_program_to_signal(self) -> None:
        system = fake_system(updates=True)
        system.procs.clear()
        old_path = SOFTWARE_UPDATE.executables[1]
        daemon = system.start(old_path)
        system.reply(
            LAUNCHCTL,
            Reply(b"", 150, SIP_REFUSAL),
            Reply(
                f"system/com.apple.mdmclient.daemon = {{\n\tprogram = "
                f"{MDM_CLIENT.executable}\n}}\n".encode()
            ),
            Reply(b"", 150, SIP_REFUSAL),
            Reply(f"\tstate = running\n\tprogram = {old_path}\n\tpid = {daemon.pid}\n".encode()),
        )
        doc = json.loads(heal(system, "--json").output)
        assert (daemon.pid, signal.SIGTERM) in system.signals
        assert doc["SoftwareUpdateDaemonRestarted"] is True

    def test_a_program_path_of_another_name_is_not_trusted(self) -> None:
        system = fake_system(updates=False)
        shell = system.start("/bin/sh")
        system.reply(LAUNCHCTL, Reply(b"", 150, SIP_REFUSAL), Reply(b"\tprogram = /bin/sh\n"))
        heal(system)
        assert all(pid != shell.pid for pid, _ in system.signals)

    def test_non_finite_preferences_are_refused(self) -> None:
        system = fake_system(updates=False)
        prefs(
            system,
            MANAGED_PREFERENCES,
            KickstartCooldownHours=float("nan"),
            LogShowTimeoutSeconds=float("inf"),
        )
        result = heal(system)
        assert result.exit_code == 0
        assert "KickstartCooldownHours must be a finite number, not nan; ignored" in (result.output)
        assert "LogShowTimeoutSeconds must be a finite number, not inf" in result.output

    def test_a_window_longer_than_the_history_is_a_usage_error(self) -> None:
        result = CliRunner().invoke(cli, ["-diagnose", "--window", "2d"], obj=fake_system())
        assert result.exit_code == 2
        assert "--window cannot be longer than HistoryHours (24h)" in result.output

    def test_dry_run_leaves_a_corrupt_state_where_it_is(self) -> None:
        system = fake_system()
        system.files[STATE_PATH] = b"{corrupt"
        before = dict(system.files)
        result = heal(system, "--dry-run")
        assert system.files == before
        assert system.files[STATE_PATH] == b"{corrupt"
        assert "a real run would move it aside" in result.output

    def test_one_unreadable_time_counts_as_now_and_keeps_the_other(self) -> None:
        system = fake_system()
        recent = (system.clock - timedelta(hours=1)).isoformat(timespec="microseconds")
        system.files[STATE_PATH] = json.dumps(
            {"last_mdm_kickstart": recent, "last_software_update_kickstart": "never"}
        ).encode()
        result = heal(system)
        assert actions(system) == []
        assert "last_software_update_kickstart 'never' is not a time" in result.output
        assert saved_state(system)["last_mdm_kickstart"] == recent

    def test_deeply_nested_state_is_moved_aside(self) -> None:
        system = fake_system(stuck=False)
        system.files[STATE_PATH] = b"[" * 100_000 + b"]" * 100_000
        result = heal(system)
        assert result.exit_code == 0
        assert "was corrupt" in result.output

    def test_diagnose_never_writes(self) -> None:
        system = fake_system()
        CliRunner().invoke(cli, ["-diagnose"], obj=system)
        assert system.writes == []
        assert actions(system) == []


class TestConfigCommand:
    def test_effective_configuration_with_sources(self) -> None:
        system = FakeSystem()
        prefs(system, MANAGED_PREFERENCES, LookbackMinutes=60)
        prefs(system, LOCAL_PREFERENCES, HealSoftwareUpdate=False, LookbackMinutes=45)
        out = CliRunner().invoke(cli, ["config"], obj=system).output.splitlines()
        rows = {line.split()[0]: line.split(None, 2)[1:] for line in out}
        assert rows["LookbackMinutes"] == ["60", MANAGED_PREFERENCES]
        assert rows["HealSoftwareUpdate"] == ["false", LOCAL_PREFERENCES]
        assert rows["KickstartCooldownHours"] == ["24", "default"]

    def test_json_and_warnings(self) -> None:
        system = FakeSystem()
        system.files[MANAGED_PREFERENCES] = b"not a plist"
        result = CliRunner().invoke(cli, ["config", "--json"], obj=system)
        assert "not a readable property list" in result.output
        doc = json.loads(result.output[result.output.index("{") :])
        assert doc["VerifySeconds"] == {"value": 10, "source": "default"}


class TestMissedRuns:
    def test_gaps_in_the_95_minute_schedule_are_counted(self) -> None:
        start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
        assert missed_runs(None, start) == 0
        assert missed_runs(start, start + timedelta(minutes=95)) == 0
        assert missed_runs(start, start + timedelta(minutes=130)) == 0
        assert missed_runs(start, start + timedelta(minutes=143)) == 1
        assert missed_runs(start, start + timedelta(hours=10)) == 5

    def test_a_heal_run_after_a_night_asleep_says_so(self) -> None:
        system = fake_system(stuck=False)
        system.files[STATE_PATH] = json.dumps(
            {"last_run": {"started_at": (system.clock - timedelta(hours=10)).isoformat()}}
        ).encode()
        result = heal(system, "--explain")
        assert "5 scheduled run(s) were missed since the last one" in result.output
        assert saved_state(system)["last_run"]["missed_runs"] == 5

    def test_the_schedule_is_the_launch_daemons(self) -> None:
        plist = plistlib.loads((REPO / "launchd" / "com.github.mdm-watchdog.plist").read_bytes())
        assert plist["StartInterval"] == SCHEDULE.total_seconds()
