"""The command line, driven through click against the recording fake System."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.support import (
    HISTORY_QUERY,
    JAMF_RUN,
    LAST_ENTRY,
    NOT_ENROLLED,
    TRAILER,
    FakeSystem,
    Reply,
    fake_system,
    reconstructed_export,
)
from watchdog_mdm import __version__
from watchdog_mdm.cli import cli
from watchdog_mdm.diagnose import WINDOW_PREDICATE
from watchdog_mdm.system import MacSystem

KEYS = ["MDMEnrolled", "MDMIdentityError", "MDMClientStuck", "MDMSoftwareUpdatesStuck"]
EIGHT = [
    *KEYS,
    "MDMClientRestarted",
    "SoftwareUpdateDaemonRestarted",
    "LastMDMKickstart",
    "LastSoftwareUpdateDaemonKickstart",
]


def invoke(system: FakeSystem, *args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), obj=system, input=stdin)


class TestDiagnose:
    def test_prints_the_original_line_and_logs_it(self) -> None:
        system = fake_system(stuck=False)
        result = invoke(system, "-diagnose")
        assert result.exit_code == 0, result.output
        line = (
            "MDMEnrolled: true MDMIdentityError: false MDMClientStuck: false "
            "MDMSoftwareUpdatesStuck: false"
        )
        assert result.output == line + "\n"
        assert system.system_log == [line]

    def test_gnu_spelling(self) -> None:
        assert (
            invoke(fake_system(stuck=False), "--diagnose").output
            == invoke(fake_system(stuck=False), "-diagnose").output
        )

    def test_healthy_mac_costs_one_narrow_log_query(self) -> None:
        system = fake_system(stuck=False)
        invoke(system, "-diagnose")
        assert system.calls_to("/usr/bin/profiles") == [
            ("/usr/bin/profiles", "status", "-type", "enrollment")
        ]
        assert system.calls_to("/usr/bin/log") == [
            (
                "/usr/bin/log",
                "show",
                "--style",
                "ndjson",
                "--info",
                "--last",
                "91m",
                "--predicate",
                WINDOW_PREDICATE,
            )
        ]
        # by the image path the kernel records, never by a name any program can take
        assert 'processImagePath == "/usr/libexec/mdmclient"' in WINDOW_PREDICATE
        assert "Software Update.app/Contents/Resources/softwareupdated" in WINDOW_PREDICATE
        assert "ApplePushService.framework/apsd" in WINDOW_PREDICATE
        assert "process ==" not in WINDOW_PREDICATE
        assert "subsystem" not in WINDOW_PREDICATE

    def test_stuck_mac_reaches_back_over_the_history_for_the_last_command(self) -> None:
        system = fake_system()
        result = invoke(system, "-diagnose")
        assert result.output == (
            "MDMEnrolled: true MDMIdentityError: false "
            "MDMClientStuck: true MDMSoftwareUpdatesStuck: true\n"
        )
        _window, history = system.calls_to("/usr/bin/log")
        assert history == ("/usr/bin/log", *HISTORY_QUERY)

    def test_window_flag_changes_the_look_back(self) -> None:
        system = fake_system(stuck=False)
        system.clock = LAST_ENTRY + timedelta(minutes=40)
        result = invoke(system, "-diagnose", "-window", "30m")
        assert "MDMClientStuck: true" in result.output
        assert system.calls_to("/usr/bin/log")[0][6] == "31m"

    def test_go_style_equals_value(self) -> None:
        system = fake_system(stuck=False)
        invoke(system, "-diagnose", "-window=2h")
        assert system.calls_to("/usr/bin/log")[0][6] == "121m"

    def test_not_enrolled_needs_no_history(self) -> None:
        system = FakeSystem(clock=LAST_ENTRY + timedelta(hours=3))
        system.reply("/usr/bin/profiles", Reply(NOT_ENROLLED)).reply("/usr/bin/log", Reply(TRAILER))
        result = invoke(system, "-diagnose")
        assert result.output.startswith("MDMEnrolled: false ")
        assert "MDMClientStuck: false" in result.output
        assert len(system.calls_to("/usr/bin/log")) == 1

    def test_json_has_the_eight_keys_first_then_evidence(self) -> None:
        system = fake_system()
        system.files["/Library/Application Support/mdm-watchdog/state.json"] = json.dumps(
            {
                "last_mdm_kickstart": "2023-08-17T01:21:54.555443-04:00",
                "last_software_update_kickstart": "0001-01-01T00:00:00Z",
            }
        ).encode()
        result = invoke(system, "-diagnose", "--json")
        doc = json.loads(result.output)
        assert list(doc)[:8] == EIGHT
        assert doc["MDMClientStuck"] is True and doc["MDMSoftwareUpdatesStuck"] is True
        assert doc["MDMClientRestarted"] is False
        assert doc["LastMDMKickstart"] == "2023-08-17T01:21:54.555443-04:00"
        assert doc["LastSoftwareUpdateDaemonKickstart"] is None
        assert doc["schema_version"] == 1
        ev = doc["evidence"]
        assert ev["last_device_exchange"]["time"] == "2022-08-01T12:59:36.910717-04:00"
        assert "Received HTTP response (200)" in ev["last_device_exchange"]["message"]
        assert ev["last_command"]["request_type"] == "ScheduleOSUpdate"
        assert ev["last_command"]["software_update"] is True
        assert ev["enrollment"]["source"] == "profiles"
        assert ev["identity_errors"] == []
        assert set(ev["reasons"]) == set(KEYS)
        assert len(ev["log"]["queries"]) == 2

    def test_explain_follows_the_result_line(self) -> None:
        result = invoke(fake_system(), "-diagnose", "--explain")
        first, *rest = result.output.splitlines()
        assert first.startswith("MDMEnrolled: true")
        text = "\n".join(rest)
        assert "because no device-channel HTTP 200" in text
        assert "Last MDM command: ScheduleOSUpdate (Acknowledged)" in text


class TestEvidenceFailures:
    def test_log_failing_exits_3_with_one_line(self) -> None:
        system = fake_system(stuck=False)
        system.replies["/usr/bin/log"] = [Reply(b"", returncode=64)]
        result = invoke(system, "-diagnose")
        assert result.exit_code == 3
        assert result.output == (
            "mdm-watchdog: error: could not read the unified log: "
            "/usr/bin/log exited with status 64\n"
        )
        assert system.system_log == []

    def test_log_missing_exits_3(self) -> None:
        system = fake_system(stuck=False)
        system.replies["/usr/bin/log"] = [Reply(error="/usr/bin/log is missing or not executable")]
        result = invoke(system, "-diagnose")
        assert result.exit_code == 3
        assert "missing" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)

    def test_profiles_failing_falls_back_to_the_log(self) -> None:
        system = fake_system(stuck=False)
        system.replies["/usr/bin/profiles"] = [Reply(b"", returncode=1)]
        result = invoke(system, "-diagnose", "--json")
        doc = json.loads(result.output)
        assert doc["MDMEnrolled"] is True
        assert doc["evidence"]["enrollment"]["source"] == "log"

    def test_profiles_failing_and_no_traffic_exits_3(self) -> None:
        system = FakeSystem().reply("/usr/bin/profiles", Reply(error="timed out"))
        system.reply("/usr/bin/log", Reply(TRAILER))
        result = invoke(system, "-diagnose")
        assert result.exit_code == 3
        assert result.output == (
            "mdm-watchdog: error: could not tell whether this Mac is enrolled: timed out\n"
        )


class TestUsage:
    @pytest.mark.parametrize(
        "args",
        [
            ["-diagnose", "--window", "soon"],
            ["-diagnose", "--window", "0m"],
            ["-diagnose", "--window", "40d"],
            ["-diagnose", "--bogus"],
            [],
        ],
    )
    def test_usage_errors_exit_2(self, args: list[str]) -> None:
        result = invoke(fake_system(stuck=False), *args)
        assert result.exit_code == 2
        if args:  # without arguments it prints the help
            assert result.output.startswith("mdm-watchdog: error: ")
            assert result.output.endswith(" (see mdm-watchdog -help)\n")
            assert result.output.count("\n") == 1

    def test_version(self) -> None:
        for flag in ("-version", "--version"):
            assert invoke(fake_system(stuck=False), flag).output == f"{__version__}\n"

    @pytest.mark.parametrize("flag", ["-h", "-help", "--help"])
    def test_help_explains_every_output_key(self, flag: str) -> None:
        result = invoke(fake_system(stuck=False), flag)
        assert result.exit_code == 0
        for key in [*KEYS, "MDMClientRestarted", "LastSoftwareUpdateDaemonKickstart"]:
            assert key in result.output


class TestAnalyze:
    def test_defaults_to_the_newest_entry_and_says_so(self) -> None:
        result = invoke(FakeSystem(), "analyze", str(JAMF_RUN / "mdmCommand.log"))
        assert result.exit_code == 0
        assert result.output.splitlines() == [
            "MDMEnrolled: true MDMIdentityError: false MDMClientStuck: false "
            "MDMSoftwareUpdatesStuck: false",
            "Judged as of 2023-05-04T05:17:24.613000+00:00 (newest entry); "
            "window 90m, history 24h.",
        ]

    def test_several_exports_at_a_later_instant_in_the_macs_zone(self) -> None:
        result = invoke(
            FakeSystem(),
            "analyze",
            str(JAMF_RUN / "mdmCommand.log"),
            str(JAMF_RUN / "mdmWorkflow.log"),
            "--at",
            "2023-05-04 09:00",
            "--tz",
            "-04:00",
            "--stuck-rule",
            "quiet",
            "--json",
        )
        doc = json.loads(result.output)
        assert doc["MDMClientStuck"] is True and doc["MDMSoftwareUpdatesStuck"] is True
        ev = doc["evidence"]
        assert ev["judged_at"] == "2023-05-04T09:00:00-04:00"
        assert ev["judged_at_source"] == "--at"
        assert ev["last_software_update_progress"]["message"].startswith(
            "[SUMacControllerProgressManager] Reported progress (start): phase:APPLYING"
        )
        assert ev["enrollment"]["source"] == "log"

    def test_reads_standard_input(self) -> None:
        data = (JAMF_RUN / "mdmCommand.log").read_bytes()
        assert (
            invoke(FakeSystem(), "analyze", "-", stdin=data).output
            == invoke(FakeSystem(), "analyze", str(JAMF_RUN / "mdmCommand.log")).output
        )

    def test_enrollment_unknown_without_device_traffic(self) -> None:
        result = invoke(FakeSystem(), "analyze", str(JAMF_RUN / "mdmWorkflow.log"), "--json")
        assert json.loads(result.output)["MDMEnrolled"] is None
        text = invoke(FakeSystem(), "analyze", str(JAMF_RUN / "mdmWorkflow.log")).output
        assert text.startswith("MDMEnrolled: unknown ")

    def test_input_without_log_entries_warns_and_judges_nothing(self) -> None:
        result = CliRunner().invoke(cli, ["analyze", str(JAMF_RUN / "super.log")], obj=FakeSystem())
        assert result.exit_code == 3
        assert "warning: no log entries could be read" in result.output
        assert "the clock: no readable entry" in result.output
        assert "MDMClientStuck: unknown" in result.output
        assert "with no readable log entry" in result.output

    def test_logarchive_without_macos_log_says_how_to_export(self, tmp_path: Path) -> None:
        archive = tmp_path / "system_logs.logarchive"
        archive.mkdir()
        system = FakeSystem(commands=set())
        result = invoke(system, "analyze", str(archive))
        assert result.exit_code == 3
        assert "log show --archive" in result.output
        assert len(result.output.splitlines()) == 1

    def test_logarchive_is_read_through_log_show(self, tmp_path: Path) -> None:
        archive = tmp_path / "system_logs.logarchive"
        archive.mkdir()
        system = FakeSystem().reply("/usr/bin/log", Reply(reconstructed_export()))
        result = invoke(system, "analyze", str(archive), "--json")
        assert json.loads(result.output)["MDMEnrolled"] is True
        (call,) = system.calls_to("/usr/bin/log")
        assert call[:4] == ("/usr/bin/log", "show", "--archive", str(archive))
        assert "--style" in call and "ndjson" in call

    def test_a_folder_is_read_file_by_file(self) -> None:
        folder = invoke(FakeSystem(), "analyze", str(JAMF_RUN), "--json")
        files = invoke(
            FakeSystem(), "analyze", *sorted(str(p) for p in JAMF_RUN.iterdir()), "--json"
        )
        assert json.loads(folder.output) == json.loads(files.output)
        total = sum(p.stat().st_size for p in JAMF_RUN.iterdir())
        assert json.loads(folder.output)["evidence"]["log"]["bytes_read"] == total

    def test_an_empty_folder_is_a_usage_error(self, tmp_path: Path) -> None:
        result = invoke(FakeSystem(), "analyze", str(tmp_path))
        assert result.exit_code == 2
        assert result.output == f"mdm-watchdog: error: {tmp_path} holds no files to read\n"

    def test_a_file_that_fails_while_read_exits_3(self, tmp_path: Path) -> None:
        mem = Path("/proc/self/mem")  # opens, then every read fails with EIO
        if not mem.exists():
            pytest.skip("needs Linux's /proc/self/mem")
        result = CliRunner().invoke(cli, ["analyze", str(mem)], obj=MacSystem(tmp_path))
        assert result.exit_code == 3
        assert result.output == (
            "mdm-watchdog: error: cannot read /proc/self/mem: Input/output error\n"
        )

    def test_options_before_the_command_are_refused_not_ignored(self) -> None:
        for option in (["--json"], ["--window", "4h"], ["--explain"]):
            result = invoke(FakeSystem(), *option, "analyze", str(JAMF_RUN / "mdmCommand.log"))
            assert result.exit_code == 2
            assert result.output.startswith(
                "mdm-watchdog: error: options go after the command: mdm-watchdog analyze --json"
            )

    def test_utf16_input_is_named(self, tmp_path: Path) -> None:
        export = tmp_path / "powershell.txt"
        export.write_bytes((JAMF_RUN / "mdmCommand.log").read_text().encode("utf-16"))
        result = invoke(FakeSystem(), "analyze", str(export))
        assert "warning: the input is UTF-16" in result.output

    def test_bytes_that_merely_start_like_utf16_are_not_called_utf16(self, tmp_path: Path) -> None:
        # FF FE, then the log itself in UTF-8: an export with a stray prefix, read
        export = tmp_path / "prefixed.log"
        export.write_bytes(b"\xff\xfe garbage\n" + (JAMF_RUN / "mdmCommand.log").read_bytes())
        result = invoke(FakeSystem(), "analyze", str(export))
        assert result.exit_code == 0, result.output
        assert "UTF-16" not in result.output
        # FF FE, then bytes that are no UTF-16 text: only "no log entries" is said
        garbage = tmp_path / "garbage.bin"
        garbage.write_bytes(b"\xff\xfe" + bytes(range(256)) * 64)
        result = invoke(FakeSystem(), "analyze", str(garbage))
        assert "UTF-16" not in result.output
        assert "warning: no log entries could be read" in result.output

    def test_a_utf16_input_is_named_though_another_input_was_read(self, tmp_path: Path) -> None:
        utf16 = tmp_path / "powershell.txt"
        utf16.write_bytes((JAMF_RUN / "mdmCommand.log").read_text().encode("utf-16"))
        result = invoke(
            FakeSystem(), "analyze", str(JAMF_RUN / "mdmCommand.log"), str(utf16), "--json"
        )
        assert "warning: 1 of the inputs is UTF-16" in result.output
        assert json.loads(result.stdout)["evidence"]["log"]["utf16_inputs"] == 1

    @pytest.mark.parametrize(
        "args",
        [
            ["/nonexistent/export.log"],
            [str(JAMF_RUN / "mdmCommand.log"), "--at", "yesterday"],
            [str(JAMF_RUN / "mdmCommand.log"), "--tz", "Mars/Olympus"],
            [str(JAMF_RUN / "mdmCommand.log"), "--window", "3d", "--history", "1d"],
        ],
    )
    def test_bad_arguments_exit_2(self, args: list[str]) -> None:
        result = invoke(FakeSystem(), "analyze", *args)
        assert result.exit_code == 2
        assert result.output.startswith("mdm-watchdog: error: ")
        assert result.output.count("\n") == 1

    def test_diagnose_flag_with_a_command_is_refused(self) -> None:
        assert invoke(FakeSystem(), "-diagnose", "analyze", "-").exit_code == 2
