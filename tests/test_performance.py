"""Start-up stays light: the heavy imports happen only where a run needs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import LOGS, REPO, installed_command
from watchdog_mdm import __version__

HEAVY = ("psutil", "tenacity", "plistlib", "ahocorasick_rs")
LIBRARY = (
    "watchdog_mdm.state",
    "watchdog_mdm.system",
    "watchdog_mdm.diagnose",
    "watchdog_mdm.report",
    "watchdog_mdm.run",
    "watchdog_mdm.heal",
    "json",
)
# what only running commands, writing files (with shutil and random, ~12 ms), locking,
# killing and naming time zones need. (pathlib is left out by the seam too, but an
# editable install's import hook loads it into every process, so it cannot be checked.)
COMMANDS = ("subprocess", "tempfile", "zoneinfo", "fcntl", "signal")


def imported_by(*argv: str) -> set[str]:
    """The modules of interest loaded by running the command line with ``argv``."""
    probe = (
        "import sys\nfrom watchdog_mdm.cli import cli\n"
        "try:\n    cli.main(sys.argv[1:], prog_name='mdm-watchdog')\n"
        "except SystemExit:\n    pass\n"
        f"print(' '.join(m for m in {HEAVY + LIBRARY + COMMANDS!r} if m in sys.modules), "
        "file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True
    )
    return set(done.stderr.splitlines()[-1].split())


def test_the_command_line_imports_no_healing_or_plist_machinery() -> None:
    probe = f"import sys, watchdog_mdm.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def imports_on_starting(*command: str) -> set[str]:
    """The modules loaded by running ``command`` (as Python reports them, one a line)."""
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPROFILEIMPORTTIME": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout == f"{__version__}\n"
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }


# the installed command, `python -m watchdog_mdm`, and the bundle's entry point
ENTRY_POINTS = {
    "installed": [],
    "module": [sys.executable, "-m", "watchdog_mdm"],
    "bundle": [sys.executable, str(REPO / "pkg" / "entry.py")],
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("flag", ["-version", "--version"])
def test_version_answers_without_loading_click_or_the_command_line(entry: str, flag: str) -> None:
    command = ENTRY_POINTS[entry] or [installed_command()]
    loaded = imports_on_starting(*command, flag)
    assert "watchdog_mdm.launch" in loaded
    # typing alone costs a fifth of Python's start-up (re and pathlib cannot be checked:
    # the console script and an editable install's import hook load them)
    assert not loaded & {"click", "watchdog_mdm.cli", "typing", *HEAVY, *LIBRARY, *COMMANDS}


@pytest.mark.parametrize("argv", [["-version"], ["--version"], ["-help"], ["-h"]])
def test_version_and_help_load_nothing_but_the_command_line(argv: list[str]) -> None:
    assert imported_by(*argv) == set()


def test_analyze_loads_what_reading_needs_and_no_healing_machinery() -> None:
    export = Path(LOGS / "super-ad1495a" / "mdm.log")
    loaded = imported_by("analyze", str(export))
    assert {"watchdog_mdm.diagnose", "watchdog_mdm.report", "ahocorasick_rs"} <= loaded
    assert not loaded & {
        "psutil",
        "tenacity",
        "plistlib",
        "watchdog_mdm.run",
        "watchdog_mdm.heal",
        "watchdog_mdm.state",
        *COMMANDS,
    }
