"""The preference keys that choose and tune the stuck rule, spread restarts, and judge
software updates."""

from __future__ import annotations

import json
import plistlib
import struct
from datetime import timedelta

import pytest
from click.testing import CliRunner

from tests.support import FakeSystem, prefs
from watchdog_mdm.cli import cli
from watchdog_mdm.config import (
    KEYS_BY_NAME,
    LOCAL_PREFERENCES,
    MANAGED_PREFERENCES,
    Configuration,
    Settings,
    StuckRule,
    load_configuration,
)

NEW_KEYS = (
    "StuckRule",
    "PushGraceMinutes",
    "RequestTimeoutMinutes",
    "QuietHours",
    "RestartSplayMinutes",
    "UpdateStallMinutes",
    "OverdueGraceHours",
)


def managed(**values: object) -> Configuration:
    """The configuration from a managed-preferences file holding ``values``."""
    return load_configuration({MANAGED_PREFERENCES: plistlib.dumps(values)})


class TestDefaults:
    def test_settings_defaults(self) -> None:
        settings = Settings()
        assert settings.stuck_rule is StuckRule.EVIDENCE
        assert settings.push_grace == timedelta(minutes=15)
        assert settings.request_timeout == timedelta(minutes=10)
        assert settings.quiet_after == timedelta(hours=48)
        assert settings.restart_splay == timedelta(0)
        assert settings.update_stall == timedelta(minutes=60)
        assert settings.overdue_grace == timedelta(hours=24)

    def test_without_files_every_new_key_is_its_default(self) -> None:
        configuration = load_configuration({})
        assert configuration.warnings == ()
        assert configuration.settings == Settings()
        values = {name: configuration.value(KEYS_BY_NAME[name]) for name in NEW_KEYS}
        assert values == {
            "StuckRule": "evidence",
            "PushGraceMinutes": 15,
            "RequestTimeoutMinutes": 10,
            "QuietHours": 48,
            "RestartSplayMinutes": 0,
            "UpdateStallMinutes": 60,
            "OverdueGraceHours": 24,
        }
        assert {configuration.sources[name] for name in NEW_KEYS} == {"default"}

    def test_key_defaults_agree_with_the_settings(self) -> None:
        for name in NEW_KEYS:
            key = KEYS_BY_NAME[name]
            assert key.to_setting(key.default) == getattr(Settings(), key.attribute), name


class TestReadFromAProfile:
    @pytest.mark.parametrize(
        ("name", "value", "attribute", "setting"),
        [
            ("StuckRule", "quiet", "stuck_rule", StuckRule.QUIET),
            ("StuckRule", "evidence", "stuck_rule", StuckRule.EVIDENCE),
            ("PushGraceMinutes", 30, "push_grace", timedelta(minutes=30)),
            ("PushGraceMinutes", 1, "push_grace", timedelta(minutes=1)),
            ("RequestTimeoutMinutes", 1440, "request_timeout", timedelta(days=1)),
            ("QuietHours", 6, "quiet_after", timedelta(hours=6)),
            ("QuietHours", 720, "quiet_after", timedelta(days=30)),
            ("RestartSplayMinutes", 0, "restart_splay", timedelta(0)),
            ("RestartSplayMinutes", 240, "restart_splay", timedelta(hours=4)),
            ("UpdateStallMinutes", 10, "update_stall", timedelta(minutes=10)),
            ("UpdateStallMinutes", 90, "update_stall", timedelta(minutes=90)),
            ("UpdateStallMinutes", 1440, "update_stall", timedelta(days=1)),
            ("OverdueGraceHours", 0, "overdue_grace", timedelta(0)),
            ("OverdueGraceHours", 48, "overdue_grace", timedelta(days=2)),
            ("OverdueGraceHours", 720, "overdue_grace", timedelta(days=30)),
        ],
    )
    def test_value_is_used(self, name: str, value: object, attribute: str, setting: object) -> None:
        configuration = managed(**{name: value})
        assert configuration.warnings == ()
        assert getattr(configuration.settings, attribute) == setting
        assert configuration.sources[name] == MANAGED_PREFERENCES
        shown = configuration.value(KEYS_BY_NAME[name])
        assert shown == value
        assert type(shown) is type(value)  # the plain string or int, as the profile has it

    def test_stuck_rule_is_the_enum_in_the_settings(self) -> None:
        assert managed(StuckRule="quiet").settings.stuck_rule is StuckRule.QUIET

    def test_managed_wins_over_local(self) -> None:
        configuration = load_configuration(
            {
                MANAGED_PREFERENCES: plistlib.dumps({"QuietHours": 12}),
                LOCAL_PREFERENCES: plistlib.dumps({"QuietHours": 24, "StuckRule": "quiet"}),
            }
        )
        assert configuration.settings.quiet_after == timedelta(hours=12)
        assert configuration.settings.stuck_rule is StuckRule.QUIET
        assert configuration.sources["StuckRule"] == LOCAL_PREFERENCES


class TestBadValuesAreIgnored:
    @pytest.mark.parametrize(
        ("name", "value", "problem"),
        [
            ("PushGraceMinutes", 0, "0 is below the minimum of 1"),
            ("PushGraceMinutes", 1441, "1441 is above the maximum of 1440"),
            ("RequestTimeoutMinutes", 0, "0 is below the minimum of 1"),
            ("RequestTimeoutMinutes", 1441, "1441 is above the maximum of 1440"),
            ("QuietHours", 0, "0 is below the minimum of 1"),
            ("QuietHours", 721, "721 is above the maximum of 720"),
            ("RestartSplayMinutes", -1, "-1 is below the minimum of 0"),
            ("RestartSplayMinutes", 241, "241 is above the maximum of 240"),
            ("UpdateStallMinutes", 9, "9 is below the minimum of 10"),
            ("UpdateStallMinutes", 1441, "1441 is above the maximum of 1440"),
            ("OverdueGraceHours", -1, "-1 is below the minimum of 0"),
            ("OverdueGraceHours", 721, "721 is above the maximum of 720"),
            ("UpdateStallMinutes", 60.5, "must be a whole number, not 60.5"),
            ("OverdueGraceHours", 1.5, "must be a whole number, not 1.5"),
            ("UpdateStallMinutes", "60", "must be a number, not '60'"),
            ("OverdueGraceHours", False, "must be a number, not False"),
            ("PushGraceMinutes", 1.5, "must be a whole number, not 1.5"),
            ("QuietHours", "48", "must be a number, not '48'"),
            ("RestartSplayMinutes", True, "must be a number, not True"),
            ("StuckRule", "Quiet", "must be one of evidence, quiet, not 'Quiet'"),
            ("StuckRule", "", "must be one of evidence, quiet, not ''"),
            ("StuckRule", 1, "must be one of evidence, quiet, not 1"),
            ("StuckRule", True, "must be one of evidence, quiet, not True"),
            ("StuckRule", ["quiet"], "must be one of evidence, quiet, not ['quiet']"),
        ],
    )
    def test_warned_and_default_used(self, name: str, value: object, problem: str) -> None:
        configuration = managed(**{name: value})
        assert configuration.warnings == (f"{MANAGED_PREFERENCES}: {name} {problem}; ignored",)
        assert configuration.settings == Settings()
        assert configuration.sources[name] == "default"

    def test_the_next_source_applies_to_the_update_keys(self) -> None:
        configuration = load_configuration(
            {
                MANAGED_PREFERENCES: plistlib.dumps(
                    {"UpdateStallMinutes": 5, "OverdueGraceHours": 1000}
                ),
                LOCAL_PREFERENCES: plistlib.dumps(
                    {"UpdateStallMinutes": 120, "OverdueGraceHours": 72}
                ),
            }
        )
        assert len(configuration.warnings) == 2
        assert configuration.settings.update_stall == timedelta(hours=2)
        assert configuration.settings.overdue_grace == timedelta(days=3)
        assert configuration.sources["UpdateStallMinutes"] == LOCAL_PREFERENCES
        assert configuration.sources["OverdueGraceHours"] == LOCAL_PREFERENCES

    def test_the_next_source_applies(self) -> None:
        configuration = load_configuration(
            {
                MANAGED_PREFERENCES: plistlib.dumps({"StuckRule": "never", "QuietHours": 0}),
                LOCAL_PREFERENCES: plistlib.dumps({"StuckRule": "quiet", "QuietHours": 72}),
            }
        )
        assert len(configuration.warnings) == 2
        assert configuration.settings.stuck_rule is StuckRule.QUIET
        assert configuration.settings.quiet_after == timedelta(hours=72)
        assert configuration.sources["StuckRule"] == LOCAL_PREFERENCES


class TestConfigCommand:
    def test_json_shows_value_and_source(self) -> None:
        system = FakeSystem()
        prefs(system, StuckRule="quiet", PushGraceMinutes=5, RestartSplayMinutes=30)
        result = CliRunner().invoke(cli, ["config", "--json"], obj=system)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.output)
        assert doc["StuckRule"] == {"value": "quiet", "source": MANAGED_PREFERENCES}
        assert doc["PushGraceMinutes"] == {"value": 5, "source": MANAGED_PREFERENCES}
        assert doc["RestartSplayMinutes"] == {"value": 30, "source": MANAGED_PREFERENCES}
        assert doc["RequestTimeoutMinutes"] == {"value": 10, "source": "default"}
        assert doc["QuietHours"] == {"value": 48, "source": "default"}
        assert doc["UpdateStallMinutes"] == {"value": 60, "source": "default"}
        assert doc["OverdueGraceHours"] == {"value": 24, "source": "default"}

    def test_text_shows_value_and_source(self) -> None:
        system = FakeSystem()
        prefs(
            system, LOCAL_PREFERENCES, QuietHours=24, RequestTimeoutMinutes=20, OverdueGraceHours=0
        )
        result = CliRunner().invoke(cli, ["config"], obj=system)
        assert result.exit_code == 0, result.output
        rows = {line.split()[0]: line.split(None, 2)[1:] for line in result.output.splitlines()}
        assert rows["StuckRule"] == ["evidence", "default"]
        assert rows["PushGraceMinutes"] == ["15", "default"]
        assert rows["RequestTimeoutMinutes"] == ["20", LOCAL_PREFERENCES]
        assert rows["QuietHours"] == ["24", LOCAL_PREFERENCES]
        assert rows["RestartSplayMinutes"] == ["0", "default"]
        assert rows["UpdateStallMinutes"] == ["60", "default"]
        assert rows["OverdueGraceHours"] == ["0", LOCAL_PREFERENCES]

    def test_a_bad_stuck_rule_is_warned_about_and_the_default_shown(self) -> None:
        system = FakeSystem()
        prefs(system, StuckRule="sometimes")
        result = CliRunner().invoke(cli, ["config", "--json"], obj=system)
        assert "StuckRule must be one of evidence, quiet, not 'sometimes'; ignored" in result.output
        doc = json.loads(result.output[result.output.index("{") :])
        assert doc["StuckRule"] == {"value": "evidence", "source": "default"}


def deeply_nested_plist(depth: int) -> bytes:
    """A binary property list of ``depth`` arrays, each holding the next."""
    objects = [b"\xa1" + struct.pack(">I", i + 1) for i in range(depth)] + [b"\xa0"]
    body = bytearray(b"bplist00")
    offsets = []
    for item in objects:
        offsets.append(len(body))
        body += item
    table = len(body)
    body += b"".join(struct.pack(">I", offset) for offset in offsets)
    body += bytes(6) + bytes([4, 4]) + struct.pack(">QQQ", len(objects), 0, table)
    return bytes(body)


class TestDeeplyNestedPreferences:
    @pytest.mark.parametrize("path", [MANAGED_PREFERENCES, LOCAL_PREFERENCES])
    def test_it_is_ignored_with_a_warning_and_defaults_apply(self, path: str) -> None:
        configuration = load_configuration({path: deeply_nested_plist(100_000)})
        assert configuration.settings == Settings()
        assert configuration.warnings == (
            f"{path}: not a readable property list (nested too deeply); ignored",
        )

    def test_the_other_file_still_applies(self) -> None:
        configuration = load_configuration(
            {
                MANAGED_PREFERENCES: deeply_nested_plist(100_000),
                LOCAL_PREFERENCES: plistlib.dumps({"QuietHours": 24}),
            }
        )
        assert configuration.settings.quiet_after == timedelta(hours=24)
        assert len(configuration.warnings) == 1

    def test_config_shows_the_defaults(self) -> None:
        system = FakeSystem()
        system.files[MANAGED_PREFERENCES] = deeply_nested_plist(100_000)
        result = CliRunner().invoke(cli, ["config", "--json"], obj=system)
        assert result.exit_code == 0, result.output
        assert "nested too deeply); ignored" in result.output
        doc = json.loads(result.output[result.output.index("{") :])
        assert doc["StuckRule"] == {"value": "evidence", "source": "default"}
