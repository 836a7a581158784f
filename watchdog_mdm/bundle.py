"""The support bundle: what an admin sends when asking for help with one Mac.

``mdm-watchdog collect`` gathers, in one ``.tar.gz``, everything needed to understand a
verdict on another computer: a fresh diagnosis with its evidence (as ``-diagnose
--json`` prints it), ``state.json``, the effective configuration with where each value
came from, the versions, the run history's summary when there is one, and the unified
log of the last hours as `log show --style ndjson` prints it with the export predicate
(docs/offline-analysis.md), which ``analyze`` reads. Every member is redacted
(:mod:`watchdog_mdm.redact`) and listed in ``manifest.json`` with its size, SHA-256 and
what was redacted. The log is bounded (:data:`LOG_LIMIT_BYTES`, its newest part kept),
so the bundle stays small enough to attach to a ticket.

All of it is read through the System seam; the archive is built in memory and written
by the seam, readable by its owner alone.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import platform
import tarfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from watchdog_mdm import __version__, history, report
from watchdog_mdm.config import KEYS, LOCAL_PREFERENCES, MANAGED_PREFERENCES, Configuration
from watchdog_mdm.diagnose import EXPORT_PREDICATE, LOG, EvidenceError, diagnose_live
from watchdog_mdm.redact import Redacted, redact
from watchdog_mdm.software_update import SYSTEM_VERSION_PATH, UpdateUnreadable, read_running
from watchdog_mdm.state import STATE_PATH, load_kickstarts, load_memory
from watchdog_mdm.system import CommandError, System
from watchdog_mdm.text import one_line

__all__ = [
    "DOCUMENT_LIMIT_BYTES",
    "LOG_LIMIT_BYTES",
    "LOG_TIMEOUT_FACTOR",
    "Bundle",
    "HistoryProvider",
    "LogCapture",
    "Member",
    "NewestPart",
    "archive",
    "bundle_log",
    "collect",
    "default_output",
    "history_summary",
    "log_query",
    "newest_part",
]

# 32 MiB of ndjson is about a day of a busy Mac's MDM and update log; compressed, a
# few MiB: small enough for a ticket.
LOG_LIMIT_BYTES = 32 << 20
# state.json and the other documents are a few KiB; one far larger was not written by
# this tool, and is cut rather than allowed to swell the bundle.
DOCUMENT_LIMIT_BYTES = 1 << 20
# What `analyze` unpacks of a bundle at most: the log, a few documents and tar's headers
UNPACKED_LIMIT_BYTES = LOG_LIMIT_BYTES + 8 * DOCUMENT_LIMIT_BYTES
MEMBER_LIMIT = 16
# Hours of log take longer to print than the 91 minutes LogShowTimeoutSeconds is set for.
LOG_TIMEOUT_FACTOR = 5
MANIFEST_VERSION = 1
LOG_MEMBER = "log.ndjson"

# What the run history's summary is, as a JSON object, or None when no run is
# recorded; raising (a damaged database) is recorded as a problem, not fatal.
HistoryProvider = Callable[[], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Member:
    """One file of the bundle, redacted."""

    name: str
    data: bytes
    description: str
    redactions: Mapping[str, int] = field(default_factory=dict)
    truncated: bool = False

    def entry(self) -> dict[str, Any]:
        """How the manifest lists it."""
        return {
            "name": self.name,
            "bytes": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "description": self.description,
            "redacted": dict(self.redactions),
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class LogCapture:
    """What `log show` printed (its newest part when there was too much), and whether
    it could finish."""

    data: bytes
    dropped_bytes: int = 0
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Bundle:
    """The members, the manifest listing them, and what could not be gathered."""

    name: str  # the folder the members sit in inside the archive
    created_at: datetime
    members: tuple[Member, ...]
    manifest: Member
    problems: tuple[str, ...] = ()

    @property
    def log_problem(self) -> str | None:
        """Why the log in the bundle is missing or incomplete, when it is."""
        return self._problem("log:")

    @property
    def diagnosis_problem(self) -> str | None:
        """Why the diagnosis in the bundle is missing or proves nothing, when it is."""
        return self._problem("diagnosis:")

    def _problem(self, prefix: str) -> str | None:
        return next((p for p in self.problems if p.startswith(prefix)), None)


def default_output(now: datetime) -> str:
    """``mdm-watchdog-20261201T020000Z.tar.gz``: no host name, which the admin may not
    want to send; the time in UTC, so bundles from Macs in different zones sort."""
    return f"mdm-watchdog-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def log_query(hours: int) -> tuple[str, ...]:
    """The `log show` command of the bundle's log: the export recipe's, over ``hours``."""
    return (
        LOG,
        "show",
        "--style",
        "ndjson",
        "--info",
        "--last",
        f"{hours}h",
        "--predicate",
        EXPORT_PREDICATE,
    )


class NewestPart:
    """The newest ``limit`` bytes of what is added, starting at a line, holding no more
    than that and one chunk however much comes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: deque[bytes] = deque()
        self._size = 0
        self._dropped = 0
        self._mid_line = False  # the first chunk kept starts inside a line

    def add(self, chunk: bytes) -> None:
        self._kept.append(chunk)
        self._size += len(chunk)
        while self._size - len(self._kept[0]) >= self.limit:
            gone = self._kept.popleft()
            self._size -= len(gone)
            self._dropped += len(gone)
            self._mid_line = not gone.endswith(b"\n")

    def result(self) -> tuple[bytes, int]:
        """The bytes kept, and how many were dropped before them."""
        data = b"".join(self._kept)
        if len(data) > self.limit:
            start = data.find(b"\n", len(data) - self.limit - 1) + 1 or len(data)
        elif self._mid_line:  # a partial first line would be unreadable
            start = data.find(b"\n") + 1 or len(data)
        else:
            start = 0
        return data[start:], self._dropped + start


def newest_part(chunks: Iterable[bytes], limit: int) -> tuple[bytes, int]:
    """The newest ``limit`` bytes or fewer of the chunks joined, starting at a line, and
    how many bytes were dropped before them."""
    newest = NewestPart(limit)
    for chunk in chunks:
        newest.add(chunk)
    return newest.result()


def read_log(
    system: System, query: tuple[str, ...], timeout: float, limit: int = LOG_LIMIT_BYTES
) -> LogCapture:
    """Run the log query, keeping the newest ``limit`` bytes; a failure keeps what was
    printed before it."""
    newest = NewestPart(limit)
    problem = None
    try:
        for chunk in system.stream(query, timeout=timeout):
            # a chunk of the seam's is valid only until the next is asked for
            newest.add(bytes(chunk))
    except CommandError as exc:
        problem = str(exc)
    data, dropped = newest.result()
    return LogCapture(data, dropped, problem)


def _json(document: object) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n").encode()


def _member(name: str, data: bytes, description: str, limit: int) -> Member:
    """A member redacted, then cut to ``limit`` bytes."""
    redacted: Redacted = redact(data)
    cut = len(redacted.data) > limit
    return Member(
        name,
        redacted.data[:limit] if cut else redacted.data,
        description,
        redacted.counts,
        cut,
    )


def _log_member(capture: LogCapture, hours: int, limit: int) -> tuple[Member, int]:
    """The log redacted, its newest part kept within the limit (redaction may lengthen
    a line by a few bytes), and how many bytes of it were dropped in all."""
    redacted = redact(capture.data)
    data, dropped = newest_part([redacted.data], limit)
    dropped += capture.dropped_bytes
    member = Member(
        LOG_MEMBER,
        data,
        f"the unified log of the last {hours} h as `log show --style ndjson` printed it"
        + (", its newest part" if dropped else "")
        + f"; read it with: mdm-watchdog analyze {LOG_MEMBER}",
        redacted.counts,
        truncated=dropped > 0,
    )
    return member, dropped


def _diagnosis(system: System, configuration: Configuration) -> tuple[dict[str, Any], str | None]:
    """A fresh diagnosis as ``-diagnose --json`` prints it, or why there is none."""
    try:
        examination = diagnose_live(system, configuration.settings, load_memory(system))
    except EvidenceError as exc:
        return {"error": str(exc)}, f"diagnosis: {exc}"
    document = report.to_document(examination, load_kickstarts(system))
    problem = examination.evidence_problem
    return document, None if problem is None else f"diagnosis: {problem}"


def _state(system: System) -> tuple[bytes | None, str | None]:
    try:
        return system.read_bytes(STATE_PATH), None
    except OSError as exc:
        return None, f"state: {STATE_PATH} is unreadable ({exc.strerror or exc})"


def _configuration(configuration: Configuration) -> dict[str, Any]:
    """The effective configuration as ``config --json`` prints it, with the files read
    (first wins) and what was wrong with them."""
    return {
        "settings": {
            key.name: {
                "value": configuration.value(key),
                "source": configuration.sources[key.name],
            }
            for key in KEYS
        },
        "sources_in_order": ["command line", MANAGED_PREFERENCES, LOCAL_PREFERENCES, "default"],
        "warnings": list(configuration.warnings),
    }


def _versions(system: System) -> dict[str, Any]:
    try:
        macos, build = read_running(system.read_bytes(SYSTEM_VERSION_PATH))
    except (OSError, UpdateUnreadable):
        macos, build = None, None
    return {
        "mdm_watchdog": __version__,
        "python": platform.python_version(),
        "macos": macos,
        "macos_build": build,
    }


def history_summary(system: System) -> HistoryProvider:
    """This Mac's run history (history.db) summed up over all it keeps, as ``history
    --summary --json`` prints it."""

    def summary() -> Mapping[str, Any] | None:
        rows = history.read_history(system)
        if not rows:
            return None
        return history.summary_document(history.summarize(rows, system.now()))

    return summary


def _history(provider: HistoryProvider) -> tuple[Mapping[str, Any] | None, str]:
    """The history summary and how the manifest describes it."""
    try:
        summary = provider()
    # the history is an extra: a damaged database must not cost the rest of the bundle
    except Exception as exc:
        return None, f"unreadable: {one_line(str(exc) or type(exc).__name__, 200)}"
    if summary is None:
        return None, "not available: no run recorded yet"
    return summary, "included"


def collect(
    system: System,
    configuration: Configuration,
    hours: int,
    *,
    history_provider: HistoryProvider | None = None,
    log_limit: int = LOG_LIMIT_BYTES,
) -> Bundle:
    """Gather a support bundle of this Mac, its log reaching ``hours`` back and keeping
    at most its newest ``log_limit`` bytes; the history from ``history_provider``, by default
    this Mac's :func:`history_summary`."""
    now = system.now()
    name = default_output(now).removesuffix(".tar.gz")
    problems: list[str] = []
    query = log_query(hours)
    timeout = configuration.settings.log_timeout_seconds * LOG_TIMEOUT_FACTOR
    capture = read_log(system, query, timeout, log_limit)
    if capture.problem is not None:
        kept = "what it printed before" if capture.data else "no log"
        problems.append(f"log: {capture.problem} (the bundle holds {kept})")
    result, problem = _diagnosis(system, configuration)
    if problem is not None:
        problems.append(problem)
    state, problem = _state(system)
    if problem is not None:
        problems.append(problem)
    summary, history_status = _history(history_provider or history_summary(system))
    if history_status.startswith("unreadable"):
        problems.append(f"history: {history_status}")
    members = [
        _member(
            "result.json",
            _json(result),
            "a diagnosis made while collecting, as -diagnose --json prints it",
            DOCUMENT_LIMIT_BYTES,
        ),
        _member(
            "config.json",
            _json(_configuration(configuration)),
            "the effective configuration and where each value came from",
            DOCUMENT_LIMIT_BYTES,
        ),
        _member(
            "versions.json",
            _json(_versions(system)),
            "mdm-watchdog, Python and macOS versions",
            DOCUMENT_LIMIT_BYTES,
        ),
    ]
    if state is not None:
        members.append(
            _member(
                "state.json",
                state,
                "/Library/Application Support/mdm-watchdog/state.json as stored",
                DOCUMENT_LIMIT_BYTES,
            )
        )
    if summary is not None:
        members.append(
            _member(
                "history-summary.json",
                _json(summary),
                "the run history summed up",
                DOCUMENT_LIMIT_BYTES,
            )
        )
    log, dropped = _log_member(capture, hours, log_limit)
    members.append(log)
    manifest = {
        "format": "mdm-watchdog support bundle",
        "manifest_version": MANIFEST_VERSION,
        "tool_version": __version__,
        "created_at": now.isoformat(),
        "time_range": {
            "start": (now - timedelta(hours=hours)).isoformat(),
            "end": now.isoformat(),
            "hours": hours,
        },
        "log": {
            "command": list(query),
            "limit_bytes": log_limit,
            "bytes_dropped": dropped,
            "newest_part_only": log.truncated,
            "complete": capture.problem is None,
        },
        "state": "included" if state is not None else "not present",
        "history": history_status,
        "redaction": (
            "URL query strings and credentials, values named like secrets (token, push "
            "magic, password, challenge, authorization, cookie...), push payloads, bearer "
            "and JSON web tokens are replaced by <redacted> in every member"
        ),
        "members": [m.entry() for m in members],
        "problems": problems,
    }
    return Bundle(
        name,
        now,
        tuple(members),
        _member("manifest.json", _json(manifest), "this list", DOCUMENT_LIMIT_BYTES),
        tuple(problems),
    )


def bundle_log(system: System, path: str) -> list[bytes]:
    """The log of a support bundle, for ``analyze``: read through the seam, bounded
    (a bundle is at most :data:`LOG_LIMIT_BYTES` of log, compressed, and
    :data:`UNPACKED_LIMIT_BYTES` unpacked, in at most :data:`MEMBER_LIMIT` members), and
    checked against its manifest; OSError when the file is no bundle, or a damaged one."""
    compressed = NewestPart(LOG_LIMIT_BYTES + 1)
    for chunk in system.read_export(path):
        compressed.add(bytes(chunk))
    data, dropped = compressed.result()
    if dropped:
        raise OSError(errno.EFBIG, "too large for a support bundle", path)
    try:
        members = _bundle_members(_unpacked(data, path))
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise OSError(errno.EINVAL, f"not a readable .tar.gz ({exc})", path) from exc
    log = members.get(LOG_MEMBER)
    if log is None:
        raise OSError(errno.EINVAL, f"not a support bundle: no {LOG_MEMBER} in it", path)
    if not _as_listed(log, members.get("manifest.json")):
        raise OSError(
            errno.EINVAL,
            f"a damaged support bundle: {LOG_MEMBER} is not as its manifest lists it",
            path,
        )
    return [log]


def _unpacked(data: bytes, path: str) -> bytes:
    """The gzip stream unpacked, never past what a bundle can hold (a small file can
    unpack to gigabytes), with its checksum checked: the stream is read to its end."""
    stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    unpacked = stream.decompress(data, UNPACKED_LIMIT_BYTES + 1)
    if len(unpacked) > UNPACKED_LIMIT_BYTES:
        raise OSError(errno.EFBIG, "unpacks to more than a support bundle holds", path)
    if not stream.eof:
        raise EOFError("the compressed stream is cut short")
    return unpacked


def _bundle_members(tar_bytes: bytes) -> dict[str, bytes]:
    """The regular files of the archive by their base name (the folder's name is the
    bundle's, whatever the file is called now); at most :data:`MEMBER_LIMIT` entries."""
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
        for count, info in enumerate(tar, start=1):
            if count > MEMBER_LIMIT:
                raise tarfile.TarError(f"more than {MEMBER_LIMIT} members")
            handle = tar.extractfile(info) if info.isfile() else None
            if handle is not None:
                members[info.name.rpartition("/")[2]] = handle.read()
    return members


def _as_listed(log: bytes, manifest: bytes | None) -> bool:
    """Whether the log is the one the manifest lists (by sha256). A manifest that does
    not list it holds it to nothing; one that cannot be read holds nothing."""
    try:
        listed = json.loads(manifest or b"{}").get("members", [])
        digests = [m["sha256"] for m in listed if m.get("name") == LOG_MEMBER]
    except (ValueError, AttributeError, TypeError, KeyError):
        return False
    return all(d == hashlib.sha256(log).hexdigest() for d in digests)


def archive(bundle: Bundle) -> bytes:
    """The bundle as a ``.tar.gz``: a folder named after it, the manifest first; every
    member owned by nobody in particular and readable by its owner alone."""
    output = io.BytesIO()
    with tarfile.open(fileobj=output, mode="w:gz") as tar:
        for member in (bundle.manifest, *bundle.members):
            info = tarfile.TarInfo(f"{bundle.name}/{member.name}")
            info.size = len(member.data)
            info.mode = 0o600
            info.mtime = int(bundle.created_at.timestamp())
            tar.addfile(info, io.BytesIO(member.data))
    return output.getvalue()
