"""What admins deploy beside the package: extension attributes, profiles, the schema."""

from __future__ import annotations

import json
import plistlib
from datetime import datetime, timedelta

from tests.support import (
    QUIET_WINDOW,
    REPO,
    FakeMac,
    export,
    extension_attribute,
    reconstructed_lines,
    run_heal,
    saved_state,
)
from watchdog_mdm.config import DOMAIN, KEYS, load_configuration
from watchdog_mdm.state import STATE_PATH
from watchdog_mdm.status import UPDATE_STATUSES, VERDICT_STATUSES

JAMF = REPO / "docs" / "jamf"
PROFILES = REPO / "docs" / "profiles"


def jamf_date(output: str) -> datetime:
    """The value of `<result>YYYY-MM-DD hh:mm:ss</result>`."""
    assert output.startswith("<result>") and output.endswith("</result>\n"), output
    return datetime.strptime(output[len("<result>") : -len("</result>\n")], "%Y-%m-%d %H:%M:%S")


class TestExtensionAttributes:
    def test_healthy_mac(self, enrolled_mac: FakeMac) -> None:
        enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 0.1))
        assert run_heal(enrolled_mac).returncode == 0
        assert extension_attribute("status", enrolled_mac) == "<result>Healthy</result>\n"
        assert extension_attribute("last-mdm-kickstart", enrolled_mac) == "<result></result>\n"
        checkin = jamf_date(extension_attribute("last-mdm-checkin", enrolled_mac))
        assert abs(checkin - (datetime.now() - timedelta(hours=0.1))) < timedelta(minutes=1)

    def test_stuck_mac_after_a_restart(self, enrolled_mac: FakeMac) -> None:
        enrolled_mac.install("/usr/bin/log", [QUIET_WINDOW, export(reconstructed_lines(), 3)])
        assert run_heal(enrolled_mac).returncode == 0
        assert extension_attribute("status", enrolled_mac) == (
            "<result>Software updates stuck</result>\n"
        )
        kick = jamf_date(extension_attribute("last-mdm-kickstart", enrolled_mac))
        assert abs(kick - datetime.now()) < timedelta(minutes=1)
        # each restart has its own time, saved just before it: moments apart
        later = jamf_date(extension_attribute("last-software-update-kickstart", enrolled_mac))
        assert timedelta(0) <= later - kick < timedelta(seconds=30)

    def test_a_mac_quiet_for_a_week_still_shows_its_last_check_in(
        self, enrolled_mac: FakeMac
    ) -> None:
        """The last run's log window held no exchange; state.json remembers the last."""
        enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 24 * 7))
        assert run_heal(enrolled_mac).returncode == 0
        week_ago = datetime.now() - timedelta(days=7)
        remembered = saved_state(enrolled_mac)["mdm_client"]["last_exchange"]["time"]
        # then a week of quiet: softwareupdated talks, mdmclient has nothing to do
        quiet = [x for x in reconstructed_lines() if "softwareupdated" in x]
        enrolled_mac.install("/usr/bin/log", export(quiet, 0.1))
        assert run_heal(enrolled_mac).returncode == 0
        state = saved_state(enrolled_mac)
        assert state["last_run"]["result"]["evidence"]["last_device_exchange"] is None
        assert state["mdm_client"]["last_exchange"]["time"] == remembered
        checkin = jamf_date(extension_attribute("last-mdm-checkin", enrolled_mac))
        assert abs(checkin - week_ago) < timedelta(minutes=1)

    def test_the_check_in_is_shown_in_the_macs_local_time(self, enrolled_mac: FakeMac) -> None:
        memory = {"last_exchange": {"time": "2026-11-20T14:30:00.250413-04:00", "message": "x"}}
        enrolled_mac.write(STATE_PATH, json.dumps({"mdm_client": memory}, indent=2).encode())
        shown = {
            tz: extension_attribute("last-mdm-checkin", enrolled_mac, tz=tz)
            for tz in ("UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata")
        }
        assert shown == {
            "UTC": "<result>2026-11-20 18:30:00</result>\n",
            "Europe/Berlin": "<result>2026-11-20 19:30:00</result>\n",
            "America/Los_Angeles": "<result>2026-11-20 10:30:00</result>\n",
            "Asia/Kolkata": "<result>2026-11-21 00:00:00</result>\n",
        }

    def test_a_state_from_before_the_memory_falls_back_to_the_last_run(
        self, enrolled_mac: FakeMac
    ) -> None:
        enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 3))
        assert run_heal(enrolled_mac).returncode == 0
        state = saved_state(enrolled_mac)
        del state["mdm_client"]
        enrolled_mac.write(STATE_PATH, json.dumps(state, indent=2).encode())
        checkin = jamf_date(extension_attribute("last-mdm-checkin", enrolled_mac))
        assert abs(checkin - (datetime.now() - timedelta(hours=3))) < timedelta(minutes=1)

    def test_never_run(self, enrolled_mac: FakeMac) -> None:
        assert extension_attribute("status", enrolled_mac) == "<result>Never run</result>\n"

    def test_not_installed(self) -> None:
        assert extension_attribute("status", None, "/nonexistent/mdm-watchdog") == (
            "<result>Not installed</result>\n"
        )
        assert extension_attribute("last-mdm-checkin", None, "/nonexistent/mdm-watchdog") == (
            "<result></result>\n"
        )

    def test_software_update_in_the_macs_local_time(self, enrolled_mac: FakeMac) -> None:
        def stored(state: str) -> bytes:
            update = {
                "channel": "ddm",
                "target_version": "26.1",
                "target_build": "25B78",
                "deadline": "2026-11-20T17:00:00.000000+00:00",
                "running_version": "26.0.1",
                "phase": "DOWNLOADING_UPDATE",
                "last_progress_at": "2026-11-20T13:30:00.000000+00:00",
                "state": state,
                "reason": "written for this test",
            }
            started = datetime.now().astimezone().isoformat()
            result = {"software_update": update}
            return json.dumps({"last_run": {"started_at": started, "result": result}}).encode()

        shown = {}
        for state in ("stalled", "overdue", "pending", "downloading", "done", "unknown"):
            enrolled_mac.write(STATE_PATH, stored(state))
            shown[state] = extension_attribute("software-update", enrolled_mac, tz="Europe/Berlin")
        assert shown == {
            "stalled": (
                "<result>Stalled: 26.1 in DOWNLOADING_UPDATE since 2026-11-20 14:30:00</result>\n"
            ),
            "overdue": "<result>Overdue: 26.1 since 2026-11-20</result>\n",
            "pending": "<result>Pending: 26.1 by 2026-11-20 18:00:00</result>\n",
            "downloading": "<result>Downloading: 26.1</result>\n",
            "done": "<result>Up to date</result>\n",
            "unknown": "<result>Unknown</result>\n",
        }
        enrolled_mac.write(STATE_PATH, stored("overdue"))
        # the deadline's date where the Mac is: 17:00 UTC is already the 21st in Kiribati
        assert extension_attribute("software-update", enrolled_mac, tz="Pacific/Kiritimati") == (
            "<result>Overdue: 26.1 since 2026-11-21</result>\n"
        )

    def test_software_update_never_run_unreadable_or_not_installed(
        self, enrolled_mac: FakeMac
    ) -> None:
        assert extension_attribute("software-update", enrolled_mac) == "<result>Unknown</result>\n"
        enrolled_mac.write(STATE_PATH, b"{broken")
        assert extension_attribute("software-update", enrolled_mac) == "<result>Unknown</result>\n"
        assert extension_attribute("software-update", None, "/nonexistent/mdm-watchdog") == (
            "<result>Not installed</result>\n"
        )

    def test_software_update_after_a_heal_run_is_one_of_the_summaries(
        self, enrolled_mac: FakeMac
    ) -> None:
        enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 0.1))
        assert run_heal(enrolled_mac).returncode == 0
        shown = extension_attribute("software-update", enrolled_mac)
        labels = {"Up to date", "Unknown", *UPDATE_STATUSES.values()}
        assert any(shown.startswith(f"<result>{label}") for label in labels), shown

    def test_every_status_is_documented_for_smart_groups(self) -> None:
        deployment = (REPO / "docs" / "deployment.md").read_text()
        statuses = [s for _, _, s in VERDICT_STATUSES] + [
            "Healthy",
            "Evidence unavailable",
            "Never run",
            "Not run since",
            "State unreadable",
            "Not installed",
        ]
        for status in statuses:
            assert f"`{status}" in deployment, status
        for summary in {*UPDATE_STATUSES.values(), "Not installed"}:
            assert f"`{summary}" in deployment, summary
        assert "ea-software-update.sh" in deployment


def test_jamf_schema_matches_the_configuration_keys() -> None:
    schema = json.loads((JAMF / f"{DOMAIN}.json").read_text())
    properties = schema["properties"]
    assert list(properties) == [key.name for key in KEYS]
    for key in KEYS:
        prop = properties[key.name]
        kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
        assert prop["type"] == kinds[key.kind]
        assert prop.get("enum") == (list(key.choices) or None)
        assert prop["default"] == key.default
        assert prop["description"] == key.doc
        assert prop.get("minimum") == key.low
        assert prop.get("maximum") == key.high


def test_settings_profile_is_valid_for_the_domain() -> None:
    profile = plistlib.loads((PROFILES / "mdm-watchdog-settings.mobileconfig").read_bytes())
    assert profile["PayloadType"] == "Configuration"
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == DOMAIN
    settings = {k: v for k, v in payload.items() if not k.startswith("Payload")}
    assert settings
    configuration = load_configuration({"profile": plistlib.dumps(settings)})
    assert configuration.warnings == ()
    assert {configuration.sources[k] for k in settings} == {"profile"}


def test_managed_login_item_profile_names_the_daemon() -> None:
    profile = plistlib.loads(
        (PROFILES / "mdm-watchdog-managed-login-items.mobileconfig").read_bytes()
    )
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.servicemanagement"
    daemon = plistlib.loads((REPO / "launchd" / f"{DOMAIN}.plist").read_bytes())
    assert payload["Rules"] == [
        {"Comment": "mdm-watchdog LaunchDaemon", "RuleType": "Label", "RuleValue": daemon["Label"]}
    ]
    uuids = [profile["PayloadUUID"], payload["PayloadUUID"]]
    settings = plistlib.loads((PROFILES / "mdm-watchdog-settings.mobileconfig").read_bytes())
    uuids += [settings["PayloadUUID"], settings["PayloadContent"][0]["PayloadUUID"]]
    assert len(set(uuids)) == 4
