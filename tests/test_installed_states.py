"""The client states through the installed command on the fake Mac, as launchd runs it.

The fake Mac (a folder given as --system-root) has stand-ins for every command a live
run asks: profiles, log, sysctl (when the Mac woke and booted), route (whether it has a
network) and launchctl (what was restarted). The installed command reads the real
clock, so every time here is placed before the real now. The wordings are those of
tests/test_client_state.py (real lines, or built from real ones where its comments say).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.exports import export_of
from tests.support import ENROLLED, FakeMac, run_installed, saved_state
from tests.test_client_state import CONNECT, OK, SENT, SERVER_503, apsd, forged, mdm

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# `route -n get default` with and without a network (public captures, checkin_lines.txt)
ONLINE = b"   route to: default\ndestination: default\n    gateway: 192.168.1.1\n  interface: en0\n"
NO_ROUTE = b"route: writing to routing socket: not in table\n"
COURIER = "Connected to courier 18-courier.push.apple.com (17.57.144.12)"


def timeval(when: datetime | None) -> str:
    """One line of `sysctl -n` for a timeval, as the kernel's sysctl prints it."""
    seconds = 0 if when is None else int(when.timestamp())
    shown = datetime.fromtimestamp(seconds, UTC).strftime("%a %b %d %H:%M:%S %Y")
    return f"{{ sec = {seconds}, usec = 0 }} {shown}\n"


def fake_live_mac(
    mac: FakeMac,
    rows: list[tuple[timedelta, tuple[str, str, str, str, str]]],
    *,
    woke: timedelta | None = 10 * HOUR,
    route: bytes = ONLINE,
) -> datetime:
    """An enrolled Mac whose log holds these rows (each this long before now, from the
    device channel's user 0), awake since ``woke`` ago (None: never slept since a boot
    two days ago). Returns the now the rows were placed against."""
    now = datetime.now(UTC)
    log = export_of("ndjson", [(now - ago, record, 0) for ago, record in rows])
    mac.install("/usr/bin/profiles", ENROLLED)
    mac.install("/usr/bin/log", log)
    boot = now - 2 * DAY
    mac.install(
        "/usr/sbin/sysctl", (timeval(None if woke is None else now - woke) + timeval(boot)).encode()
    )
    mac.install("/sbin/route", route)
    mac.install("/bin/launchctl")
    return now


def heal(mac: FakeMac) -> tuple[int, dict[str, Any]]:
    done = run_installed("-heal", "--json", "--system-root", str(mac.root))
    start = done.stdout.index("{")
    document: dict[str, Any] = json.JSONDecoder().raw_decode(done.stdout[start:])[0]
    return done.returncode, document


def kicks(mac: FakeMac) -> list[list[str]]:
    return [c for c in mac.calls("launchctl") if c[:1] == ["kickstart"]]


IDLE = [(3 * HOUR, mdm(SENT)), (3 * HOUR - MINUTE, mdm(OK)), (20 * MINUTE, apsd(COURIER))]


def test_an_idle_mac_is_not_restarted(fake_mac: FakeMac) -> None:
    fake_live_mac(fake_mac, IDLE)
    code, doc = heal(fake_mac)
    assert code == 0
    assert doc["mdm_client"]["state"] == "idle"
    assert doc["MDMClientStuck"] is False
    assert kicks(fake_mac) == []
    assert fake_mac.calls("sysctl") == [["-n", "kern.waketime", "kern.boottime"]]
    assert fake_mac.calls("route") == [["-n", "get", "default"]]
    # the exchange is remembered for the next run and the check-in attribute
    assert saved_state(fake_mac)["mdm_client"]["last_exchange"]["message"].endswith(
        "Received HTTP response (200) [Idle] <<<<<"
    )


def test_an_unanswered_push_restarts_mdmclient(fake_mac: FakeMac) -> None:
    fake_live_mac(fake_mac, [*IDLE, (30 * MINUTE, mdm(CONNECT, "MDMDaemon"))])
    code, doc = heal(fake_mac)
    assert code == 0
    assert doc["mdm_client"]["state"] == "push-unanswered"
    assert doc["MDMClientStuck"] is True and doc["MDMClientRestarted"] is True
    assert kicks(fake_mac) == [["kickstart", "-k", "system/com.apple.mdmclient.daemon"]]


def test_a_mac_that_just_woke_is_not_judged(fake_mac: FakeMac) -> None:
    fake_live_mac(fake_mac, [*IDLE, (30 * MINUTE, mdm(CONNECT, "MDMDaemon"))], woke=5 * MINUTE)
    code, doc = heal(fake_mac)
    assert code == 0
    assert doc["mdm_client"]["state"] == "just-woke"
    assert kicks(fake_mac) == []


def test_a_mac_without_a_network_is_not_restarted(fake_mac: FakeMac) -> None:
    fake_live_mac(fake_mac, [*IDLE, (30 * MINUTE, mdm(SENT))], route=NO_ROUTE)
    code, doc = heal(fake_mac)
    assert code == 0
    assert doc["mdm_client"]["state"] == "offline"
    assert kicks(fake_mac) == []


def test_a_failing_server_is_not_a_reason_to_restart(fake_mac: FakeMac) -> None:
    fake_live_mac(fake_mac, [*IDLE, (30 * MINUTE, mdm(SENT)), (30 * MINUTE, mdm(SERVER_503))])
    code, doc = heal(fake_mac)
    assert code == 0
    assert doc["mdm_client"]["state"] == "server-error"
    assert kicks(fake_mac) == []


def test_a_forged_success_does_not_hide_a_hung_request(fake_mac: FakeMac) -> None:
    fake = forged(mdm(OK), "/Users/eve/bin/mdmclient")
    fake_live_mac(fake_mac, [*IDLE, (40 * MINUTE, mdm(SENT)), (5 * MINUTE, fake)])
    code, doc = heal(fake_mac)
    assert code == 0
    assert doc["mdm_client"]["state"] == "request-hung"
    assert doc["evidence"]["senders"]["ignored_entries"] == 1
    assert kicks(fake_mac) == [["kickstart", "-k", "system/com.apple.mdmclient.daemon"]]


def test_an_empty_log_restarts_nothing_and_exits_3(fake_mac: FakeMac) -> None:
    fake_live_mac(fake_mac, [])
    fake_mac.install("/usr/bin/log", b"")
    done = run_installed("-heal", "--system-root", str(fake_mac.root))
    assert done.returncode == 3
    assert done.stdout.startswith(
        "MDMEnrolled: true MDMIdentityError: unknown MDMClientStuck: unknown "
        "MDMSoftwareUpdatesStuck: unknown MDMClientRestarted: false"
    )
    assert "nothing was restarted" in done.stderr
    assert kicks(fake_mac) == []
    assert "printed nothing" in saved_state(fake_mac)["last_run"]["error"]
