#!/bin/sh
# Jamf Pro extension attribute "MDM Watchdog Last MDM Check-in"
# Data type: Date. Input type: Script.
# The newest successful device-channel exchange with the MDM server that mdm-watchdog
# has ever seen (empty: none yet). MDM is push-then-poll: a healthy Mac may not talk to
# its server for a day or more, so each -heal run remembers the newest exchange in
# state.json (mdm_client.last_exchange) and never forgets it because a later log window
# held none. A Mac quiet for a week shows the date of its last exchange, a week ago.
# A state.json written before that key existed falls back to the last run's evidence.
# It prints what mdm-watchdog stored (state.json); it never scans the unified log, so
# it costs nothing at inventory time. Dates are local time, YYYY-MM-DD hh:mm:ss, as
# Jamf Pro's Date type wants. Plain sh, date and awk: no Python on the Mac.
# The program itself, never /usr/local/bin/mdm-watchdog: extension attributes run as
# root, and /usr/local/bin is writable by the Homebrew user on Intel Macs.
tool="${MDM_WATCHDOG:-/Library/Application Support/mdm-watchdog/app/mdm-watchdog}"  # the tests point these two
root="${MDM_WATCHDOG_ROOT:-}"                          # at a fake Mac
if [ ! -x "$tool" ]; then
  echo "<result></result>"
  exit 0
fi
state="$root/Library/Application Support/mdm-watchdog/state.json"

# mdm_client.last_exchange.time as mdm-watchdog writes it (JSON indented by two spaces):
# the "time" of the top-level "mdm_client" object's "last_exchange". The result of the
# last run also holds an "mdm_client" object, deeper and without "last_exchange".
stored=$(awk '
  /^  "mdm_client": \{/ { level = 1; next }
  level == 1 && /^    "last_exchange": \{/ { level = 2; next }
  level == 2 && /^      "time": "/ { sub(/^      "time": "/, ""); sub(/".*$/, ""); print; exit }
  level == 2 && /^    \}/ { level = 1 }
  level >= 1 && /^  \}/ { level = 0 }
' "$state" 2>/dev/null)

# "2026-11-20T14:30:00.250413+01:00" (or "...Z") to local "2026-11-20 14:30:00".
local_date() {
  case "$1" in
    [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*) ;;
    *) return 1 ;;
  esac
  wall=$(printf '%s' "$1" | cut -c1-19)
  zone=$(printf '%s' "$1" | cut -c20- | sed 's/^\.[0-9]*//')
  case "$zone" in
    Z | "") offset=0 ;;
    [+-][0-9][0-9]:[0-9][0-9])
      hours=$(printf '%s' "$zone" | cut -c2-3)
      minutes=$(printf '%s' "$zone" | cut -c5-6)
      offset=$(( (1$hours - 100) * 3600 + (1$minutes - 100) * 60 ))  # 1$x: no octal
      case "$zone" in -*) offset=$(( -offset )) ;; esac ;;
    *) return 1 ;;
  esac
  if date --version >/dev/null 2>&1; then  # GNU date (Linux)
    seconds=$(date -u -d "$(printf '%s' "$wall" | tr T ' ')" +%s) || return 1
    date -d "@$(( seconds - offset ))" "+%Y-%m-%d %H:%M:%S"
  else  # macOS: the wall time read as UTC, then the offset taken off
    seconds=$(date -j -u -f "%Y-%m-%dT%H:%M:%S" "$wall" +%s) || return 1
    date -r "$(( seconds - offset ))" "+%Y-%m-%d %H:%M:%S"
  fi
}

value=$(local_date "$stored" 2>/dev/null)
if [ -z "$value" ]; then
  value=$("$tool" ${root:+--system-root "$root"} status --field last-mdm-checkin 2>/dev/null | head -n 1)
fi
echo "<result>$value</result>"
