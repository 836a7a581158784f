"""Issue 12: MDMClientStuck means wedged. Each client state, offline (`analyze`, in every
style that can express it) and live (`-heal` on the recording fake System).

Scenarios are built from real wordings (tests/fixtures/mdmclient_lines.txt,
checkin_lines.txt, power_lines.txt) placed in time. Where a line had to be built from a
format string or an unconfirmed source, the constant says so in its `# source:` comment.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exports import CHATTER, COMMANDS, EXCHANGES, STYLES, TEXT_STYLES, export_of
from tests.support import (
    ENROLLED,
    KICK_MDM,
    KICK_SU,
    FakeSystem,
    Reply,
    actions,
    heal,
    prefs,
    saved_state,
)
from watchdog_mdm.cli import cli
from watchdog_mdm.config import LOCAL_PREFERENCES
from watchdog_mdm.diagnose import HISTORY_PREDICATE, LOG, ROUTE, SYSCTL
from watchdog_mdm.heal import MDM_CLIENT, SOFTWARE_UPDATE
from watchdog_mdm.state import STATE_PATH

Record = tuple[str, str, str, str, str]
Row = tuple[datetime, Record, int | None]

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the instant judged
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

MDMCLIENT = "/usr/libexec/mdmclient"
APSD = "/System/Library/PrivateFrameworks/ApplePushService.framework/apsd"
POWERD = "/System/Library/CoreServices/powerd.bundle/powerd"

# Real device-channel lines (mdmclient_lines.txt, super @ ad1495a mdm.log).
SENT = EXCHANGES[0][4]  # "[0:MDMDaemon:HTTPUtil:<0x2fdb>] >>>>> Sending HTTP request (PUT) [Idle]"
OK = EXCHANGES[1][4]  # "... <<<<< Received HTTP response (200) [Idle] <<<<<"
SCHEDULE_OS_UPDATE = COMMANDS[0][4]  # "... (200) [Acknowledged(ScheduleOSUpdate):cea7...] <<<<<"
# source: built from the real 200 line above with status 503: no capture of a 5xx line
# from mdmclient exists (research: none found), so only the status differs.
SERVER_503 = OK.replace("(200)", "(503)")
# source: checkin_lines.txt, scalefusion apple-mdm-log-analyzer (unconfirmed, macOS 26),
# with the device tag of the same analyzer's ndjson fixture (its text fixtures drop it).
REJECTED_401 = (
    "[0:MDMDaemon:HTTPUtil:<0x2fdb>] <<<<< Received HTTP response (401) [MDM_Authenticate] <<<<<"
)
# source: checkin_lines.txt, scalefusion (unconfirmed, macOS 26), tag as above.
CONNECT = "[0:MDMDaemon:<0x464d>] Calling MDM_Connect (At login: no) <PushNotification> for: https://<host>/..."
# source: no log capture carries it; admins' scripts grep mdmclient's output for the
# wording (detection_notes.txt); the tag is a real device-channel tag.
IDENTITY = "[0:MDMDaemon:FVEscrow:<0x5b0>] Unable to create MDM identity"
# source: apsd's format string (checkin_lines.txt, ipsw-diffs) filled in the way the iOS
# capture fills it; the topic is an MDM push topic com.apple.mgmt.External.<uuid> (the
# uuid is made up: no macOS capture of an MDM-topic push exists).
MDM_PUSH = (
    "<private>: Received message for enabled topic "
    "'com.apple.mgmt.External.c809ab17-5b2e-4c1e-9d1f-3a5c1b7e2d40' onInterface: NonCellular "
    "with payload '<private>' with priority 10 for device token: YES"
)
# source: the real iOS capture (checkin_lines.txt): the topic is redacted.
REDACTED_PUSH = (
    "<private>: Received message for enabled topic '<private>' onInterface: WWAN with "
    "payload '<private>' with priority 10 for device token: YES"
)
SLEEP = "Entering Sleep state due to 'Idle Sleep'"  # power_lines.txt, real compact line
WAKE = "Wake from Deep Idle [CDNVA]"  # power_lines.txt, a public tool's filter constant


def mdm(message: str, category: str = "HTTPUtil") -> Record:
    return ("mdmclient", MDMCLIENT, "com.apple.ManagedClient", category, message)


def apsd(message: str) -> Record:
    return ("apsd", APSD, "com.apple.apsd", "courier", message)


def powerd(message: str) -> Record:
    return ("powerd", POWERD, "com.apple.powerd", "sleepWake", message)


def forged(record: Record, image: str, process: str | None = None) -> Record:
    """The same entry written by another program."""
    return (process or record[0], image, record[2], record[3], record[4])


def row(ago: timedelta, record: Record, uid: int | None = 0) -> Row:
    return (AT - ago, record, uid)


# A little chatter from other processes, and the courier connection, as any log has.
BACKGROUND: list[Row] = [
    row(80 * MINUTE, CHATTER[2]),
    row(70 * MINUTE, CHATTER[5]),
    row(5 * MINUTE, CHATTER[3], 501),
]


def analyze(
    tmp_path: Path, style: str, rows: list[Row], *args: str, background: bool = True
) -> Result:
    path = tmp_path / f"export-{style}.log"
    path.write_bytes(export_of(style, [*BACKGROUND, *rows] if background else rows))
    return CliRunner().invoke(
        cli, ["analyze", str(path), "--at", AT.isoformat(), *args], obj=FakeSystem(clock=AT)
    )


def analyzed(tmp_path: Path, style: str, rows: list[Row], *args: str) -> dict[str, Any]:
    result = analyze(tmp_path, style, rows, "--json", *args)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    if style in TEXT_STYLES:  # no image path: read, and said to be unverified
        assert document["evidence"]["senders"]["unverified_entries"] > 0
    else:
        assert document["evidence"]["senders"]["unverified_entries"] == 0
    return document


def state_of(document: dict[str, Any]) -> tuple[str, bool | None]:
    client = document["mdm_client"]
    assert document["MDMClientStuck"] == client["stuck"]
    return client["state"], client["stuck"]


# ------------------------------------------------------------------ live: the fake Mac


def timeval(when: datetime | None) -> str:
    """One value as `sysctl -n` prints a timeval: "{ sec = N, usec = M } <ctime>".
    source: built from the format (BSD sysctl.c S_timeval; power_lines.txt)."""
    if when is None:
        return "{ sec = 0, usec = 0 } Thu Jan  1 00:00:00 1970"
    stamp = when.timestamp()
    return f"{{ sec = {int(stamp)}, usec = {when.microsecond} }} {when.strftime('%c')}"


def sysctl(wake: datetime | None, boot: datetime) -> Reply:
    return Reply(f"{timeval(wake)}\n{timeval(boot)}\n".encode())


# `route -n get default` online: power_lines.txt, a real capture
ONLINE = Reply(
    b"   route to: default\ndestination: default\n       mask: default\n"
    b"    gateway: 192.168.1.1\n  interface: en0\n"
    b"      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING,GLOBAL>\n"
)
NO_ROUTE = Reply(stderr=b"route: writing to routing socket: not in table\n")  # power_lines.txt


def live_mac(
    rows: list[Row],
    *,
    rule: str = "evidence",
    wake: datetime | None = AT - 10 * HOUR,
    boot: datetime = AT - 5 * DAY,
    route: Reply = ONLINE,
    log: bytes | None = None,
) -> FakeSystem:
    """An enrolled Mac at AT whose `log show` prints these rows (ndjson), with both
    daemons running."""
    system = FakeSystem(clock=AT)
    prefs(system, LOCAL_PREFERENCES, StuckRule=rule)
    system.reply("/usr/bin/profiles", Reply(ENROLLED))
    system.reply(SYSCTL, sysctl(wake, boot))
    system.reply(ROUTE, route)
    system.reply(LOG, Reply(export_of("ndjson", [*BACKGROUND, *rows]) if log is None else log))
    system.start(MDM_CLIENT.executable)
    system.start(SOFTWARE_UPDATE.executable)
    return system


def healed(system: FakeSystem) -> dict[str, Any]:
    result = heal(system, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def restarted_mdmclient(system: FakeSystem) -> bool:
    return KICK_MDM in actions(system)


# ------------------------------------------------------------------ scenarios

HEALTHY = [row(40 * MINUTE, mdm(SENT)), row(40 * MINUTE - timedelta(seconds=1), mdm(OK))]
# the daily inventory 3 h ago, nothing since
IDLE = [row(3 * HOUR + 1 * MINUTE, mdm(SENT)), row(3 * HOUR, mdm(OK))]
FLEET_503 = [*IDLE, row(2 * HOUR, mdm(SENT)), row(2 * HOUR - MINUTE, mdm(SERVER_503))]
REJECTED = [*IDLE, row(2 * HOUR, mdm(SENT)), row(2 * HOUR - MINUTE, mdm(REJECTED_401))]
PUSHED = [*IDLE, row(20 * MINUTE, apsd(MDM_PUSH))]
# source: the topic mdmclient's daemon registers (Der Flounder 2026-08-29, in
# mdmclient_lines.txt) in the same apsd line; the user channel's topic proves nothing
DAEMON_TOPIC_PUSH = MDM_PUSH.replace(
    "com.apple.mgmt.External.c809ab17-5b2e-4c1e-9d1f-3a5c1b7e2d40",
    "com.apple.aps.mdmclient.daemon.push.production",
)
PUSHED_ON_THE_DAEMON_TOPIC = [*IDLE, row(20 * MINUTE, apsd(DAEMON_TOPIC_PUSH))]
PUSHED_ON_THE_AGENT_TOPIC = [
    *IDLE,
    row(20 * MINUTE, apsd(DAEMON_TOPIC_PUSH.replace(".daemon.", ".agent."))),
]
CONNECT_UNANSWERED = [*IDLE, row(20 * MINUTE, mdm(CONNECT, "MDMDaemon"))]
HUNG = [*IDLE, row(12 * MINUTE, mdm(SENT))]

SCENARIOS: dict[str, tuple[list[Row], str, bool]] = {
    "healthy": (HEALTHY, "healthy", False),
    "idle for hours": (IDLE, "idle", False),
    "503 fleet": (FLEET_503, "server-error", False),
    "401": (REJECTED, "rejected", False),
    "push unanswered": (PUSHED, "push-unanswered", True),
    "push on the daemon's topic unanswered": (PUSHED_ON_THE_DAEMON_TOPIC, "push-unanswered", True),
    "push on a user's topic": (PUSHED_ON_THE_AGENT_TOPIC, "idle", False),
    "connect unanswered": (CONNECT_UNANSWERED, "push-unanswered", True),
    "request hung": (HUNG, "request-hung", True),
}


class TestEachStateInEveryStyle:
    @pytest.mark.parametrize("style", STYLES)
    @pytest.mark.parametrize("name", SCENARIOS)
    def test_analyze(self, tmp_path: Path, style: str, name: str) -> None:
        rows, state, stuck = SCENARIOS[name]
        document = analyzed(tmp_path, style, rows)
        assert state_of(document) == (state, stuck)

    @pytest.mark.parametrize("name", SCENARIOS)
    def test_live(self, name: str) -> None:
        rows, state, stuck = SCENARIOS[name]
        system = live_mac(rows)
        document = healed(system)
        assert state_of(document) == (state, stuck)
        assert restarted_mdmclient(system) is stuck
        assert document["MDMClientRestarted"] is stuck


class TestIdle:
    def test_an_idle_mac_is_not_stuck_and_says_why(self, tmp_path: Path) -> None:
        result = analyze(tmp_path, "ndjson", IDLE, "--explain")
        assert result.exit_code == 0, result.output
        assert "MDMClientStuck: false" in result.output
        assert "MDM client state: idle (StuckRule evidence)" in result.output
        assert "quiet, and nothing asked of it" in result.output

    def test_the_quiet_rule_reproduces_the_original(self, tmp_path: Path) -> None:
        assert state_of(analyzed(tmp_path, "ndjson", IDLE, "--stuck-rule", "quiet")) == (
            "quiet-too-long",
            True,
        )
        assert state_of(analyzed(tmp_path, "ndjson", IDLE, "--stuck-rule", "evidence")) == (
            "idle",
            False,
        )

    def test_the_quiet_rule_live_restarts_an_idle_mac(self) -> None:
        system = live_mac(IDLE, rule="quiet")
        assert state_of(healed(system)) == ("quiet-too-long", True)
        assert restarted_mdmclient(system)

    def test_the_evidence_rule_live_leaves_it_alone(self) -> None:
        system = live_mac(IDLE)
        assert state_of(healed(system)) == ("idle", False)
        assert actions(system) == []

    @pytest.mark.parametrize("style", STYLES)
    def test_a_redacted_push_proves_nothing_and_is_counted(
        self, tmp_path: Path, style: str
    ) -> None:
        document = analyzed(tmp_path, style, [*IDLE, row(40 * MINUTE, apsd(REDACTED_PUSH))])
        assert state_of(document) == ("idle", False)
        assert document["evidence"]["redacted_pushes"] == 1
        assert document["evidence"]["last_push"] is None
        assert "<private>" in document["mdm_client"]["reason"]


class TestJustWoke:
    def test_woke_five_minutes_ago(self) -> None:
        system = live_mac(IDLE, wake=AT - 5 * MINUTE)
        document = healed(system)
        assert state_of(document) == ("just-woke", False)
        assert actions(system) == []
        power = document["evidence"]["circumstances"]["power"]
        assert power["source"] == "sysctl"
        assert power["awake_since"] == (AT - 5 * MINUTE).isoformat()

    def test_woke_five_minutes_ago_with_a_push_pending(self) -> None:
        # the push came before the sleep: 5 awake minutes are not past the grace
        system = live_mac([*IDLE, row(8 * HOUR, apsd(MDM_PUSH))], wake=AT - 5 * MINUTE)
        assert state_of(healed(system)) == ("just-woke", False)
        assert not restarted_mdmclient(system)

    def test_boot_run(self) -> None:
        # never slept since boot: kern.waketime is { sec = 0 }
        system = live_mac(IDLE, wake=None, boot=AT - 3 * MINUTE)
        assert state_of(healed(system)) == ("just-woke", False)
        assert actions(system) == []

    def test_awake_long_enough_is_judged(self) -> None:
        system = live_mac(PUSHED, wake=AT - 2 * HOUR)
        assert state_of(healed(system)) == ("push-unanswered", True)

    @pytest.mark.parametrize("style", STYLES)
    def test_analyze_with_a_wake_in_the_export(self, tmp_path: Path, style: str) -> None:
        rows = [*IDLE, row(9 * HOUR, powerd(SLEEP)), row(5 * MINUTE, powerd(WAKE))]
        document = analyzed(tmp_path, style, rows)
        assert state_of(document) == ("just-woke", False)
        assert document["evidence"]["circumstances"]["power"]["source"] == "log"


class TestOffline:
    def test_no_route_is_offline_and_nothing_is_restarted(self) -> None:
        system = live_mac(PUSHED, route=NO_ROUTE)
        document = healed(system)
        assert state_of(document) == ("offline", False)
        assert document["evidence"]["circumstances"]["network"]["online"] is False
        assert actions(system) == []

    @pytest.mark.parametrize(
        "route",
        [
            Reply(error="/sbin/route: timed out after 10 s"),
            Reply(returncode=1, stderr=b"route: bad address: default\n"),
            Reply(b"garbage\n"),
        ],
    )
    def test_a_failing_route_probe_is_an_unknown_network(self, route: Reply) -> None:
        system = live_mac(PUSHED, route=route)
        document = healed(system)
        assert document["evidence"]["circumstances"]["network"]["online"] is None
        assert state_of(document) == ("push-unanswered", True)
        assert restarted_mdmclient(system)

    @pytest.mark.parametrize(
        "reply", [Reply(error="/usr/sbin/sysctl: No such file"), Reply(b"garbage\n")]
    )
    def test_a_missing_sysctl_is_not_offline_and_still_judged(self, reply: Reply) -> None:
        system = live_mac(PUSHED)
        system.replies[SYSCTL] = [reply]
        document = healed(system)
        assert document["evidence"]["circumstances"]["power"]["source"] == "none"
        assert state_of(document) == ("push-unanswered", True)


class TestServerFaults:
    def test_503_fleet_is_not_restarted_even_past_the_push_grace(self) -> None:
        # the server failed, then pushed, and mdmclient answered with another 503
        rows = [*FLEET_503, row(40 * MINUTE, apsd(MDM_PUSH)), row(39 * MINUTE, mdm(SENT))]
        rows.append(row(39 * MINUTE - timedelta(seconds=1), mdm(SERVER_503)))
        system = live_mac(rows)
        document = healed(system)
        assert state_of(document) == ("server-error", False)
        assert document["evidence"]["last_device_outcome"]["code"] == "503"
        assert actions(system) == []

    def test_401_is_rejected_with_the_advice_to_re_enrol(self, tmp_path: Path) -> None:
        result = analyze(tmp_path, "ndjson", REJECTED, "--explain")
        assert "MDM client state: rejected" in result.output
        assert "re-enroll" in result.output
        system = live_mac([*REJECTED, row(30 * MINUTE, apsd(MDM_PUSH))])
        assert state_of(healed(system)) == ("rejected", False)
        assert actions(system) == []


class TestPushUnanswered:
    def test_heal_restarts_mdmclient(self) -> None:
        system = live_mac(PUSHED)
        document = healed(system)
        assert restarted_mdmclient(system)
        assert document["evidence"]["last_push"]["message"].startswith("<private>: Received")

    def test_within_the_push_grace_it_is_not_stuck(self, tmp_path: Path) -> None:
        rows = [*IDLE, row(14 * MINUTE, apsd(MDM_PUSH))]
        assert state_of(analyzed(tmp_path, "ndjson", rows)) == ("idle", False)

    def test_a_request_after_the_push_answers_it(self, tmp_path: Path) -> None:
        rows = [*PUSHED, row(19 * MINUTE, mdm(SENT)), row(19 * MINUTE, mdm(OK))]
        assert state_of(analyzed(tmp_path, "ndjson", rows)) == ("healthy", False)

    def test_the_grace_counts_awake_time_only(self, tmp_path: Path) -> None:
        # pushed, then asleep 30 min of the 40: 10 awake minutes are within the grace
        rows = [
            *IDLE,
            row(40 * MINUTE, apsd(MDM_PUSH)),
            row(39 * MINUTE, powerd(SLEEP)),
            row(9 * MINUTE, powerd(WAKE)),
            row(3 * HOUR, powerd(WAKE)),
        ]
        document = analyzed(tmp_path, "ndjson", rows)
        assert state_of(document)[1] is False


class TestRequestHung:
    def test_within_the_timeout_it_is_not_stuck(self, tmp_path: Path) -> None:
        rows = [*IDLE, row(9 * MINUTE, mdm(SENT))]
        assert state_of(analyzed(tmp_path, "ndjson", rows)) == ("idle", False)

    def test_a_response_of_any_status_ends_the_request(self, tmp_path: Path) -> None:
        rows = [*HUNG, row(11 * MINUTE, mdm(SERVER_503))]
        assert state_of(analyzed(tmp_path, "ndjson", rows)) == ("server-error", False)


# ------------------------------------------------------------------ quiet for 3 awake days

THREE_DAYS_QUIET = [row(3 * DAY + HOUR, mdm(SENT)), row(3 * DAY + HOUR, mdm(OK))]


class TestQuietTooLong:
    @pytest.mark.parametrize("style", STYLES)
    def test_analyze_with_power_events_in_the_export(self, tmp_path: Path, style: str) -> None:
        # awake the whole time: a wake just before the last exchange, no sleep since
        rows = [*THREE_DAYS_QUIET, row(3 * DAY + 2 * HOUR, powerd(WAKE))]
        document = analyzed(tmp_path, style, rows, "--history", "4d")
        assert state_of(document) == ("quiet-too-long", True)
        assert document["evidence"]["circumstances"]["power"]["source"] == "log"

    def test_three_days_mostly_asleep_is_not_quiet_too_long(self, tmp_path: Path) -> None:
        rows = [
            *THREE_DAYS_QUIET,
            row(3 * DAY + 2 * HOUR, powerd(WAKE)),
            row(3 * DAY, powerd(SLEEP)),
            row(2 * HOUR, powerd(WAKE)),
        ]
        document = analyzed(tmp_path, "ndjson", rows)
        assert state_of(document) == ("idle", False)

    def test_live_the_quiet_ledger_counts_across_runs(self) -> None:
        # first run: the last exchange in the window; then runs every 90 min, always
        # awake and online, with nothing in the log: quiet adds up in state.json
        system = live_mac(HEALTHY, wake=AT - 4 * DAY)
        assert state_of(healed(system)) == ("healthy", False)
        states = []
        for _ in range(int(3 * DAY / (90 * MINUTE))):
            system.clock += 90 * MINUTE
            system.replies[LOG] = [Reply(export_of("ndjson", [(system.clock, CHATTER[5], 0)]))]
            states.append(state_of(healed(system)))
        assert states[0] == ("idle", False)
        assert ("quiet-too-long", True) in states  # once: one spell, one restart at most
        quiet = saved_state(system)["mdm_client"]["quiet"]
        assert quiet["seconds"] >= 48 * 3600
        assert restarted_mdmclient(system)

    def test_live_one_quiet_spell_costs_mdmclient_one_restart_at_most(self) -> None:
        # A server that stopped pushing (an expired push certificate, APNs blocked): the
        # restart did not end the silence, so the days after restart nothing more.
        system = live_mac(HEALTHY, wake=AT - 9 * DAY)
        healed(system)
        states = []
        for _ in range(int(6 * DAY / (90 * MINUTE))):
            system.clock += 90 * MINUTE
            system.replies[LOG] = [Reply(export_of("ndjson", [(system.clock, CHATTER[5], 0)]))]
            states.append(state_of(healed(system)))
        assert states.count(("quiet-too-long", True)) == 1
        assert states[-1] == ("idle", False)
        assert len([c for c in system.calls if c[:3] == KICK_MDM[:3]]) == 1
        memory = saved_state(system)["mdm_client"]
        assert memory["quiet_restart_for"] == memory["quiet"]["since"]
        # an exchange ends the spell: the next quiet spell may cost a restart again
        system.clock += 90 * MINUTE
        system.replies[LOG] = [Reply(export_of("ndjson", [(system.clock - MINUTE, mdm(OK), 0)]))]
        assert state_of(healed(system)) == ("healthy", False)
        assert saved_state(system)["mdm_client"]["quiet_restart_for"] is None

    def test_live_first_run_counts_awake_time_since_the_last_wake(self) -> None:
        # from sysctl only the time since the last wake is sure to have been awake
        system = live_mac(THREE_DAYS_QUIET, wake=AT - 2 * HOUR)
        assert state_of(healed(system)) == ("idle", False)
        assert not restarted_mdmclient(system)
        system = live_mac(THREE_DAYS_QUIET, wake=AT - 4 * DAY)
        assert state_of(healed(system)) == ("quiet-too-long", True)
        assert restarted_mdmclient(system)

    def test_live_offline_time_is_not_counted(self) -> None:
        system = live_mac(HEALTHY, wake=AT - 4 * DAY, route=NO_ROUTE)
        healed(system)
        for _ in range(int(3 * DAY / (90 * MINUTE))):
            system.clock += 90 * MINUTE
            system.replies[LOG] = [Reply(export_of("ndjson", [(system.clock, CHATTER[5], 0)]))]
            assert state_of(healed(system))[1] is False
        assert saved_state(system)["mdm_client"]["quiet"]["seconds"] == 0
        assert not restarted_mdmclient(system)


# ------------------------------------------------------------------ identity


class TestIdentity:
    @pytest.mark.parametrize("style", STYLES)
    def test_an_identity_error_is_cleared_by_a_later_device_200(
        self, tmp_path: Path, style: str
    ) -> None:
        rows = [
            row(40 * MINUTE, mdm(IDENTITY, "FVEscrow")),
            row(20 * MINUTE, mdm(SENT)),
            row(20 * MINUTE, mdm(OK)),
        ]
        document = analyzed(tmp_path, style, rows)
        assert document["MDMIdentityError"] is False
        before = analyzed(tmp_path, style, rows[:1] + IDLE)
        assert before["MDMIdentityError"] is True

    def test_a_user_channel_200_does_not_clear_it(self, tmp_path: Path) -> None:
        rows = [row(40 * MINUTE, mdm(IDENTITY, "FVEscrow")), row(20 * MINUTE, EXCHANGES[2], 501)]
        assert analyzed(tmp_path, "ndjson", [*IDLE, *rows])["MDMIdentityError"] is True


# ------------------------------------------------------------------ forged lines

USER_BINARIES = ["/Users/eve/mdmclient", "/tmp/mdmclient"]
EVIL = "/Applications/Evil.app/Contents/MacOS/Evil"


def forgeries(record: Record) -> list[Record]:
    """The same line from a user's binary named mdmclient, and from a foreign process
    logging under mdmclient's subsystem."""
    return [
        *(forged(record, path) for path in USER_BINARIES),
        forged(record, EVIL, process="Evil"),
    ]


class TestForgedLines:
    @pytest.mark.parametrize("forgery", range(3))
    def test_a_forged_200_does_not_hide_a_stuck_client(self, forgery: int) -> None:
        fake = forgeries(mdm(OK))[forgery]
        system = live_mac([*PUSHED, row(5 * MINUTE, fake, 501), row(4 * MINUTE, fake, 0)])
        document = healed(system)
        assert state_of(document) == ("push-unanswered", True)
        assert document["evidence"]["senders"]["ignored_entries"] >= 2
        assert restarted_mdmclient(system)

    @pytest.mark.parametrize("forgery", range(3))
    def test_a_forged_identity_error_does_not_block_healing(self, forgery: int) -> None:
        fake = forgeries(mdm(IDENTITY, "FVEscrow"))[forgery]
        system = live_mac([*PUSHED, row(2 * MINUTE, fake, 0)])
        document = healed(system)
        assert document["MDMIdentityError"] is False
        assert document["evidence"]["senders"]["ignored_entries"] >= 1
        assert restarted_mdmclient(system)

    @pytest.mark.parametrize("forgery", range(3))
    def test_a_forged_schedule_os_update_does_not_restart_softwareupdated(
        self, forgery: int
    ) -> None:
        fake = forgeries(mdm(SCHEDULE_OS_UPDATE))[forgery]
        system = live_mac([*PUSHED, row(3 * HOUR + 2 * MINUTE, fake, 0)])
        document = healed(system)
        assert document["MDMSoftwareUpdatesStuck"] is False
        assert document["SoftwareUpdateDaemonRestarted"] is False
        assert KICK_SU not in actions(system)
        assert document["evidence"]["last_command"] is None

    def test_forged_lines_are_counted_in_explain(self, tmp_path: Path) -> None:
        rows = [*IDLE, *(row(MINUTE, fake) for fake in forgeries(mdm(OK)))]
        result = analyze(tmp_path, "ndjson", rows, "--explain")
        assert "Ignored 3 entries from other programs" in result.output
        assert "MDM client state: idle" in result.output

    @pytest.mark.parametrize("style", ["ndjson", "json"])
    def test_forgeries_are_ignored_in_styles_that_name_the_sender(
        self, tmp_path: Path, style: str
    ) -> None:
        rows = [*HUNG, *(row(MINUTE, fake) for fake in forgeries(mdm(OK)))]
        document = analyzed(tmp_path, style, rows)
        assert state_of(document) == ("request-hung", True)
        assert document["evidence"]["senders"]["ignored_entries"] == 3

    def test_user_501_on_a_device_tag_is_not_the_device_channel(self, tmp_path: Path) -> None:
        rows = [*HUNG, row(MINUTE, mdm(OK), 501)]
        document = analyzed(tmp_path, "ndjson", rows)
        assert state_of(document) == ("request-hung", True)
        assert document["evidence"]["last_device_exchange"]["time"] == (AT - 3 * HOUR).isoformat()


# ------------------------------------------------------------------ unreadable evidence


class TestUnreadableLog:
    @pytest.mark.parametrize(
        "output",
        [b"", b"garbage that is no log\n\x00\xff\n", b'{"count":0,"finished":1}\n'],
        ids=["empty", "garbage", "trailer only"],
    )
    def test_live_exit_3_unknown_nothing_restarted(self, output: bytes) -> None:
        system = live_mac([], log=output)
        result = heal(system)
        assert result.exit_code == 3, result.output
        assert "MDMClientStuck: unknown" in result.output
        assert not any(c[0] in ("/bin/launchctl", "/bin/kill") for c in system.calls)
        assert actions(system) == []
        assert saved_state(system)["last_run"]["error"]

    def test_analyze_with_no_daemon_entry_exits_3(self, tmp_path: Path) -> None:
        others = [row(MINUTE, CHATTER[2]), row(2 * MINUTE, CHATTER[4], 88)]
        result = analyze(tmp_path, "ndjson", others, background=False)
        assert result.exit_code == 3, result.output
        assert "no entry from mdmclient, softwareupdated or apsd" in result.output
        assert "MDMClientStuck: unknown" in result.output

    def test_analyze_with_only_forgeries_exits_3(self, tmp_path: Path) -> None:
        fakes = [row(MINUTE, f) for f in forgeries(mdm(OK))]
        result = analyze(tmp_path, "ndjson", fakes, background=False)
        assert result.exit_code == 3, result.output
        assert "3 from other programs ignored" in result.output


# ------------------------------------------------------------------ memory across runs


class TestMemory:
    def test_a_heal_run_stores_the_last_exchange_and_keeps_it(self) -> None:
        system = live_mac(HEALTHY)
        healed(system)
        stored = saved_state(system)["mdm_client"]["last_exchange"]
        assert stored["message"] == OK
        assert datetime.fromisoformat(stored["time"]) == AT - 40 * MINUTE + timedelta(seconds=1)
        system.clock += 3 * HOUR
        system.replies[LOG] = [Reply(export_of("ndjson", [(system.clock, CHATTER[5], 0)]))]
        system.calls.clear()
        document = healed(system)
        assert saved_state(system)["mdm_client"]["last_exchange"] == stored
        remembered = document["evidence"]["circumstances"]["remembered_device_exchange"]
        assert datetime.fromisoformat(remembered["time"]) == datetime.fromisoformat(stored["time"])
        assert len(system.calls_to(LOG)) == 1  # remembered: no history query

    def test_status_reports_it(self) -> None:
        system = live_mac(HEALTHY)
        healed(system)
        result = CliRunner().invoke(cli, ["status", "--json"], obj=system)
        assert result.exit_code == 0, result.output
        state = json.loads(result.output)["state"]
        assert state["mdm_client"]["last_exchange"]["message"] == OK

    def test_the_checkin_date_survives_a_window_without_a_200(self) -> None:
        system = live_mac(HEALTHY)
        healed(system)
        system.clock += 3 * HOUR
        system.replies[LOG] = [Reply(export_of("ndjson", [(system.clock, CHATTER[5], 0)]))]
        healed(system)
        result = CliRunner().invoke(cli, ["status", "--field", "last-mdm-checkin"], obj=system)
        remembered = saved_state(system)["mdm_client"]["last_exchange"]["time"]
        expected = datetime.fromisoformat(remembered).astimezone(UTC)
        assert result.output.strip() == expected.strftime("%Y-%m-%d %H:%M:%S")

    def test_the_first_run_without_memory_asks_the_history_once(self) -> None:
        system = live_mac([row(5 * MINUTE, CHATTER[5])], log=None)
        history = export_of("ndjson", IDLE)
        window = export_of("ndjson", [*BACKGROUND, row(5 * MINUTE, CHATTER[5])])
        system.replies[LOG] = [Reply(window), Reply(history)]
        document = healed(system)
        queries = system.calls_to(LOG)
        assert len(queries) == 2
        assert queries[1][-2:] == ("--predicate", HISTORY_PREDICATE)
        assert state_of(document) == ("idle", False)
        assert saved_state(system)["mdm_client"]["last_exchange"]["message"] == OK


# ------------------------------------------------------------------ restart splay


class TestRestartSplay:
    def test_sleeps_up_to_the_splay_then_judges_again(self) -> None:
        system = live_mac(PUSHED)
        prefs(system, RestartSplayMinutes=30)
        healed(system)
        slept = system.clock - AT
        assert timedelta(0) < slept <= 30 * MINUTE
        assert len([c for c in system.calls if c[0] == LOG and "1440m" not in c]) >= 2
        assert restarted_mdmclient(system)

    def test_a_client_that_recovered_during_the_splay_is_not_restarted(self) -> None:
        system = live_mac(PUSHED)
        prefs(system, RestartSplayMinutes=30)
        later = export_of("ndjson", [*PUSHED, (AT + timedelta(seconds=1), mdm(OK), 0)])
        first = export_of("ndjson", [*BACKGROUND, *PUSHED])
        system.replies[LOG] = [Reply(first), Reply(first), Reply(later), Reply(later)]
        document = healed(system)
        assert not restarted_mdmclient(system)
        assert state_of(document)[1] is False


# ------------------------------------------------------------------ properties


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    # within QuietHours (48 h) of one another and of the instant: idle gaps, never too long
    exchanges=st.lists(st.integers(min_value=2, max_value=47 * 60), min_size=1, max_size=6),
    sleeps=st.lists(st.tuples(st.integers(1, 6 * 24 * 60), st.integers(1, 12 * 60)), max_size=4),
    forged_count=st.integers(0, 3),
)
def test_a_healthy_mac_with_only_200s_and_idle_gaps_is_never_stuck(
    tmp_path: Path, exchanges: list[int], sleeps: list[tuple[int, int]], forged_count: int
) -> None:
    """Whatever the instant and the sleep pattern: a Mac whose every request got a 200
    within seconds, and that nobody pushed, is never stuck; forgeries change nothing."""
    rows: list[Row] = []
    for minutes in exchanges:
        rows += [
            row(minutes * MINUTE, mdm(SENT)),
            row(minutes * MINUTE - timedelta(seconds=1), mdm(OK)),
        ]
    for start, length in sleeps:
        rows += [row(start * MINUTE, powerd(SLEEP)), row((start - length) * MINUTE, powerd(WAKE))]
    document = analyzed(tmp_path, "ndjson", rows, "--history", "7d")
    assert document["mdm_client"]["stuck"] is False
    fakes = [
        row(m * MINUTE, f, 0) for m, f in zip(exchanges, forgeries(mdm(SENT)) * 2, strict=False)
    ]
    with_forgeries = analyzed(tmp_path, "ndjson", [*rows, *fakes[:forged_count]], "--history", "7d")
    assert with_forgeries["mdm_client"]["state"] == document["mdm_client"]["state"]


# ------------------------------------------------------------------ what a push asks

# source: Apple DTS, developer forums thread 738806 (field notes, checkin_lines.txt): the
# MDM daemon's words for a push with the wrong magic; the device tag is a real one.
WRONG_MAGIC = (
    "[0:MDMDaemon:<0x464d>] Rejecting MDM push dictionary because it does not have the "
    "right magic string."
)
PROCESSING = COMMANDS[1][4]  # "... Processing server request: DeclarativeManagement for: <Device>"


class TestWhatAPushAsks:
    def test_a_push_with_the_wrong_magic_is_the_servers_fault_fleet_wide(self) -> None:
        system = live_mac(
            [
                *IDLE,
                row(30 * MINUTE, apsd(MDM_PUSH)),
                row(30 * MINUTE - timedelta(seconds=1), mdm(WRONG_MAGIC, "MDMDaemon")),
            ]
        )
        assert state_of(healed(system)) == ("server-error", False)
        assert not restarted_mdmclient(system)

    def test_a_push_while_a_command_is_carried_out_is_not_judged(self) -> None:
        # mdmclient got a command and is carrying it out (an install may take long): it
        # polls again when done, so the push it has not answered yet is no wedge
        rows = [
            row(36 * MINUTE, mdm(SENT)),
            row(35 * MINUTE, mdm(OK)),
            row(35 * MINUTE, mdm(PROCESSING, "MDMDaemon")),
            row(20 * MINUTE, apsd(MDM_PUSH)),
        ]
        assert state_of(healed(live := live_mac(rows))) == ("healthy", False)
        assert not restarted_mdmclient(live)

    def test_a_push_the_users_mdmclient_answered_is_answered(self) -> None:
        rows = [*IDLE, row(30 * MINUTE, apsd(MDM_PUSH)), row(29 * MINUTE, EXCHANGES[2], 501)]
        system = live_mac(rows)
        assert state_of(healed(system)) == ("idle", False)
        assert not restarted_mdmclient(system)

    def test_apsd_run_by_a_user_is_not_apsd(self) -> None:
        # anyone may run the binary, as themselves: its records are not the daemon's
        system = live_mac([*IDLE, (AT - 30 * MINUTE, apsd(MDM_PUSH), 501)])
        document = healed(system)
        assert state_of(document) == ("idle", False)
        assert document["evidence"]["senders"]["ignored_entries"] == 1


class TestReadingLive:
    def test_an_empty_window_is_not_made_good_by_older_log(self) -> None:
        system = live_mac([])
        history = export_of(
            "ndjson", [*IDLE, row(91 * MINUTE + 30 * timedelta(seconds=1), apsd(MDM_PUSH))]
        )
        system.replies[LOG] = [Reply(b""), Reply(history)]
        result = heal(system, "--json")
        assert result.exit_code == 3
        assert len(system.calls_to(LOG)) == 1
        assert not restarted_mdmclient(system)

    def test_an_ipv6_only_network_is_a_network(self) -> None:
        ipv6 = Reply(b"   route to: default\ndestination: default\n  interface: en0\n")
        system = live_mac(HUNG, route=NO_ROUTE)
        system.replies[ROUTE] = [NO_ROUTE, ipv6]
        document = healed(system)
        assert state_of(document) == ("request-hung", True)
        assert document["evidence"]["circumstances"]["network"]["online"] is True
        assert (ROUTE, "-n", "get", "-inet6", "default") in system.calls

    def test_a_ledger_from_the_future_does_not_keep_a_mac_quiet(self) -> None:
        system = live_mac(IDLE)
        ahead = (AT + 2 * DAY).isoformat()
        system.files[STATE_PATH] = json.dumps(
            {
                "mdm_client": {
                    "quiet": {
                        "since": ahead,
                        "seconds": 180000,
                        "accounted_until": ahead,
                        "online": True,
                    }
                }
            }
        ).encode()
        assert state_of(healed(system)) == ("idle", False)
        assert not restarted_mdmclient(system)

    def test_a_memory_this_version_cannot_read_is_kept_as_it_was(self) -> None:
        system = live_mac([], log=export_of("ndjson", BACKGROUND))
        newer = {"format": 7, "exchanges": [1, 2, 3]}
        system.files[STATE_PATH] = json.dumps({"mdm_client": newer}).encode()
        system.replies[LOG] = [Reply(b"")]  # proves nothing: nothing new to remember
        heal(system)
        assert saved_state(system)["mdm_client"] == newer

    def test_a_checkin_that_is_not_a_time_falls_back_to_the_last_runs(self) -> None:
        system = live_mac(HEALTHY)
        healed(system)
        document = saved_state(system)
        document["mdm_client"]["last_exchange"]["time"] = 123
        system.files[STATE_PATH] = json.dumps(document).encode()
        result = CliRunner().invoke(cli, ["status", "--field", "last-mdm-checkin"], obj=system)
        assert result.output.strip().startswith("2026-11-25 11:")
