"""The README and docs say what the code does."""

from __future__ import annotations

import itertools
import json
import re

from click.testing import CliRunner

from tests.support import JAMF_RUN, REPO, fake_system, run_installed
from watchdog_mdm import report
from watchdog_mdm.cli import cli
from watchdog_mdm.client_state import STUCK_STATES, ClientState
from watchdog_mdm.config import KEYS, ConfigKey
from watchdog_mdm.diagnose import EXPORT_PREDICATE, HISTORY_PREDICATE, WINDOW_PREDICATE

SAMPLES = REPO / "docs" / "samples" / "super-12.3-to-13.3.1-jamf"


def readme() -> str:
    return (REPO / "README.md").read_text()


def test_samples_are_byte_for_byte_the_real_logs() -> None:
    names = sorted(p.name for p in SAMPLES.iterdir())
    assert names == ["mdmCommand.log", "mdmWorkflow.log"]
    for name in names:
        assert (SAMPLES / name).read_bytes() == (JAMF_RUN / name).read_bytes()


def _try_it() -> str:
    return readme().split("## Try it", 1)[1].split("\nRun the tests", 1)[0]


def _commands_and_outputs() -> list[tuple[list[str], list[str]]]:
    """Each `mdm-watchdog` command in "Try it", with the lines shown after it."""
    blocks = re.findall(r"```(\w*)\n(.*?)```", _try_it(), re.DOTALL)
    pairs = []
    for (kind, body), (_, output) in itertools.pairwise(blocks):
        if kind == "sh" and ".venv/bin/mdm-watchdog " in body:
            args = body.strip().split(".venv/bin/mdm-watchdog ", 1)[1].split()
            pairs.append((args, [line for line in output.splitlines() if line != "..."]))
    return pairs


def test_the_readme_try_it_commands_print_what_the_readme_shows() -> None:
    first = next(
        line
        for line in _try_it().splitlines()
        if line.startswith("python3 -m venv .venv && .venv/bin/pip install . &&")
    )
    pairs = _commands_and_outputs()
    assert len(pairs) == 2
    assert pairs[0][0] == first.split(".venv/bin/mdm-watchdog ", 1)[1].split()
    for args, shown in pairs:
        done = run_installed(*args)
        assert done.returncode == 0, done.stderr
        assert shown
        for line in shown:
            assert line in done.stdout.splitlines(), (args, line)


def test_the_readme_demo_is_a_verdict_an_admin_would_agree_with() -> None:
    """The successful upgrade is idle by default; only the original's rule calls it stuck."""
    (default, _), (original, _) = _commands_and_outputs()
    assert "--stuck-rule" not in default
    assert original[original.index("--stuck-rule") + 1] == "quiet"
    judged = json.loads(run_installed(*default, "--json").stdout)
    assert judged["mdm_client"]["state"] == "idle"
    assert judged["MDMClientStuck"] is False
    assert judged["heal"] is None
    again = json.loads(run_installed(*original, "--json").stdout)
    assert again["mdm_client"] == again["mdm_client"] | {"state": "quiet-too-long", "rule": "quiet"}


def test_the_readme_has_the_test_command_ci_runs() -> None:
    block = readme().split("<!-- test-command -->", 1)[1]
    assert re.match(r"\n```sh\n[^\n]*pytest\n```", block)
    assert "README.md" in (REPO / ".ci" / "run").read_text()


def test_usage_documents_every_json_key() -> None:
    doc = json.loads(CliRunner().invoke(cli, ["-heal", "--json"], obj=fake_system()).output)
    usage = (REPO / "docs" / "usage.md").read_text()
    keys = [
        *doc,
        *doc["evidence"],
        *doc["evidence"]["log"],
        *doc["heal"],
        *doc["heal"]["daemons"][0],
        *doc["heal"]["daemons"][0]["commands"][0],
        *doc["mdm_client"],
        *doc["software_update"],
        *doc["mdm_client"]["proof"][0],
        *doc["evidence"]["last_device_outcome"],
        *doc["evidence"]["circumstances"],
        *doc["evidence"]["circumstances"]["power"],
        *doc["evidence"]["circumstances"]["network"],
        *doc["evidence"]["senders"],
    ]
    for key in keys:
        assert f"`{key}`" in usage, key
    assert doc["schema_version"] == report.SCHEMA_VERSION


def test_configuration_doc_lists_every_key_with_its_default_and_range() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    rows = {m[1]: m[2] for m in re.finditer(r"^\| `(\w+)` \| (.*)$", text, re.MULTILINE)}
    assert set(rows) == {key.name for key in KEYS}
    for key in KEYS:
        kind, default, bounds = (cell.strip() for cell in rows[key.name].split("|")[:3])
        assert kind == {bool: "boolean", int: "integer", float: "real", str: "string"}[key.kind]
        assert default == _shown_default(key)
        assert bounds == _shown_range(key), key.name


def _shown_default(key: ConfigKey) -> str:
    if key.kind is bool:
        return str(key.default).lower()
    return f"`{key.default}`" if key.kind is str else f"{key.default:g}"


def _shown_range(key: ConfigKey) -> str:
    if key.choices:
        return ", ".join(f"`{choice}`" for choice in key.choices)
    return "" if key.low is None else f"{key.low:g}\N{EN DASH}{key.high:g}"


def test_detection_has_a_row_per_client_state_with_its_verdict() -> None:
    text = (REPO / "docs" / "detection.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \| (.*)$", text, re.MULTILINE)
    states = {state for state, _ in rows if state in set(ClientState)}
    assert states == set(ClientState)
    for state, row in rows:
        if state in set(ClientState):
            verdict = row.split(" | ")[1]
            stuck = ClientState(state) in STUCK_STATES
            assert verdict.startswith(
                "**true**" if stuck else ("unknown" if state == "unknown" else "false")
            ), state


def test_the_documented_predicates_are_the_ones_run() -> None:
    detection = (REPO / "docs" / "detection.md").read_text()
    assert WINDOW_PREDICATE in detection
    assert HISTORY_PREDICATE in detection
    assert EXPORT_PREDICATE in readme()
    assert EXPORT_PREDICATE in (REPO / "docs" / "offline-analysis.md").read_text()
