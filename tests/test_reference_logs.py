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

from tests.conftest import LOGS, FakeSystem
from watchdog_mdm.cli import cli

FILES = sorted(p for p in LOGS.glob("**/*.log"))
RUNS = sorted({p.parent for p in FILES})
MDM_LOGS = [p for p in FILES if p.name in ("mdmCommand.log", "mdm.log")]


def analyze(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", *args, "--json"], obj=FakeSystem())
    assert result.exit_code == 0, result.output
    start = result.output.index("{")
    doc: dict[str, Any] = json.loads(result.output[start:])
    return doc


def test_there_are_logs_to_read() -> None:
    assert len(FILES) >= 30
    assert len(MDM_LOGS) == 5


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(LOGS)))
def test_every_log_gets_an_explained_result(path: Path) -> None:
    doc = analyze(str(path))
    reasons = doc["evidence"]["reasons"]
    assert set(reasons) == {"MDMEnrolled", "MDMIdentityError", "MDMClientStuck",
                            "MDMSoftwareUpdatesStuck"}
    assert all(reasons.values())
    has_device_traffic = "[0:MDMDaemon:" in path.read_text()
    assert doc["MDMEnrolled"] is (True if has_device_traffic else None)
    # Judged at its own newest entry, every log shows a client that just talked.
    assert doc["MDMClientStuck"] is False
    assert doc["MDMIdentityError"] is False


@pytest.mark.parametrize("path", MDM_LOGS, ids=lambda p: str(p.relative_to(LOGS)))
def test_three_hours_after_each_run_the_update_is_stuck(path: Path) -> None:
    newest = analyze(str(path))["evidence"]["judged_at"]
    later = (datetime.fromisoformat(newest) + timedelta(hours=3)).isoformat()
    doc = analyze(str(path), "--at", later)
    assert doc["MDMClientStuck"] is True
    assert doc["MDMSoftwareUpdatesStuck"] is True
    assert doc["evidence"]["last_command"]["request_type"] == "ScheduleOSUpdate"
    assert doc["evidence"]["last_command"]["status"] == "Acknowledged"


@pytest.mark.parametrize("run", RUNS, ids=lambda p: str(p.relative_to(LOGS)))
def test_every_run_folder(run: Path) -> None:
    doc = analyze(str(run))
    assert doc["MDMClientStuck"] is False
    with_mdm = any((run / name).exists() for name in ("mdmCommand.log", "mdm.log"))
    assert doc["MDMEnrolled"] is (True if with_mdm else None)
    if (run / "mdmWorkflow.log").exists():
        assert doc["evidence"]["last_software_update_progress"] is not None
