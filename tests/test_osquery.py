"""The osquery tables and Fleet policies of docs/osquery/ work on a real history.

The installed command runs on the fake Mac, a few times with different logs, and writes
its history.db; each table of the ATC configuration is then built as osquery builds it
(its query run against the database, every column TEXT, an implicit ``path`` column),
and the documented queries and the Fleet policies run against those tables.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    QUIET_WINDOW,
    REPO,
    FakeMac,
    export,
    reconstructed_lines,
    run_heal,
    run_installed,
)
from watchdog_mdm.history import COLUMNS, HISTORY_PATH, RunRecord, record_run
from watchdog_mdm.system import MacSystem

OSQUERY = REPO / "docs" / "osquery"
TYPES = {"INTEGER": "integer", "REAL": "real", "TEXT": "text"}


def atc_configuration() -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = json.loads((OSQUERY / "mdm-watchdog.conf").read_text())[
        "auto_table_construction"
    ]
    return tables


def documented_types() -> dict[str, str]:
    """The Columns table of docs/osquery/README.md: column -> SQLite type."""
    section = (OSQUERY / "README.md").read_text().split("## Columns", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| (INTEGER|REAL|TEXT) \|", section, re.MULTILINE))


def example_queries() -> list[str]:
    section = (OSQUERY / "README.md").read_text().split("## Example queries", 1)[1]
    return re.findall(r"```sql\n(.*?)\n```", section, re.DOTALL)


def policies() -> dict[str, str]:
    """Each Fleet policy's name and query (one double-quoted line each, as JSON reads it)."""
    text = (OSQUERY / "mdm-watchdog-policies.yml").read_text()
    names = re.findall(r"^- name: (.+)$", text, re.MULTILINE)
    queries = [json.loads(q) for q in re.findall(r"^  query: (\".*\")$", text, re.MULTILINE)]
    assert len(names) == len(queries) == 4
    return dict(zip(names, queries, strict=True))


def database(mac: FakeMac) -> Path:
    return mac.root / HISTORY_PATH.lstrip("/")


def osquery_tables(db: Path) -> sqlite3.Connection:
    """The ATC tables as osquery constructs them from ``db``: each table's query run
    against the database, its values as text (NULL as empty), a ``path`` column added."""
    tables = sqlite3.connect(":memory:")
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for name, table in atc_configuration().items():
            cursor = source.execute(table["query"])
            assert [d[0] for d in cursor.description] == table["columns"], name
            columns = [*table["columns"], "path"]
            tables.execute(f"CREATE TABLE {name} ({', '.join(f'{c} TEXT' for c in columns)})")
            marks = ", ".join("?" for _ in columns)
            tables.executemany(
                f"INSERT INTO {name} VALUES ({marks})",
                [(*("" if v is None else str(v) for v in row), table["path"]) for row in cursor],
            )
    finally:
        source.close()
    return tables


def passing(tables: sqlite3.Connection) -> dict[str, bool]:
    """Which Fleet policies pass: those whose query returns a row."""
    return {name: bool(tables.execute(query).fetchall()) for name, query in policies().items()}


def record(mac: FakeMac, started: datetime, **values: Any) -> None:
    """A run written by the library, at a time the installed command cannot fake."""
    row = RunRecord(started, started + timedelta(seconds=5), "heal", 0, **values)
    assert record_run(MacSystem(mac.root), row, 90) == []


@pytest.fixture
def history_mac(enrolled_mac: FakeMac) -> Iterator[FakeMac]:
    """Four runs of the installed command: wedged (both restarted), a log that fails
    (exit 3), healthy, and a healthy -diagnose."""
    enrolled_mac.install("/usr/bin/log", [QUIET_WINDOW, export(reconstructed_lines(), 3)])
    assert run_heal(enrolled_mac).returncode == 0
    enrolled_mac.install("/usr/bin/log", b"", rc=1, stderr=b"log: cannot read the store\n")
    assert run_heal(enrolled_mac).returncode == 3
    enrolled_mac.install("/usr/bin/log", export(reconstructed_lines(), 0.1))
    assert run_heal(enrolled_mac).returncode == 0
    done = run_installed("-diagnose", "--system-root", str(enrolled_mac.root))
    assert done.returncode == 0, done.stderr
    yield enrolled_mac


def test_the_configuration_is_osquery_atc_for_macs() -> None:
    tables = atc_configuration()
    assert set(tables) == {"mdm_watchdog_runs", "mdm_watchdog_status"}
    for table in tables.values():
        assert set(table) == {"query", "path", "columns", "platform"}
        assert table["path"] == HISTORY_PATH
        assert table["platform"] == "darwin"
        assert table["columns"] == [name for name, _ in COLUMNS]
        assert "path" not in table["columns"]  # osquery adds it, and refuses it otherwise
    readme = (OSQUERY / "README.md").read_text()
    for table in tables.values():  # the Fleet agent options shown are the same
        assert f'query: "{table["query"]}"' in readme
        assert f"columns: [{', '.join(table['columns'])}]" in readme


def test_the_documented_types_are_what_the_database_holds(history_mac: FakeMac) -> None:
    declared = documented_types()
    assert list(declared) == [name for name, _ in COLUMNS]
    with sqlite3.connect(database(history_mac)) as connection:
        for table in atc_configuration().values():
            typeof = ", ".join(f"typeof({c})" for c in table["columns"])
            for row in connection.execute(f"SELECT {typeof} FROM ({table['query']})"):
                assert dict(zip(table["columns"], row, strict=True)) == {
                    c: TYPES[declared[c]] for c in table["columns"]
                }
    connection.close()


def test_the_tables_hold_the_runs(history_mac: FakeMac) -> None:
    tables = osquery_tables(database(history_mac))
    runs = tables.execute(
        "SELECT mode, exit_code, mdm_client_stuck, mdm_client_restarted, "
        "software_update_restarted, path FROM mdm_watchdog_runs"
    ).fetchall()
    assert runs == [
        ("heal", "0", "true", "1", "1", HISTORY_PATH),
        ("heal", "3", "unknown", "0", "0", HISTORY_PATH),
        ("heal", "0", "false", "0", "0", HISTORY_PATH),
        ("diagnose", "0", "false", "0", "0", HISTORY_PATH),
    ]
    (status,) = tables.execute("SELECT * FROM mdm_watchdog_status").fetchall()
    (newest,) = tables.execute(
        "SELECT * FROM mdm_watchdog_runs ORDER BY CAST(id AS INTEGER) DESC LIMIT 1"
    ).fetchall()
    assert status == newest
    actions = json.loads(tables.execute("SELECT actions FROM mdm_watchdog_runs").fetchone()[0])
    assert [(a["daemon"], a["restarted"]) for a in actions] == [
        ("mdmclient", True),
        ("softwareupdated", True),
    ]


def test_the_example_queries(history_mac: FakeMac) -> None:
    tables = osquery_tables(database(history_mac))
    newest, restarts, failed, hours = (tables.execute(q).fetchall() for q in example_queries())
    assert newest == [
        (
            newest[0][0],
            "diagnose",
            "0",
            "false",
            newest[0][4],
            newest[0][5],
            newest[0][6],
        )
    ]
    assert restarts == [(1, 1)]
    ((_, mode, code, error),) = failed
    assert (mode, code) == ("heal", "3")
    assert "/usr/bin/log" in error
    assert hours == [(0.0,)]


def test_the_fleet_policies_on_a_healthy_mac_then_a_troubled_one(history_mac: FakeMac) -> None:
    healthy = passing(osquery_tables(database(history_mac)))
    assert healthy == dict.fromkeys(policies(), True)
    now = datetime.now(UTC)
    # two more restarts of mdmclient this week: three in seven days
    record(history_mac, now - timedelta(days=5), mdm_client_restarted=True)
    record(history_mac, now - timedelta(days=2), mdm_client_restarted=True)
    assert passing(osquery_tables(database(history_mac))) == {
        "mdm-watchdog - MDM not wedged now": True,
        "mdm-watchdog - mdmclient restarted fewer than 3 times in 7 days": False,
        "mdm-watchdog - macOS update not overdue": True,
        "mdm-watchdog - ran in the last 24 hours": True,
    }
    # the newest run: mdmclient wedged, the update overdue
    record(history_mac, now + timedelta(seconds=1), mdm_client_stuck="true", update_state="overdue")
    assert passing(osquery_tables(database(history_mac))) == {
        "mdm-watchdog - MDM not wedged now": False,
        "mdm-watchdog - mdmclient restarted fewer than 3 times in 7 days": False,
        "mdm-watchdog - macOS update not overdue": False,
        "mdm-watchdog - ran in the last 24 hours": True,
    }


def test_a_mac_not_run_for_a_day_fails_that_policy(fake_mac: FakeMac) -> None:
    record(fake_mac, datetime.now(UTC) - timedelta(hours=25), mdm_client_stuck="false")
    assert passing(osquery_tables(database(fake_mac)))[
        "mdm-watchdog - ran in the last 24 hours"
    ] is (False)
