#!/bin/sh
# Jamf Pro extension attribute "MDM Watchdog Last MDM Kickstart"
# Data type: Date. Input type: Script.
# When mdm-watchdog last restarted mdmclient (empty: never).
# It prints the value mdm-watchdog stored at its last run (state.json); it never scans
# the unified log, so it costs nothing at inventory time. Dates are local time,
# YYYY-MM-DD hh:mm:ss, as Jamf Pro's Date type wants.
# The program itself, never /usr/local/bin/mdm-watchdog: extension attributes run as
# root, and /usr/local/bin is writable by the Homebrew user on Intel Macs.
tool="${MDM_WATCHDOG:-/Library/Application Support/mdm-watchdog/app/mdm-watchdog}"  # the tests point these two
root="${MDM_WATCHDOG_ROOT:-}"                          # at a fake Mac
if [ ! -x "$tool" ]; then
  echo "<result></result>"
  exit 0
fi
value=$("$tool" ${root:+--system-root "$root"} status --field last-mdm-kickstart 2>/dev/null | head -n 1)
echo "<result>$value</result>"
