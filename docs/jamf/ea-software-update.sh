#!/bin/sh
# Jamf Pro extension attribute "MDM Watchdog Software Update"
# Data type: String. Input type: Script.
# The state of the pending macOS update as the last run judged it from softwareupdated
# and the DDM declaration, in one line:
#   Overdue: 26.1 since 2026-11-20                 (the deadline's date)
#   Stalled: 26.1 in DOWNLOADING_UPDATE since 2026-11-20 14:30:00   (last progress)
#   Looping: 26.1
#   Downloading: 26.1 / Preparing: 26.1 / Installing: 26.1
#   Pending: 26.1 by 2026-11-20 18:00:00           (the deadline)
#   Up to date                                     (installed, or nothing pending)
#   Unknown                                        (not judged, never run, unreadable)
# Not installed when mdm-watchdog is missing. The version is left out when the update
# names none (an MDM-era update: "Stalled in DOWNLOADING_UPDATE since ...").
# For smart groups: like "Overdue", "Stalled" or "Looping".
# It prints the value mdm-watchdog stored at its last run (state.json); it never scans
# the unified log, so it costs nothing at inventory time. Dates are local time,
# YYYY-MM-DD hh:mm:ss. Read it beside "MDM Watchdog Status": a Mac whose last run is
# old still shows what that run found.
# The program itself, never /usr/local/bin/mdm-watchdog: extension attributes run as
# root, and /usr/local/bin is writable by the Homebrew user on Intel Macs.
tool="${MDM_WATCHDOG:-/Library/Application Support/mdm-watchdog/app/mdm-watchdog}"  # the tests point these two
root="${MDM_WATCHDOG_ROOT:-}"                          # at a fake Mac
if [ ! -x "$tool" ]; then
  echo "<result>Not installed</result>"
  exit 0
fi
value=$("$tool" ${root:+--system-root "$root"} status --field software-update 2>/dev/null | head -n 1)
echo "<result>${value:-Unknown}</result>"
