"""`mdm-watchdog collect`: the support bundle an admin sends, and what it must never hold.

The bundle is built on the recording fake System (what is read, what is run, what is
written), then, end to end, by the installed command on a fake Mac and opened with
`tar` and `analyze` as the person receiving it would.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from tests.support import (
    ENROLLED,
    EVIDENCE_COMMANDS,
    LAST_ENTRY,
    TRAILER,
    FakeMac,
    FakeSystem,
    Reply,
    export,
    fake_system,
    heal,
    installed_command,
    ndjson_line,
    prefs,
    reconstructed_export,
    reconstructed_lines,
    reconstructed_record,
    run_installed,
)
from watchdog_mdm.bundle import (
    LOG_LIMIT_BYTES,
    LOG_TIMEOUT_FACTOR,
    Bundle,
    Member,
    archive,
    collect,
    default_output,
    log_query,
    newest_part,
)
from watchdog_mdm.cli import cli
from watchdog_mdm.config import read_configuration
from watchdog_mdm.diagnose import EXPORT_PREDICATE
from watchdog_mdm.history import HISTORY_PATH
from watchdog_mdm.state import STATE_PATH
from watchdog_mdm.system import MacSystem

SECRETS = ("SECRET-LOG-URL", "SECRET-LOG-MAGIC", "SECRET-STATE", "SECRET-PROFILES", "SECRETBEARER1")


def planted_log() -> bytes:
    """The reconstructed run, with lines such as a server or a debugging admin could
    make mdmclient log: a check-in URL with a token, a push magic, a bearer token."""
    record = reconstructed_record("Received HTTP response (200)")
    early = LAST_ENTRY - timedelta(hours=1)
    planted = [
        ndjson_line(
            record,
            early,
            "No commands from server: https://mdm.example.com/mdm?token=SECRET-LOG-URL",
        ),
        ndjson_line(record, early, 'check-in {"PushMagic": "SECRET-LOG-MAGIC"}'),
        ndjson_line(record, early, "Authorization: Bearer SECRETBEARER1"),
    ]
    return b"".join(planted) + reconstructed_export()


PLANTED_STATE = json.dumps(
    {
        "last_mdm_kickstart": "0001-01-01T00:00:00Z",
        "last_run": {
            "result": {
                "evidence": {
                    "enrollment": {"mdm_server": "https://mdm.example.com/mdm?id=SECRET-STATE"}
                }
            }
        },
    }
).encode()
PLANTED_PROFILES = ENROLLED.replace(b"?foo=bar", b"?enroll=SECRET-PROFILES")


def planted_system() -> FakeSystem:
    system = fake_system(stuck=False)
    system.replies["/usr/bin/log"] = [Reply(planted_log())]
    system.replies["/usr/bin/profiles"] = [Reply(PLANTED_PROFILES)]
    system.files[STATE_PATH] = PLANTED_STATE
    return system


def bundle_of(system: FakeSystem, hours: int = 24, **options: Any) -> Bundle:
    return collect(system, read_configuration(system), hours, **options)


def members(data: bytes) -> dict[str, bytes]:
    """The files of a .tar.gz by their name inside its folder."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        found = {}
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            assert handle is not None, info.name
            found[info.name.split("/", 1)[1]] = handle.read()
        return found


def manifest(data: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(members(data)["manifest.json"])
    return document


# ------------------------------------------------------------------ what it holds


def test_the_bundle_holds_the_diagnosis_state_configuration_versions_and_log() -> None:
    files = members(archive(bundle_of(planted_system())))
    assert list(files) == [
        "manifest.json",
        "result.json",
        "config.json",
        "versions.json",
        "state.json",
        "log.ndjson",
    ]
    result = json.loads(files["result.json"])
    assert result["MDMEnrolled"] is True
    assert result["evidence"]["log"]["entries_read"] > 0
    config = json.loads(files["config.json"])
    assert config["settings"]["StuckRule"] == {
        "value": "quiet",
        "source": "/Library/Preferences/com.github.mdm-watchdog.plist",
    }
    assert config["settings"]["HistoryHours"] == {"value": 24, "source": "default"}
    assert json.loads(files["versions.json"])["mdm_watchdog"]


def test_the_manifest_lists_every_member_with_its_size_and_sha256() -> None:
    data = archive(bundle_of(planted_system()))
    files = members(data)
    listed = manifest(data)["members"]
    assert [m["name"] for m in listed] == [n for n in files if n != "manifest.json"]
    for member in listed:
        content = files[member["name"]]
        assert member["bytes"] == len(content)
        assert member["sha256"] == hashlib.sha256(content).hexdigest()
        assert member["description"]


def test_the_manifest_says_how_the_log_was_made_and_over_what_time() -> None:
    system = planted_system()
    document = manifest(archive(bundle_of(system, hours=6)))
    assert document["log"]["command"] == list(log_query(6))
    assert document["log"]["complete"] is True
    assert document["log"]["newest_part_only"] is False
    assert document["time_range"] == {
        "start": (system.clock - timedelta(hours=6)).isoformat(),
        "end": system.clock.isoformat(),
        "hours": 6,
    }
    assert document["tool_version"]
    assert document["problems"] == []


def test_the_log_is_the_export_recipe_over_the_hours_asked_for() -> None:
    system = planted_system()
    bundle_of(system, hours=6)
    assert system.calls[0] == (
        "/usr/bin/log",
        "show",
        "--style",
        "ndjson",
        "--info",
        "--last",
        "6h",
        "--predicate",
        EXPORT_PREDICATE,
    )
    # hours of log take longer than the live window LogShowTimeoutSeconds is set for
    assert system.timeouts[0] == ("/usr/bin/log", 120 * LOG_TIMEOUT_FACTOR)


def test_the_log_is_what_log_show_printed_apart_from_redactions() -> None:
    files = members(archive(bundle_of(fake_system(stuck=False))))
    assert files["log.ndjson"] == reconstructed_export()


def test_nothing_is_changed_on_the_mac() -> None:
    system = planted_system()
    before = dict(system.files)
    bundle_of(system)
    assert system.files == before
    assert system.writes == []
    assert system.exports == {}  # the command writes the archive, not the library
    assert {c[0] for c in system.calls} <= set(EVIDENCE_COMMANDS)


def test_without_a_state_file_the_manifest_says_so() -> None:
    system = fake_system(stuck=False)
    data = archive(bundle_of(system))
    assert "state.json" not in members(data)
    assert manifest(data)["state"] == "not present"


# ------------------------------------------------------------------ no secrets


@pytest.mark.parametrize("secret", SECRETS)
def test_no_planted_secret_is_anywhere_in_the_bundle(secret: str) -> None:
    data = archive(bundle_of(planted_system()))
    for name, content in members(data).items():
        assert secret.encode() not in content, name


def test_the_manifest_counts_what_was_redacted_in_each_member() -> None:
    listed = {
        m["name"]: m["redacted"] for m in manifest(archive(bundle_of(planted_system())))["members"]
    }
    assert listed["log.ndjson"] == {"url_query": 1, "secret_value": 2}
    assert listed["state.json"] == {"url_query": 1}
    assert listed["result.json"].get("url_query", 0) >= 1  # the MDM server profiles named
    assert listed["config.json"] == {}


def test_the_redacted_log_is_still_judged_as_the_original() -> None:
    plain = members(archive(bundle_of(fake_system(stuck=False))))["log.ndjson"]
    redacted = members(archive(bundle_of(planted_system())))["log.ndjson"]
    verdicts = [analyze_json(log)["MDMClientStuck"] for log in (plain, redacted)]
    assert verdicts == [False, False]


def analyze_json(log: bytes) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", "-", "--json"], obj=FakeSystem(), input=log)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


# ------------------------------------------------------------------ bounded


def test_a_log_larger_than_the_limit_keeps_its_newest_whole_lines() -> None:
    lines = [f"line {n:06d} {'x' * 50}\n".encode() for n in range(2000)]
    data, dropped = newest_part(lines, 10_000)
    assert len(data) <= 10_000
    assert data.endswith(lines[-1])
    assert data.startswith(b"line ")
    assert dropped + len(data) == sum(map(len, lines))


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60),
    st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=8),
    st.integers(min_value=20, max_value=400),
)
def test_the_newest_part_is_a_tail_of_whole_lines_within_the_limit(
    texts: list[bytes], cuts: list[int], limit: int
) -> None:
    whole = b"".join(t + b"\n" for t in texts)
    # the same bytes in chunks that cut lines anywhere, as a pipe delivers them
    chunks: list[bytes] = []
    at = 0
    while at < len(whole):
        step = cuts[len(chunks) % len(cuts)]
        chunks.append(whole[at : at + step])
        at += step
    data, dropped = newest_part(chunks, limit)
    assert len(data) <= limit
    assert whole.endswith(data)
    assert dropped + len(data) == len(whole)
    assert dropped == 0 or whole[dropped - 1 : dropped] == b"\n"
    if len(whole) <= limit:
        assert data == whole


def test_a_log_over_the_limit_keeps_its_newest_part_and_says_so() -> None:
    system = fake_system(stuck=False)
    record = reconstructed_record("Received HTTP response (200)")
    line = ndjson_line(record, LAST_ENTRY - timedelta(hours=2), "x" * 1000)
    newest = reconstructed_export()
    limit = len(newest) + 5000
    # the bundle's log first; the diagnosis's window after it
    system.replies["/usr/bin/log"] = [Reply(line * 100 + newest), Reply(TRAILER)]
    data = archive(bundle_of(system, log_limit=limit))
    log = manifest(data)["log"]
    assert log["newest_part_only"] is True
    assert log["limit_bytes"] == limit
    kept = members(data)["log.ndjson"]
    assert log["bytes_dropped"] == len(line) * 100 + len(newest) - len(kept)
    assert len(kept) <= limit
    assert kept == line * ((len(kept) - len(newest)) // len(line)) + newest  # whole lines


def test_the_log_limit_is_the_documented_32_mib() -> None:
    from tests.support import REPO

    assert LOG_LIMIT_BYTES == 32 << 20
    assert "newest 32 MiB" in (REPO / "docs" / "usage.md").read_text()
    assert "newest 32 MiB" in (REPO / "README.md").read_text()


# ------------------------------------------------------------------ what could not be had


def test_a_failing_log_still_gives_a_bundle_that_says_what_is_missing() -> None:
    system = fake_system(stuck=False)
    system.replies["/usr/bin/log"] = [Reply(b"", returncode=64)]
    bundle = bundle_of(system)
    document = manifest(archive(bundle))
    assert document["log"]["complete"] is False
    assert bundle.log_problem == (
        "log: /usr/bin/log exited with status 64 (the bundle holds no log)"
    )
    assert json.loads(members(archive(bundle))["result.json"]) == {
        "error": "could not read the unified log: /usr/bin/log exited with status 64"
    }


def test_the_run_history_is_summed_up_as_history_summary_json_prints_it() -> None:
    system = planted_system()
    assert heal(system).exit_code == 0  # a -heal run records a row in history.db
    data = archive(bundle_of(system))
    summary = json.loads(members(data)["history-summary.json"])
    assert summary["runs"] == summary["heal_runs"] == 1
    printed = CliRunner().invoke(cli, ["history", "--summary", "--json"], obj=system)
    assert summary == json.loads(printed.output)
    assert manifest(data)["history"] == "included"


def test_a_mac_with_no_run_recorded_has_no_history_summary() -> None:
    data = archive(bundle_of(planted_system()))
    assert "history-summary.json" not in members(data)
    assert manifest(data)["history"] == "not available: no run recorded yet"
    assert manifest(data)["problems"] == []


def test_a_damaged_history_is_a_problem_to_report_not_a_reason_to_fail() -> None:
    system = planted_system()
    system.on_disk(HISTORY_PATH).parent.mkdir(parents=True)
    system.on_disk(HISTORY_PATH).write_bytes(b"\x00garbage" * 512)
    data = archive(bundle_of(system))
    said = manifest(data)["history"]
    assert said.startswith(f"unreadable: cannot read {HISTORY_PATH}: ")
    assert manifest(data)["problems"] == [f"history: {said}"]
    assert "history-summary.json" not in members(data)
    assert {"result.json", "state.json", "log.ndjson"} <= set(members(data))


def test_another_source_of_history_can_be_given() -> None:
    data = archive(bundle_of(planted_system(), history_provider=lambda: {"runs": 12}))
    assert json.loads(members(data)["history-summary.json"]) == {"runs": 12}


# ------------------------------------------------------------------ the command


def invoke(system: FakeSystem, *args: str) -> Result:
    return CliRunner().invoke(cli, ["collect", *args], obj=system)


def test_collect_writes_the_bundle_under_a_time_stamped_name_and_prints_it() -> None:
    system = planted_system()
    result = invoke(system)
    assert result.exit_code == 0, result.output
    name = default_output(system.clock)
    assert name == "mdm-watchdog-20220801T170936Z.tar.gz"
    assert result.output == f"{name}\n"
    assert list(system.exports) == [name]
    assert "result.json" in members(system.exports[name])


def test_collect_writes_where_told() -> None:
    system = planted_system()
    result = invoke(system, "--hours", "2", "-o", "/tmp/case-42.tar.gz")
    assert result.exit_code == 0, result.output
    assert list(system.exports) == ["/tmp/case-42.tar.gz"]
    assert system.calls[0][6] == "2h"


@pytest.mark.parametrize("hours", ["0", "721", "a day", "-1"])
def test_hours_out_of_range_is_a_one_line_usage_error(hours: str) -> None:
    system = planted_system()
    result = invoke(system, "--hours", hours)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("mdm-watchdog: error: Invalid value for '--hours'")
    assert system.calls == [] and system.exports == {}


def test_a_bundle_that_cannot_be_written_is_a_one_line_error_exit_6() -> None:
    system = planted_system()
    system.write_error = FileNotFoundError(2, "No such file or directory")
    result = invoke(system, "-o", "/nowhere/b.tar.gz")
    assert result.exit_code == 6
    assert result.output == (
        "mdm-watchdog: error: cannot write the bundle to /nowhere/b.tar.gz: "
        "No such file or directory\n"
    )


def test_a_bundle_without_its_log_is_written_and_exits_3() -> None:
    system = fake_system(stuck=False)
    system.replies["/usr/bin/log"] = [Reply(b"", returncode=64)]
    result = invoke(system, "-o", "b.tar.gz")
    assert result.exit_code == 3
    assert list(system.exports) == ["b.tar.gz"]
    assert result.output.splitlines()[-1] == (
        "mdm-watchdog: error: b.tar.gz was written, but the evidence could not all be "
        "gathered (see its manifest.json)"
    )


# ------------------------------------------------------------------ the file written


def test_the_bundle_file_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    target = tmp_path / "b.tar.gz"
    MacSystem("/").write_export(str(target), b"data")
    assert target.read_bytes() == b"data"
    assert target.stat().st_mode & 0o777 == 0o600


def test_writing_the_bundle_replaces_a_planted_symlink_instead_of_following_it(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "b.tar.gz"
    link.symlink_to(victim)
    MacSystem("/").write_export(str(link), b"data")
    assert victim.read_bytes() == b"keep"
    assert not link.is_symlink() and link.read_bytes() == b"data"


def test_a_missing_folder_is_an_error_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        MacSystem("/").write_export(str(tmp_path / "none" / "b.tar.gz"), b"data")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ end to end


def live_mac(fake_mac: FakeMac) -> FakeMac:
    """An enrolled fake Mac whose log is the reconstructed run with secrets planted,
    moved to minutes ago, and a state file with one."""
    fake_mac.install("/usr/bin/profiles", PLANTED_PROFILES)
    log = planted_log().decode().splitlines()
    fake_mac.install("/usr/bin/log", export(log, hours_ago=5 / 60))
    fake_mac.write(STATE_PATH, PLANTED_STATE)
    prefs(fake_mac, StuckRule="evidence")
    return fake_mac


def test_the_installed_command_writes_a_bundle_tar_opens_and_analyze_reads(
    fake_mac: FakeMac, tmp_path: Path
) -> None:
    live_mac(fake_mac)
    diagnosed = run_installed("-diagnose", "--system-root", str(fake_mac.root))
    assert diagnosed.returncode == 0, diagnosed.stderr  # and recorded in the history
    target = tmp_path / "support.tar.gz"
    done = run_installed("--system-root", str(fake_mac.root), "collect", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{target}\n"
    assert target.stat().st_mode & 0o777 == 0o600
    listing = subprocess.run(
        ["tar", "-tzf", str(target)], capture_output=True, text=True, check=True
    ).stdout.split()
    folder = listing[0].split("/")[0]
    assert listing[0] == f"{folder}/manifest.json"
    assert f"{folder}/log.ndjson" in listing
    assert f"{folder}/history-summary.json" in listing
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-xzf", str(target), "-C", str(out)], check=True)
    extracted = sorted((out / folder).iterdir())
    assert {p.name for p in extracted} == {n.split("/")[1] for n in listing}
    for path in extracted:
        for secret in SECRETS:
            assert secret.encode() not in path.read_bytes(), (path.name, secret)
    analyzed = run_installed("analyze", "--json", str(out / folder / "log.ndjson"))
    assert analyzed.returncode == 0, analyzed.stderr
    document = json.loads(analyzed.stdout)
    assert document["evidence"]["log"]["entries_read"] > 0
    assert document["MDMEnrolled"] is True
    # and the bundle itself, as received
    whole = run_installed("analyze", "--json", str(target))
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["evidence"]["log"] == document["evidence"]["log"]


def test_the_installed_command_names_the_bundle_by_the_time_in_the_current_folder(
    fake_mac: FakeMac, tmp_path: Path
) -> None:
    live_mac(fake_mac)
    here = tmp_path / "here"
    here.mkdir()
    done = subprocess.run(
        [installed_command(), "--system-root", str(fake_mac.root), "collect", "--hours", "3"],
        capture_output=True,
        text=True,
        cwd=here,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (written,) = here.iterdir()
    assert done.stdout == f"{written.name}\n"
    assert written.name.startswith("mdm-watchdog-") and written.name.endswith("Z.tar.gz")
    assert "--last" in fake_mac.calls("log")[0] and "3h" in fake_mac.calls("log")[0]


def test_the_installed_command_reports_an_unwritable_output_in_one_line(
    fake_mac: FakeMac, tmp_path: Path
) -> None:
    live_mac(fake_mac)
    target = tmp_path / "missing" / "b.tar.gz"
    done = run_installed("--system-root", str(fake_mac.root), "collect", "-o", str(target))
    assert done.returncode == 6
    assert done.stdout == ""
    assert done.stderr == (
        f"mdm-watchdog: error: cannot write the bundle to {target}: No such file or directory\n"
    )
    assert not target.parent.exists()


def test_the_lines_of_the_run_survive_the_trip(fake_mac: FakeMac, tmp_path: Path) -> None:
    # everything the log printed is in the bundle: the planted lines only lost a value
    live_mac(fake_mac)
    target = tmp_path / "b.tar.gz"
    run_installed("--system-root", str(fake_mac.root), "collect", "-o", str(target))
    log = members(target.read_bytes())["log.ndjson"].decode()
    assert len(log.splitlines()) == len(planted_log().splitlines())
    assert len(reconstructed_lines()) <= len(log.splitlines())


# ------------------------------------------------------------------ analyze reads a bundle


def test_analyze_reads_the_log_of_a_bundle_as_received(tmp_path: Path) -> None:
    received = tmp_path / "ticket-1234.tar.gz"
    received.write_bytes(archive(bundle_of(planted_system())))
    from_bundle = CliRunner().invoke(cli, ["analyze", "--json", str(received)], obj=FakeSystem())
    assert from_bundle.exit_code == 0, from_bundle.output
    log = tmp_path / "log.ndjson"
    log.write_bytes(members(received.read_bytes())["log.ndjson"])
    from_log = CliRunner().invoke(cli, ["analyze", "--json", str(log)], obj=FakeSystem())
    assert json.loads(from_bundle.output) == json.loads(from_log.output)
    assert json.loads(from_bundle.output)["evidence"]["log"]["entries_read"] > 0


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"not gzip at all", "not a readable .tar.gz"),
        (
            archive(Bundle("x", LAST_ENTRY, (), Member("manifest.json", b"{}", ""))),
            "not a support bundle: no log.ndjson in it",
        ),
    ],
)
def test_a_tar_gz_that_is_no_bundle_is_unreadable_evidence_in_one_line(
    tmp_path: Path, content: bytes, said: str
) -> None:
    path = tmp_path / "other.tar.gz"
    path.write_bytes(content)
    result = CliRunner().invoke(cli, ["analyze", str(path)], obj=FakeSystem())
    assert result.exit_code == 3
    assert result.output.startswith(f"mdm-watchdog: error: cannot read {path}: {said}")
    assert result.output.count("\n") == 1


def _tar_gz(entries: list[tuple[tarfile.TarInfo, bytes]], level: int = 9) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=level)


def _hostile_bundles() -> dict[str, bytes]:
    """Small files that unpack to far more than a bundle holds, or into too many parts."""
    log = members(archive(bundle_of(planted_system())))["log.ndjson"]
    padded = tarfile.TarInfo("b/log.ndjson")
    padded.pax_headers = {"comment": "x" * (48 << 20)}
    padding = [(tarfile.TarInfo("b/padding"), bytes(48 << 20))]
    empties = [(tarfile.TarInfo(f"b/{n}"), b"") for n in range(100)]
    # each ends in a readable log, so only the bound stops it being read
    return {
        "zeros": _tar_gz([*padding, (tarfile.TarInfo("b/log.ndjson"), log)]),
        "a huge pax header": _tar_gz([(padded, log)]),
        "many members": _tar_gz([*empties, (tarfile.TarInfo("b/log.ndjson"), log)]),
    }


@pytest.mark.parametrize("kind", ["zeros", "a huge pax header", "many members"])
def test_a_hostile_tar_gz_is_refused_before_it_is_unpacked_whole(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bomb.tar.gz"
    path.write_bytes(_hostile_bundles()[kind])
    assert path.stat().st_size < 1 << 20
    result = CliRunner().invoke(cli, ["analyze", str(path)], obj=FakeSystem())
    assert result.exit_code == 3
    assert result.output.startswith(f"mdm-watchdog: error: cannot read {path}: ")
    assert result.output.count("\n") == 1


def test_a_bundle_whose_log_is_not_the_one_its_manifest_lists_is_refused(tmp_path: Path) -> None:
    data = archive(bundle_of(planted_system()))
    parts = members(data)
    altered = parts["log.ndjson"].replace(b"mdmclient", b"mdmclienT", 1)
    entries = [
        (tarfile.TarInfo(f"b/{name}"), altered if name == "log.ndjson" else body)
        for name, body in parts.items()
    ]
    path = tmp_path / "altered.tar.gz"
    path.write_bytes(_tar_gz(entries))
    result = CliRunner().invoke(cli, ["analyze", str(path)], obj=FakeSystem())
    assert result.exit_code == 3
    assert "damaged support bundle" in result.output
    assert result.output.count("\n") == 1


def test_a_bundle_damaged_in_transit_is_refused_never_read_as_another_log(tmp_path: Path) -> None:
    """Every byte flipped anywhere in the compressed stream: the gzip checksum (read to
    the stream's end) or the manifest's sha256 catches it; no damaged copy is judged."""
    data = archive(bundle_of(planted_system()))
    path = tmp_path / "sent.tar.gz"
    for offset in range(10, len(data) - 8, max(1, len(data) // 60)):
        damaged = bytearray(data)
        damaged[offset] ^= 0x01
        path.write_bytes(bytes(damaged))
        result = CliRunner().invoke(cli, ["analyze", str(path)], obj=FakeSystem())
        assert result.exit_code == 3, (offset, result.output)


def test_usage_documents_every_member_and_manifest_key() -> None:
    from tests.support import REPO
    from watchdog_mdm.redact import STEPS

    usage = (REPO / "docs" / "usage.md").read_text()
    system = planted_system()
    heal(system)
    data = archive(bundle_of(system))
    document = manifest(data)
    keys = [
        *members(data),
        *document,
        *document["time_range"],
        *document["log"],
        *document["members"][0],
        *json.loads(members(data)["config.json"]),
        *json.loads(members(data)["versions.json"]),
        *(kind for kind, _ in STEPS),
    ]
    for key in keys:
        assert f"`{key}`" in usage, key
