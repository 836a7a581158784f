"""Allows ``python -m watchdog_mdm``; the installed command and the bundle start the
same way, through :func:`watchdog_mdm.launch.main`."""

from watchdog_mdm.launch import main

main()
