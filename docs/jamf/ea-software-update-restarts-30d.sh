#!/bin/sh
# Jamf Pro extension attribute "MDM Watchdog softwareupdated Restarts (30 days)"
# Data type: Integer. Input type: Script.
# How many times mdm-watchdog restarted softwareupdated in the last 30 days, from its run
# history (history.db beside state.json: `mdm-watchdog history --summary --since 30d
# --json`, its "restarts"). 0 when it never did, or has not run yet; empty when
# mdm-watchdog is missing or its history cannot be read (an Integer attribute holds no
# words; "MDM Watchdog Status" says what is wrong). Reading the history costs
# milliseconds: it never scans the unified log. Plain sh and awk: no Python needed.
# For smart groups: "more than" 2.
# The program itself, never /usr/local/bin/mdm-watchdog: extension attributes run as
# root, and /usr/local/bin is writable by the Homebrew user on Intel Macs.
tool="${MDM_WATCHDOG:-/Library/Application Support/mdm-watchdog/app/mdm-watchdog}"  # the tests point these two
root="${MDM_WATCHDOG_ROOT:-}"                          # at a fake Mac
if [ ! -x "$tool" ]; then
  echo "<result></result>"
  exit 0
fi
# "restarts" as the command prints it (JSON indented by two spaces):
#   "restarts": {
#     "mdmclient": 2,
#     "softwareupdated": 0
#   },
value=$("$tool" ${root:+--system-root "$root"} history --summary --since 30d --json 2>/dev/null | awk '
  /^  "restarts": \{/ { inside = 1; next }
  inside && /^    "softwareupdated": [0-9]+,?$/ { gsub(/[^0-9]/, ""); print; exit }
  inside && /^  \}/ { exit }
')
echo "<result>$value</result>"
