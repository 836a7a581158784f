#!/bin/sh
# Jamf Pro extension attribute "MDM Watchdog Status"
# Data type: String. Input type: Script.
# Overall state from the last run: Healthy, MDM client stuck, Software updates stuck,
# Identity error, Not enrolled, Evidence unavailable, Never run, Not run since <date>,
# State unreadable; Not installed when mdm-watchdog is missing; "Error: <why>" when the
# program fails without saying a status (its one-line error): never blank.
# It prints the value mdm-watchdog stored at its last run (state.json); it never scans
# the unified log, so it costs nothing at inventory time. Dates are local time,
# YYYY-MM-DD hh:mm:ss, as Jamf Pro's Date type wants.
# The program itself, never /usr/local/bin/mdm-watchdog: extension attributes run as
# root, and /usr/local/bin is writable by the Homebrew user on Intel Macs.
tool="${MDM_WATCHDOG:-/Library/Application Support/mdm-watchdog/app/mdm-watchdog}"  # the tests point these two
root="${MDM_WATCHDOG_ROOT:-}"                          # at a fake Mac
if [ ! -x "$tool" ]; then
  echo "<result>Not installed</result>"
  exit 0
fi
value=$("$tool" ${root:+--system-root "$root"} status --field overall 2>/dev/null | head -n 1)
if [ -z "$value" ]; then
  # asked again for its error only when it printed no status: the usual case costs one run
  problem=$("$tool" ${root:+--system-root "$root"} status --field overall 2>&1 >/dev/null | tail -n 1)
  problem=${problem#mdm-watchdog: }
  problem=${problem#error: }
  value="Error: ${problem:-mdm-watchdog status printed nothing}"
fi
echo "<result>$value</result>"
