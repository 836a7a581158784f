"""Allows ``python -m watchdog_mdm``; the installed command and the bundle call
:func:`watchdog_mdm.cli.main` directly."""

from watchdog_mdm.cli import main

main()
