"""Pytest fixtures and hypothesis settings; the fakes and builders are in tests/support.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import ENROLLED, REMEDIATION_TOOLS, FakeLaunchd, FakeMac, prefs
from watchdog_mdm.config import LOCAL_PREFERENCES

# CI runs each property test on the same derived examples every time, so a landing never
# hangs on a draw; local runs explore new examples on every run, to find new bugs.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def fake_mac(tmp_path: Path) -> FakeMac:
    """An empty fake Mac: nothing installed."""
    root = tmp_path / "mac"
    root.mkdir()
    return FakeMac(root)


@pytest.fixture
def enrolled_mac(fake_mac: FakeMac) -> FakeMac:
    """An enrolled fake Mac with every remediation tool, told not to wait for restarted
    daemons (none run here: see ``launchd``); no `log` yet. Its StuckRule is the
    original's ("quiet"), which the tests of healing and output were written for; the
    tests of the evidence rule set their own."""
    fake_mac.install("/usr/bin/profiles", ENROLLED)
    for tool in REMEDIATION_TOOLS:
        fake_mac.install(tool)
    prefs(fake_mac, VerifySeconds=0)
    prefs(fake_mac, LOCAL_PREFERENCES, StuckRule="quiet")
    return fake_mac


@pytest.fixture
def launchd(fake_mac: FakeMac) -> Iterator[FakeLaunchd]:
    """Real daemon processes kept running in the fake Mac (started with ``add``)."""
    with FakeLaunchd(fake_mac) as supervisor:
        yield supervisor
