"""What an export alone says of a DDM update: softwareupdated's own naming of the
declaration it enforces (tests/fixtures/ddm_update_lines.txt), without the Mac's files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from tests.exports import export_of
from tests.support import FakeSystem, reference_line
from watchdog_mdm.cli import cli
from watchdog_mdm.evidence import Sighting
from watchdog_mdm.software_update import Declaration, declaration_from_log

SOFTWAREUPDATED = (
    "/System/Library/CoreServices/Software Update.app/Contents/Resources/softwareupdated"
)
DECLARATION = reference_line("ddm_update_lines.txt", "declarationFromKeys")
AT = datetime(2026, 8, 20, 9, 0, tzinfo=UTC)


def test_the_declared_target_and_deadline_are_read_from_the_line() -> None:
    line = Sighting(AT, DECLARATION)
    assert declaration_from_log(line, UTC) == Declaration(
        "26.6.2", None, datetime(2026, 8, 21, 13, 0, tzinfo=UTC)
    )


def test_a_line_without_a_version_declares_nothing() -> None:
    assert declaration_from_log(Sighting(AT, "declarationFromKeys]: nothing here"), UTC) is None


def test_analyze_shows_the_declaration_and_cannot_tell_the_running_version(
    tmp_path: Path,
) -> None:
    record = ("softwareupdated", SOFTWAREUPDATED, "com.apple.SoftwareUpdate", "SU", DECLARATION)
    path = tmp_path / "export.ndjson"
    path.write_bytes(export_of("ndjson", [(AT - timedelta(minutes=5), record, 200)]))
    result = CliRunner().invoke(
        cli, ["analyze", str(path), "--at", AT.isoformat(), "--json"], obj=FakeSystem(clock=AT)
    )
    update = json.loads(result.output)["software_update"]
    assert update["channel"] == "ddm"
    assert update["target_version"] == "26.6.2"
    assert update["deadline"] == "2026-08-21T13:00:00+00:00"
    assert update["state"] == "unknown"  # the running version is not in a log
    assert "running version is unknown" in update["reason"]


def test_only_the_progress_managers_own_lines_are_progress(tmp_path: Path) -> None:
    # softwareupdated logs text others choose (a client's path): it must not pass for
    # progress, and hold off or bring on a restart
    real = reference_line("softwareupdated_lines.txt", "phase:DOWNLOADING_UPDATE", "(inter)")
    message = real[real.index("[SUMacControllerProgressManager]") :]
    forged = "Adding client: path = /tmp/Reported progress (inter): phase:DOWNLOADING_UPDATE x"
    rows: list[tuple[datetime, tuple[str, str, str, str, str], int | None]] = [
        (AT - timedelta(minutes=3), ("softwareupdated", SOFTWAREUPDATED, "", "", forged), 200),
    ]
    path = tmp_path / "export.ndjson"
    path.write_bytes(export_of("ndjson", rows))
    run = ["analyze", str(path), "--at", AT.isoformat(), "--json"]
    update = json.loads(CliRunner().invoke(cli, run, obj=FakeSystem(clock=AT)).output)
    assert update["software_update"]["phase"] is None
    rows.append(
        (AT - timedelta(minutes=2), ("softwareupdated", SOFTWAREUPDATED, "", "", message), 200)
    )
    path.write_bytes(export_of("ndjson", rows))
    update = json.loads(CliRunner().invoke(cli, run, obj=FakeSystem(clock=AT)).output)
    assert update["software_update"]["state"] == "downloading"
