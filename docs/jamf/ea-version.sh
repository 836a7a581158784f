#!/bin/sh
# Jamf Pro extension attribute "MDM Watchdog Version"
# Data type: String. Input type: Script.
# The installed mdm-watchdog's version (mdm-watchdog -version), e.g. 0.1.0; Not installed
# when it is missing; "Error: <why>" when it is there but cannot run (a damaged install),
# never blank. For smart groups: "is not" the version you deploy.
# The program itself, never /usr/local/bin/mdm-watchdog: extension attributes run as
# root, and /usr/local/bin is writable by the Homebrew user on Intel Macs.
tool="${MDM_WATCHDOG:-/Library/Application Support/mdm-watchdog/app/mdm-watchdog}"  # the tests point this elsewhere
if [ ! -x "$tool" ]; then
  echo "<result>Not installed</result>"
  exit 0
fi
value=$("$tool" -version 2>/dev/null | head -n 1)
if [ -z "$value" ]; then
  problem=$("$tool" -version 2>&1 >/dev/null | tail -n 1)
  problem=${problem#mdm-watchdog: }
  value="Error: ${problem:-mdm-watchdog -version printed nothing}"
fi
echo "<result>$value</result>"
