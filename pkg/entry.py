"""PyInstaller entry point: the installed binary starts as the console script does."""

from watchdog_mdm.launch import main

main()
