"""A stalled update older than the window's log: seen from what earlier runs remembered.

A live run reads 90 minutes of log (and the history only when it must). A download that
stalled two hours ago is no longer in the window; `state.json` remembers softwareupdated's
newest update progress, so the next run still sees it stalled.
"""

from __future__ import annotations

import json
from datetime import timedelta

from tests.exports import export_of
from tests.support import KICK_SU, Reply, actions, heal, saved_state
from tests.test_client_state import AT, BACKGROUND, IDLE
from tests.test_software_update import downloading, live, su
from watchdog_mdm.diagnose import LOG
from watchdog_mdm.evidence import Progress
from watchdog_mdm.verdicts import with_remembered

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def test_a_stall_older_than_the_window_is_remembered_and_seen() -> None:
    # first run: the download is moving (last progress 2 minutes ago); remembered
    moving = [(AT - 2 * MINUTE, su(downloading(0.4)), 200)]
    system = live([], log=[export_of("ndjson", [*[(t, r, u) for t, r, u in BACKGROUND], *moving])])
    first = json.loads(heal(system, "--json").output)
    assert first["software_update"]["state"] == "downloading"
    remembered = saved_state(system)["mdm_client"]["last_update_progress"]
    assert remembered["phase"] == "DOWNLOADING_UPDATE" and remembered["edge"] == "inter"
    # three hours later the window holds nothing of softwareupdated: stalled, from memory
    system.clock = AT + 3 * HOUR
    system.replies[LOG] = [Reply(export_of("ndjson", [(AT + 3 * HOUR - MINUTE, IDLE[0][1], 0)]))]
    system.calls.clear()
    later = json.loads(heal(system, "--json").output)
    assert later["software_update"]["state"] == "stalled"
    assert later["MDMSoftwareUpdatesStuck"] is True
    assert KICK_SU in actions(system)


def test_the_logs_own_newer_progress_wins_over_the_remembered() -> None:
    old = Progress(AT - 3 * HOUR, "DOWNLOADING_UPDATE", "inter", 0.4)
    new = Progress(AT - 2 * MINUTE, "PREPARING_UPDATE", "inter", 0.1)
    assert with_remembered((new,), old) == (new,)
    assert with_remembered((old,), new) == (old, new)
    assert with_remembered((), new) == (new,)
    assert with_remembered((new,), None) == (new,)
