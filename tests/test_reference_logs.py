"""`mdm-watchdog analyze` on every real super example log and run folder.

These are whole logs from public MDM-driven macOS update runs (see
tests/fixtures/logs/SOURCE.md): mdmCommand.log (mdmclient HTTP exchanges, compact),
mdmWorkflow.log (softwareupdated progress), mdm.log/update.log (default style), and
super's own logs, which hold no unified-log entries at all.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support import LOGS, FakeSystem, compact_mdm_logs, log_files, mdm_logs, run_folders
from watchdog_mdm.cli import cli


def analyze(*args: str, exit_codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", *args, "--json"], obj=FakeSystem())
    assert result.exit_code in exit_codes, result.output
    start = result.output.index("{")
    doc: dict[str, Any] = json.JSONDecoder().raw_decode(result.output[start:])[0]
    # exit 3 exactly when nothing in the input came from Apple's daemons
    assert (result.exit_code == 3) is (doc["evidence"]["senders"]["daemon_entries"] == 0)
    return doc


def test_every_parametrised_set_of_logs_is_all_there() -> None:
    # A parametrisation over a missing folder would run no case and pass; this fails.
    assert len(log_files()) == 34
    assert len(run_folders()) == 10
    assert len(mdm_logs()) == 5
    assert len(compact_mdm_logs()) == 8  # read whole by test_logs


@pytest.mark.parametrize("path", log_files(), ids=lambda p: str(p.relative_to(LOGS)))
def test_every_log_gets_an_explained_result(path: Path) -> None:
    text = path.read_text()
    # A log with no entry from Apple's daemons proves nothing: unknown, exit 3.
    doc = analyze(str(path), exit_codes=(0, 3))
    from_daemons = doc["evidence"]["senders"]["daemon_entries"] > 0
    # unified-log lines (compact "mdmclient[1057:...]", default "mdmclient: "), not
    # super's own log, which only names them
    assert from_daemons is bool(re.search(r"\b(mdmclient|softwareupdated)(\[\d|: [\[(])", text))
    reasons = doc["evidence"]["reasons"]
    assert set(reasons) == {
        "MDMEnrolled",
        "MDMIdentityError",
        "MDMClientStuck",
        "MDMSoftwareUpdatesStuck",
    }
    assert all(reasons.values())
    has_device_traffic = "[0:MDMDaemon:" in text
    assert doc["MDMEnrolled"] is (True if has_device_traffic else None)
    # Judged at its own newest entry, every log with device traffic shows a client that
    # just talked; without it, whether the client is stuck cannot be told.
    assert doc["MDMClientStuck"] is (False if has_device_traffic else None)
    assert doc["mdm_client"]["state"] == ("healthy" if has_device_traffic else "unknown")
    assert doc["MDMIdentityError"] is (False if from_daemons else None)


@pytest.mark.parametrize("path", mdm_logs(), ids=lambda p: str(p.relative_to(LOGS)))
def test_three_hours_after_each_run_the_client_is_idle_not_stuck(path: Path) -> None:
    # The update was acknowledged and the server has not pushed since: a healthy Mac.
    newest = analyze(str(path))["evidence"]["judged_at"]
    later = (datetime.fromisoformat(newest) + timedelta(hours=3)).isoformat()
    doc = analyze(str(path), "--at", later)
    assert doc["MDMClientStuck"] is False
    assert doc["MDMSoftwareUpdatesStuck"] is False
    assert doc["mdm_client"]["state"] == "idle"
    assert doc["mdm_client"]["rule"] == "evidence"


@pytest.mark.parametrize("path", mdm_logs(), ids=lambda p: str(p.relative_to(LOGS)))
def test_three_hours_after_each_run_the_original_rule_calls_the_update_stuck(path: Path) -> None:
    newest = analyze(str(path))["evidence"]["judged_at"]
    later = (datetime.fromisoformat(newest) + timedelta(hours=3)).isoformat()
    doc = analyze(str(path), "--at", later, "--stuck-rule", "quiet")
    assert doc["MDMClientStuck"] is True
    assert doc["MDMSoftwareUpdatesStuck"] is True
    assert doc["evidence"]["last_command"]["request_type"] == "ScheduleOSUpdate"
    assert doc["evidence"]["last_command"]["status"] == "Acknowledged"


@pytest.mark.parametrize("run", run_folders(), ids=lambda p: str(p.relative_to(LOGS)))
def test_every_run_folder(run: Path) -> None:
    doc = analyze(str(run), exit_codes=(0, 3))
    with_mdm = any((run / name).exists() for name in ("mdmCommand.log", "mdm.log"))
    assert doc["MDMClientStuck"] is (False if with_mdm else None)
    assert doc["MDMEnrolled"] is (True if with_mdm else None)
    if (run / "mdmWorkflow.log").exists():
        assert doc["evidence"]["last_software_update_progress"] is not None
