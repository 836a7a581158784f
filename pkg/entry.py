"""PyInstaller entry point: the installed binary starts as the command pip installs
(pkg/mdm-watchdog) does."""

from watchdog_mdm.launch import main

main()
