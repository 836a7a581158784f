"""mdm-watchdog: detect and heal wedged MDM and software-update daemons on managed Macs."""

__version__ = "0.1.0"

# how every message of the command begins ("mdm-watchdog: error: …")
PROG = "mdm-watchdog"
