"""The run history: one row per `-diagnose` and `-heal` run, in a SQLite database.

``state.json`` holds only the last run; fleets want to know how often a Mac wedges, how
long it stays wedged, and how often it was restarted. Each run therefore appends a row to
``/Library/Application Support/mdm-watchdog/history.db`` (root-only, WAL mode, one
transaction that also removes rows older than ``HistoryDays``, a few at a time and never
measured from a clock ahead of the history's own). The schema is meant to be
read by others too: osquery's automatic table construction (docs/osquery/), with times
both as ISO 8601 text and as Unix seconds, verdicts as the words of the result line, and
a ``latest_run`` view for the status.

Recording never decides anything: a history that cannot be written is a warning, never
a changed verdict or exit status. A database that is not one (corrupt, truncated) or
holds another schema is moved aside and started afresh; one written by a newer version
is left alone. ``state.json`` is another file and is never touched.
:func:`summarize` is pure: restarts, wedged episodes and missed runs from the rows.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from watchdog_mdm import __version__
from watchdog_mdm.keys import HealKey, Verdict
from watchdog_mdm.patterns import MDM_PROCESS, SOFTWARE_UPDATE_PROCESS
from watchdog_mdm.run import SCHEDULE  # the LaunchDaemon's interval, 95 minutes
from watchdog_mdm.state import STATE_DIR

if TYPE_CHECKING:  # only named in annotations: the seam's machinery is not loaded
    from watchdog_mdm.system import System

__all__ = [
    "COLUMNS",
    "HISTORY_PATH",
    "SCHEDULE",
    "HistoryError",
    "HistorySummary",
    "RunAction",
    "RunRecord",
    "WedgedEpisode",
    "csv_text",
    "read_history",
    "record_columns",
    "record_document",
    "record_from_document",
    "record_run",
    "run_line",
    "summarize",
    "summary_document",
    "summary_lines",
]

HISTORY_PATH = f"{STATE_DIR}/history.db"
# How long a run waits for another run's row to be written before giving up on its own.
BUSY_TIMEOUT_SECONDS = 10.0
# How many times a run begins writing its row where SQLite refuses it at once.
REFUSED_ATTEMPTS = 5
SCHEMA_VERSION = 1
# The most rows one run removes: about a day of the LaunchDaemon's runs (see _prune).
PRUNE_LIMIT = 20
HEAL = "heal"  # the mode of the LaunchDaemon's runs
TRUE, FALSE, UNKNOWN = "true", "false", "unknown"

# Column, SQLite type: the table's shape, in order (docs/osquery/README.md lists them).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("started_at", "TEXT NOT NULL"),
    ("started_unix", "INTEGER NOT NULL"),
    ("finished_at", "TEXT NOT NULL"),
    ("finished_unix", "INTEGER NOT NULL"),
    ("duration_seconds", "REAL NOT NULL"),
    ("mode", "TEXT NOT NULL"),
    ("exit_code", "INTEGER NOT NULL"),
    ("mdm_enrolled", "TEXT NOT NULL"),
    ("mdm_identity_error", "TEXT NOT NULL"),
    ("mdm_client_stuck", "TEXT NOT NULL"),
    ("software_updates_stuck", "TEXT NOT NULL"),
    ("client_state", "TEXT NOT NULL"),
    ("update_state", "TEXT NOT NULL"),
    ("update_target", "TEXT NOT NULL"),
    ("mdm_client_restarted", "INTEGER NOT NULL"),
    ("software_update_restarted", "INTEGER NOT NULL"),
    ("actions", "TEXT NOT NULL"),
    ("error", "TEXT NOT NULL"),
    ("awake_since", "TEXT NOT NULL"),
    ("version", "TEXT NOT NULL"),
)
_FIELDS = tuple(name for name, _ in COLUMNS[1:])
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs ("
    + ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    + ")",
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_unix)",
    # the newest run: what osquery's mdm_watchdog_status table shows
    "CREATE VIEW IF NOT EXISTS latest_run AS "
    "SELECT * FROM runs ORDER BY started_unix DESC, id DESC LIMIT 1",
)


class HistoryError(Exception):
    """The history could not be read or written; the message is one line."""


class _ForeignSchema(HistoryError):
    """The database holds something else than this program's runs table."""


class _NewerSchema(HistoryError):
    """The database was written by a newer version: left as it is, never overwritten."""


@dataclass(frozen=True, slots=True)
class RunAction:
    """What one run decided for one daemon, and how the restart went."""

    daemon: str
    decision: str
    restarted: bool
    verified: bool
    problem: str | None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run, as stored. Verdicts are ``true``, ``false`` or ``unknown``; states and
    texts are empty when the run never got that far."""

    started: datetime
    finished: datetime
    mode: str
    exit_code: int
    mdm_enrolled: str = UNKNOWN
    mdm_identity_error: str = UNKNOWN
    mdm_client_stuck: str = UNKNOWN
    software_updates_stuck: str = UNKNOWN
    client_state: str = ""
    update_state: str = ""
    update_target: str = ""
    mdm_client_restarted: bool = False
    software_update_restarted: bool = False
    actions: tuple[RunAction, ...] = ()
    error: str = ""
    awake_since: datetime | None = None  # when the Mac last woke or booted, if known
    version: str = __version__
    id: int | None = None  # given by the database
    # as stored, to the millisecond (times are kept to the second); None: from the times
    duration_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class WedgedEpisode:
    """Consecutive runs that found a daemon stuck: from the first such run to the first
    run that found it not stuck (None: still stuck at the last run)."""

    daemon: str
    started: datetime
    ended: datetime | None
    runs: int
    last_seen: datetime

    def duration(self, now: datetime) -> timedelta:
        """Until the run that found it well again, or until ``now`` when still stuck."""
        return (self.ended or now) - self.started


@dataclass(frozen=True, slots=True)
class HistorySummary:
    """What a span of history says about this Mac."""

    since: datetime | None
    until: datetime
    runs: int
    heal_runs: int
    first_run: datetime | None
    last_run: datetime | None
    mdm_client_restarts: int
    software_update_restarts: int
    failed_restarts: int
    episodes: tuple[WedgedEpisode, ...]
    missed_runs: int
    # True when some gap had no evidence of when the Mac slept: then every gap longer
    # than two intervals counts, and the figure includes time asleep
    missed_runs_include_sleep: bool

    @property
    def restarts(self) -> dict[str, int]:
        return {
            MDM_PROCESS: self.mdm_client_restarts,
            SOFTWARE_UPDATE_PROCESS: self.software_update_restarts,
        }


# ------------------------------------------------------------------ building a record


def _word(value: object) -> str:
    return TRUE if value is True else FALSE if value is False else UNKNOWN


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _actions(heal: dict[str, Any]) -> tuple[RunAction, ...]:
    daemons = heal.get("daemons")
    return tuple(
        RunAction(
            _text(d.get("daemon")),
            _text(d.get("decision")),
            d.get("restarted") is True,
            d.get("verified") is True,
            d.get("problem") if isinstance(d.get("problem"), str) else None,
        )
        for d in (daemons if isinstance(daemons, list) else [])
        if isinstance(d, dict)
    )


def record_from_document(
    *,
    mode: str,
    started: datetime,
    finished: datetime,
    exit_code: int,
    document: Mapping[str, Any] | None,
    error: str | None = None,
) -> RunRecord:
    """A run's row from its JSON document (what `--json` prints; None when the run
    ended before it had one) and the error that ended it, if any."""
    doc = dict(document or {})
    client, update, heal = (_dict(doc.get(k)) for k in ("mdm_client", "software_update", "heal"))
    circumstances = _dict(_dict(doc.get("evidence")).get("circumstances"))
    problems = (error, circumstances.get("evidence_problem"), heal.get("state_problem"))
    return RunRecord(
        started=started,
        finished=finished,
        mode=mode,
        exit_code=exit_code,
        mdm_enrolled=_word(doc.get(Verdict.ENROLLED)),
        mdm_identity_error=_word(doc.get(Verdict.IDENTITY_ERROR)),
        mdm_client_stuck=_word(doc.get(Verdict.CLIENT_STUCK)),
        software_updates_stuck=_word(doc.get(Verdict.UPDATES_STUCK)),
        client_state=_text(client.get("state")),
        update_state=_text(update.get("state")),
        update_target=_text(update.get("target_version")),
        mdm_client_restarted=doc.get(HealKey.MDM_CLIENT_RESTARTED) is True,
        software_update_restarted=doc.get(HealKey.SOFTWARE_UPDATE_RESTARTED) is True,
        actions=_actions(heal),
        error=next((p for p in problems if isinstance(p, str) and p), ""),
        awake_since=_instant(_dict(circumstances.get("power")).get("awake_since")),
    )


# ------------------------------------------------------------------ rows <-> records


def _iso(value: datetime) -> str:
    """``2026-11-20T14:30:00Z``: UTC, whole seconds; SQLite's date functions read it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(record: RunRecord) -> float:
    if record.duration_seconds is not None:
        return record.duration_seconds
    return round((record.finished - record.started).total_seconds(), 3)


def _row(record: RunRecord) -> tuple[object, ...]:
    actions = [
        {
            "daemon": a.daemon,
            "decision": a.decision,
            "restarted": a.restarted,
            "verified": a.verified,
            "problem": a.problem,
        }
        for a in record.actions
    ]
    return (
        _iso(record.started),
        int(record.started.timestamp()),
        _iso(record.finished),
        int(record.finished.timestamp()),
        _duration(record),
        record.mode,
        record.exit_code,
        record.mdm_enrolled,
        record.mdm_identity_error,
        record.mdm_client_stuck,
        record.software_updates_stuck,
        record.client_state,
        record.update_state,
        record.update_target,
        int(record.mdm_client_restarted),
        int(record.software_update_restarted),
        json.dumps(actions, ensure_ascii=False),
        record.error,
        "" if record.awake_since is None else _iso(record.awake_since),
        record.version,
    )


def _from_unix(value: object) -> datetime:
    return datetime.fromtimestamp(int(value) if isinstance(value, int | float) else 0, UTC)


def _stored_actions(text: object) -> tuple[RunAction, ...]:
    try:
        stored = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return ()
    return _actions({"daemons": stored})


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        started=_from_unix(row["started_unix"]),
        finished=_from_unix(row["finished_unix"]),
        mode=str(row["mode"]),
        exit_code=int(row["exit_code"]),
        mdm_enrolled=str(row["mdm_enrolled"]),
        mdm_identity_error=str(row["mdm_identity_error"]),
        mdm_client_stuck=str(row["mdm_client_stuck"]),
        software_updates_stuck=str(row["software_updates_stuck"]),
        client_state=str(row["client_state"]),
        update_state=str(row["update_state"]),
        update_target=str(row["update_target"]),
        mdm_client_restarted=bool(row["mdm_client_restarted"]),
        software_update_restarted=bool(row["software_update_restarted"]),
        actions=_stored_actions(row["actions"]),
        error=str(row["error"]),
        awake_since=_instant(str(row["awake_since"]).replace("Z", "+00:00")),
        version=str(row["version"]),
        id=int(row["id"]),
        duration_seconds=float(row["duration_seconds"]),
    )


def record_document(record: RunRecord) -> dict[str, Any]:
    """A record as JSON (`history --json`): the columns, actions as objects."""
    values = dict(zip(_FIELDS, _row(record), strict=True))
    values["actions"] = json.loads(str(values["actions"]))
    values["mdm_client_restarted"] = record.mdm_client_restarted
    values["software_update_restarted"] = record.software_update_restarted
    values["awake_since"] = values["awake_since"] or None
    return {"id": record.id, **values}


def record_columns(record: RunRecord) -> dict[str, object]:
    """A record as the table's columns (`history --csv`)."""
    return {"id": record.id, **dict(zip(_FIELDS, _row(record), strict=True))}


# ------------------------------------------------------------------ the database


def _connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    # autocommit: each transaction is begun and ended here, explicitly
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.row_factory = sqlite3.Row
    if read_only:
        # Not mode=ro: a read-only connection creates the -wal and -shm files of a WAL
        # database and cannot remove them. A read-write one that writes nothing removes
        # them when it closes as the last connection, leaving the folder as it was (after
        # copying into the database what a writer that died left in the WAL, if any).
        connection.execute("PRAGMA query_only=ON")
    return connection


def _append_again_if_refused(system: System, path: str, record: RunRecord, keep: timedelta) -> None:
    """_append, begun again after a moment where SQLite refused it at once. Two writers
    of a database not yet in WAL mode (a new one, both runs its first) can each hold a
    lock the other needs: SQLite then answers "database is locked" at once, not after
    BUSY_TIMEOUT_SECONDS, and one of them must start over. A refusal after that wait
    (another run held the database so long) is not tried again."""
    # tenacity is imported here: only recording a run needs it, and start-up stays fast
    from tenacity import (  # noqa: PLC0415
        Retrying,
        retry_if_exception,
        stop_after_attempt,
        stop_after_delay,
        wait_random,
    )

    retrying = Retrying(
        retry=retry_if_exception(_is_busy),
        stop=stop_after_attempt(REFUSED_ATTEMPTS) | stop_after_delay(BUSY_TIMEOUT_SECONDS),
        wait=wait_random(0.01, 0.1),  # (two writers begun at once: not again at once)
        sleep=system.sleep,
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            _append(path, record, keep)


def _is_busy(exc: BaseException) -> bool:
    return _primary_code(exc) == sqlite3.SQLITE_BUSY


def _is_corrupt(exc: sqlite3.Error) -> bool:
    return _primary_code(exc) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _primary_code(exc: BaseException) -> int | None:
    # the extended code (SQLITE_CORRUPT_INDEX, ...): its low byte is the primary one
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _append(path: str, record: RunRecord, keep: timedelta) -> None:
    connection = _connect(path)
    try:
        _check_schema(connection)  # before anything is changed, and again once locked
        # WAL: readers (osquery, `history`) never block a run, nor a run them
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("BEGIN IMMEDIATE")
        try:
            _check_schema(connection)
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            newest = _newest_start(connection)
            placeholders = ", ".join("?" for _ in _FIELDS)
            connection.execute(
                f"INSERT INTO runs ({', '.join(_FIELDS)}) VALUES ({placeholders})",  # noqa: S608 - fixed names
                _row(record),
            )
            _prune(connection, record.started, newest, keep)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def _check_schema(connection: sqlite3.Connection) -> None:
    """Refuse a database this version cannot append to: one from a newer version (kept
    as it is) or one holding another table called ``runs`` (set aside like a corrupt one)."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise _NewerSchema(
            f"it was written by a newer version (schema {version}; this version writes "
            f"{SCHEMA_VERSION}); it is left as it is"
        )
    columns = [row["name"] for row in connection.execute("PRAGMA table_info(runs)")]
    expected = [name for name, _ in COLUMNS]
    if columns and columns != expected:
        raise _ForeignSchema(f"its runs table has the columns {', '.join(columns)}")
    if version not in (0, SCHEMA_VERSION):
        raise _ForeignSchema(f"schema version {version}")


def _newest_start(connection: sqlite3.Connection) -> int | None:
    (newest,) = connection.execute("SELECT max(started_unix) FROM runs").fetchone()
    return newest if isinstance(newest, int) else None


def _prune(
    connection: sqlite3.Connection, started: datetime, newest: int | None, keep: timedelta
) -> None:
    """Remove the rows older than ``keep`` before this run, or before the newest run
    recorded before it if that is earlier, at most PRUNE_LIMIT of them: a clock set far
    ahead costs a few of the oldest rows per run, never the whole history."""
    anchor = int(started.timestamp())
    if newest is not None:
        anchor = min(anchor, newest)
    cutoff = anchor - int(keep.total_seconds())
    connection.execute(
        "DELETE FROM runs WHERE id IN "
        "(SELECT id FROM runs WHERE started_unix < ? ORDER BY started_unix, id LIMIT ?)",
        (cutoff, PRUNE_LIMIT),
    )


def _set_aside(system: System, now: datetime) -> str:
    """Move a corrupt database (and its WAL files) aside; returns where it went."""
    suffix = ".corrupt-" + now.strftime("%Y%m%dT%H%M%S")
    moved = system.move_aside(HISTORY_PATH, suffix)
    for companion in ("-wal", "-shm"):
        with contextlib.suppress(OSError):  # none: the database was closed cleanly
            system.move_aside(HISTORY_PATH + companion, suffix)
    return moved


def record_run(system: System, record: RunRecord, keep_days: int) -> list[str]:
    """Append a run to the history, removing rows older than ``keep_days``.

    Never raises: returns warnings for the admin (the history could not be written, or
    was corrupt and was started afresh).
    """
    keep = timedelta(days=keep_days)
    try:
        path = system.private_file(HISTORY_PATH, create=True)
        assert path is not None  # created
        try:
            _append_again_if_refused(system, path, record, keep)
        except (sqlite3.DatabaseError, _ForeignSchema) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not _is_corrupt(exc):
                raise
            moved = _set_aside(system, record.finished)
            path = system.private_file(HISTORY_PATH, create=True)
            assert path is not None
            _append_again_if_refused(system, path, record, keep)
            what = (
                f"is not this program's run history ({exc})"
                if isinstance(exc, _ForeignSchema)
                else f"was corrupt ({exc})"
            )
            return [f"{HISTORY_PATH} {what}; moved aside to {moved}; started afresh"]
    except (OSError, sqlite3.Error, _NewerSchema) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [f"could not record this run in {HISTORY_PATH}: {detail}"]
    return []


def read_history(system: System, since: datetime | None = None) -> list[RunRecord]:
    """The recorded runs that started at or after ``since`` (None: all), oldest first.

    Changes nothing. Raises :class:`HistoryError` when the database cannot be read.
    """
    try:
        path = system.private_file(HISTORY_PATH, create=False)
        if path is None:
            return []
        connection = _connect(path, read_only=True)
        try:
            if not _has_runs(connection):
                return []
            cutoff = None if since is None else int(since.timestamp())
            rows = connection.execute(
                "SELECT * FROM runs WHERE ? IS NULL OR started_unix >= ? ORDER BY started_unix, id",
                (cutoff, cutoff),
            ).fetchall()
        finally:
            connection.close()
        return [_record(row) for row in rows]
    except OSError as exc:
        raise HistoryError(f"cannot read {HISTORY_PATH}: {exc.strerror or exc}") from exc
    except (sqlite3.Error, ValueError, TypeError, KeyError, IndexError) as exc:
        raise HistoryError(f"cannot read {HISTORY_PATH}: {exc}") from exc


def _has_runs(connection: sqlite3.Connection) -> bool:
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
    ).fetchone()
    return found is not None


# ------------------------------------------------------------------ the summary


def _episodes(rows: Sequence[RunRecord], daemon: str, verdict: str) -> list[WedgedEpisode]:
    """Runs with ``verdict`` true in a row; an unknown verdict neither starts nor ends one."""
    episodes: list[WedgedEpisode] = []
    open_: WedgedEpisode | None = None
    for row in rows:
        value = getattr(row, verdict)
        if value == TRUE:
            if open_ is None:
                open_ = WedgedEpisode(daemon, row.started, None, 1, row.started)
            else:
                open_ = WedgedEpisode(daemon, open_.started, None, open_.runs + 1, row.started)
        elif value == FALSE and open_ is not None:
            episodes.append(
                WedgedEpisode(daemon, open_.started, row.started, open_.runs, open_.last_seen)
            )
            open_ = None
    if open_ is not None:
        episodes.append(open_)
    return episodes


def _missed_in(span: timedelta) -> int:
    """Scheduled runs that did not happen in an awake span between two runs: none until
    it is longer than two intervals (a late run is not a missed one)."""
    return int(span / SCHEDULE) - 1 if span > 2 * SCHEDULE else 0


def _missed(rows: Sequence[RunRecord], now: datetime) -> tuple[int, bool]:
    """Missed scheduled runs between consecutive `-heal` runs (launchd's) and since the
    last one until ``now``, and whether some gap had to be counted without knowing when
    the Mac slept.

    A run knows when the Mac last woke or booted: a gap that ends in a wake counts only
    from the wake (launchd does not run a sleeping Mac's jobs); one without that
    evidence counts whole, sleep included, as does the gap since the last run.
    """
    heals = [r for r in rows if r.mode == HEAL]
    missed, blind = 0, False
    if heals:
        trailing = _missed_in(now - heals[-1].started)
        missed, blind = trailing, trailing > 0
    for earlier, later in itertools.pairwise(heals):
        awake = later.awake_since
        if awake is None:
            gap = later.started - earlier.started
            blind = blind or _missed_in(gap) > 0
        else:
            gap = later.started - max(awake, earlier.started)
        missed += _missed_in(gap)
    return missed, blind


def _failed(action: RunAction) -> bool:
    """A restart decided that was not carried out, or whose fresh process was not seen."""
    return action.decision == "restart" and not (action.restarted and action.verified)


def summarize(
    rows: Iterable[RunRecord], now: datetime, since: datetime | None = None
) -> HistorySummary:
    """Restarts per daemon, wedged episodes and missed runs in these rows."""
    ordered = sorted(rows, key=lambda r: (r.started, r.id or 0))
    missed, blind = _missed(ordered, now)
    episodes = [
        *_episodes(ordered, MDM_PROCESS, "mdm_client_stuck"),
        *_episodes(ordered, SOFTWARE_UPDATE_PROCESS, "software_updates_stuck"),
    ]
    return HistorySummary(
        since=since,
        until=now,
        runs=len(ordered),
        heal_runs=sum(r.mode == HEAL for r in ordered),
        first_run=ordered[0].started if ordered else None,
        last_run=ordered[-1].started if ordered else None,
        mdm_client_restarts=sum(r.mdm_client_restarted for r in ordered),
        software_update_restarts=sum(r.software_update_restarted for r in ordered),
        failed_restarts=sum(_failed(a) for r in ordered for a in r.actions),
        episodes=tuple(sorted(episodes, key=lambda e: e.started)),
        missed_runs=missed,
        missed_runs_include_sleep=blind,
    )


def _time(value: datetime | None) -> str | None:
    return None if value is None else _iso(value)


def summary_document(summary: HistorySummary) -> dict[str, Any]:
    """A summary as JSON (`history --summary --json`)."""
    now = summary.until
    return {
        "since": _time(summary.since),
        "until": _time(summary.until),
        "runs": summary.runs,
        "heal_runs": summary.heal_runs,
        "first_run": _time(summary.first_run),
        "last_run": _time(summary.last_run),
        "restarts": summary.restarts,
        "failed_restarts": summary.failed_restarts,
        "wedged_episodes": [
            {
                "daemon": e.daemon,
                "started": _time(e.started),
                "ended": _time(e.ended),
                "ongoing": e.ended is None,
                "runs": e.runs,
                "duration_seconds": int(e.duration(now).total_seconds()),
            }
            for e in summary.episodes
        ],
        "missed_runs": summary.missed_runs,
        "missed_runs_include_sleep": summary.missed_runs_include_sleep,
    }


# ------------------------------------------------------------------ text


def _local(value: datetime, local: tzinfo) -> str:
    return value.astimezone(local).strftime("%Y-%m-%d %H:%M:%S")


def _span(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    return " ".join([*parts, f"{hours}h {minutes:02d}m"])


def run_line(record: RunRecord, local: tzinfo) -> str:
    """One run in one line: when, how, its exit status, its verdicts, its restarts."""
    verdicts = (
        f"MDMEnrolled: {record.mdm_enrolled} MDMIdentityError: {record.mdm_identity_error} "
        f"MDMClientStuck: {record.mdm_client_stuck} "
        f"MDMSoftwareUpdatesStuck: {record.software_updates_stuck}"
    )
    restarted = [
        name
        for name, done in (
            (MDM_PROCESS, record.mdm_client_restarted),
            (SOFTWARE_UPDATE_PROCESS, record.software_update_restarted),
        )
        if done
    ]
    line = f"{_local(record.started, local)}  {record.mode:<8}  exit {record.exit_code}  {verdicts}"
    if restarted:
        line += "  restarted: " + ", ".join(restarted)
    if record.error:
        line += f"  error: {record.error}"
    return line


def summary_lines(summary: HistorySummary, local: tzinfo) -> list[str]:
    """A summary for the admin reading it."""
    span = "all recorded runs" if summary.since is None else f"since {_local(summary.since, local)}"
    lines = [f"Runs ({span}): {summary.runs}, of which -heal: {summary.heal_runs}"]
    if summary.first_run is not None and summary.last_run is not None:
        lines.append(
            f"First run: {_local(summary.first_run, local)}; "
            f"last run: {_local(summary.last_run, local)}"
        )
    lines.append(
        f"Restarts: {MDM_PROCESS} {summary.mdm_client_restarts}, "
        f"{SOFTWARE_UPDATE_PROCESS} {summary.software_update_restarts}"
        + (f" ({summary.failed_restarts} failed)" if summary.failed_restarts else "")
    )
    lines.append(f"Wedged episodes: {len(summary.episodes)}")
    for episode in summary.episodes:
        runs = f"{episode.runs} run{'s' if episode.runs != 1 else ''}"
        duration = _span(episode.duration(summary.until))
        if episode.ended is None:
            lines.append(
                f"  {episode.daemon} stuck since {_local(episode.started, local)} "
                f"(still, {runs}, {duration} so far)"
            )
        else:
            lines.append(
                f"  {episode.daemon} stuck from {_local(episode.started, local)} "
                f"to {_local(episode.ended, local)} ({runs}, {duration})"
            )
    note = (
        " (includes time asleep: some gaps have no record of when the Mac woke)"
        if summary.missed_runs_include_sleep
        else " (while awake)"
    )
    lines.append(f"Missed scheduled runs: {summary.missed_runs}{note}")
    return lines


def csv_text(records: Iterable[RunRecord]) -> str:
    """The runs as CSV, one row per run, the table's columns as the header."""
    import csv  # noqa: PLC0415 - only `history --csv` needs it
    import io  # noqa: PLC0415

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(name for name, _ in COLUMNS)
    for record in records:
        writer.writerow(record_columns(record).values())
    return out.getvalue()
