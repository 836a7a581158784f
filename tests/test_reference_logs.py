"""`mdm-watchdog analyze` on every real super example log and run folder.

These are whole logs from public MDM-driven macOS update runs (see
tests/fixtures/logs/SOURCE.md): mdmCommand.log (mdmclient HTTP exchanges, compact),
mdmWorkflow.log (softwareupdated progress), mdm.log/update.log (default style), and
super's own logs, which hold no unified-log entries at all.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support import LOGS, FakeSystem, compact_mdm_logs, log_files, mdm_logs, run_folders
from watchdog_mdm.cli import cli


def analyze(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", *args, "--json"], obj=FakeSystem())
    assert result.exit_code == 0, result.output
    start = result.output.index("{")
    doc: dict[str, Any] = json.loads(result.output[start:])
    return doc


def test_every_parametrised_set_of_logs_is_all_there() -> None:
    # A parametrisation over a missing folder would run no case and pass; this fails.
    assert len(log_files()) == 34
    assert len(run_folders()) == 10
    assert len(mdm_logs()) == 5
    assert len(compact_mdm_logs()) == 8  # read whole by test_logs


@pytest.mark.parametrize("path", log_files(), ids=lambda p: str(p.relative_to(LOGS)))
def test_every_log_gets_an_explained_result(path: Path) -> None:
    doc = analyze(str(path))
    reasons = doc["evidence"]["reasons"]
    assert set(reasons) == {
        "MDMEnrolled",
        "MDMIdentityError",
        "MDMClientStuck",
        "MDMSoftwareUpdatesStuck",
    }
    assert all(reasons.values())
    has_device_traffic = "[0:MDMDaemon:" in path.read_text()
    assert doc["MDMEnrolled"] is (True if has_device_traffic else None)
    # Judged at its own newest entry, every log shows a client that just talked.
    assert doc["MDMClientStuck"] is False
    assert doc["MDMIdentityError"] is False


@pytest.mark.parametrize("path", mdm_logs(), ids=lambda p: str(p.relative_to(LOGS)))
def test_three_hours_after_each_run_the_update_is_stuck(path: Path) -> None:
    newest = analyze(str(path))["evidence"]["judged_at"]
    later = (datetime.fromisoformat(newest) + timedelta(hours=3)).isoformat()
    doc = analyze(str(path), "--at", later)
    assert doc["MDMClientStuck"] is True
    assert doc["MDMSoftwareUpdatesStuck"] is True
    assert doc["evidence"]["last_command"]["request_type"] == "ScheduleOSUpdate"
    assert doc["evidence"]["last_command"]["status"] == "Acknowledged"


@pytest.mark.parametrize("run", run_folders(), ids=lambda p: str(p.relative_to(LOGS)))
def test_every_run_folder(run: Path) -> None:
    doc = analyze(str(run))
    assert doc["MDMClientStuck"] is False
    with_mdm = any((run / name).exists() for name in ("mdmCommand.log", "mdm.log"))
    assert doc["MDMEnrolled"] is (True if with_mdm else None)
    if (run / "mdmWorkflow.log").exists():
        assert doc["evidence"]["last_software_update_progress"] is not None
