"""The code base stays lint-clean, formatted and strictly typed: CI runs these with the tests."""

from __future__ import annotations

import subprocess
import sys

from tests.support import REPO


def _run(*module_and_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *module_and_args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_is_clean() -> None:
    done = _run("ruff", "check", "watchdog_mdm", "tests", "pkg")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_leaves_every_file_as_it_is() -> None:
    # one formatter for everyone, so diffs are about content, never about layout
    done = _run("ruff", "format", "--check", "watchdog_mdm", "tests", "pkg")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    done = _run("mypy")  # settings, including strict, from pyproject.toml
    assert done.returncode == 0, done.stdout + done.stderr
