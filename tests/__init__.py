"""mdm-watchdog test suite."""
