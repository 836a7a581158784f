"""Start-up stays light: the heavy imports happen only where a run needs them."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_imports_no_healing_or_plist_machinery() -> None:
    probe = ("import sys, watchdog_mdm.cli; "
             "print(sorted(m for m in ('psutil', 'tenacity', 'plistlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
