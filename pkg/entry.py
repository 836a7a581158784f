"""PyInstaller entry point: the installed binary runs the command line."""

from watchdog_mdm.cli import main

main()
