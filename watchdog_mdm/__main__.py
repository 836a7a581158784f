"""Allows ``python -m watchdog_mdm`` (used by the PyInstaller entry point and tests)."""

from watchdog_mdm.cli import main

main()
