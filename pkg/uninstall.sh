#!/bin/sh
# Removes mdm-watchdog: stops the LaunchDaemon, deletes what the package installed and
# makes macOS forget the package receipt. The state (state.json, the history) and the
# local preferences stay, for a reinstall or for the original tool that shares the state
# folder, unless --purge. Nothing else is touched: not another tool's files, not the
# files of Addigy's original that the installer moved aside, not managed preferences.
# As root:
#   sudo "/Library/Application Support/mdm-watchdog/uninstall.sh" [--purge]
# Exit status: 0 removed; 1 not run as root; 2 usage.
PATH=/usr/bin:/bin:/usr/sbin:/sbin
root="${MDM_WATCHDOG_ROOT:-}"  # empty on a Mac; the tests' fake Mac otherwise
label=com.github.mdm-watchdog
folder="$root/Library/Application Support/mdm-watchdog"
purge=no
case "$*" in
  "") ;;
  --purge) purge=yes ;;
  *)
    echo "usage: uninstall.sh [--purge]" >&2
    exit 2
    ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "uninstall.sh: run as root: sudo \"$0\" $*" >&2
  exit 1
fi
"$root/bin/launchctl" bootout "system/$label" 2>/dev/null || true
# What the package installed (pkg/build.py's payload) and what postinstall made.
rm -f "$root/Library/LaunchDaemons/$label.plist" "$root/private/etc/newsyslog.d/$label.conf"
rm -rf "$folder/app"
rm -f "$folder/uninstall.sh"
link="$root/usr/local/bin/mdm-watchdog"
# the command-line link only if it is still ours
if [ -L "$link" ] && [ "$(readlink "$link")" = "/Library/Application Support/mdm-watchdog/app/mdm-watchdog" ]; then
  rm -f "$link"
fi
# What the program writes as it runs, besides the state: its lock, unfinished writes, output.
rm -f "$folder/.lock" "$folder/.lock."*.new "$folder/.state.json."*.tmp
rm -f "$root/var/log/mdm-watchdog.log" "$root/var/log/mdm-watchdog.log."*
if [ "$purge" = yes ]; then
  # state.json.corrupt-*: unreadable states the program moved aside rather than lose
  rm -f "$folder/state.json" "$folder/state.json.corrupt-"* "$folder/history.db"*
  # through cfprefsd first, so no cached copy outlives the file
  "$root/usr/bin/defaults" delete "/Library/Preferences/$label" >/dev/null 2>&1 || true
  rm -f "$root/Library/Preferences/$label.plist"
fi
# the folder only when nothing is left in it (another tool's files, a kept state)
rmdir "$folder" 2>/dev/null || true
"$root/usr/sbin/pkgutil" --forget "$label" >/dev/null 2>&1 || true
if [ "$purge" = yes ]; then
  echo "mdm-watchdog removed, with its state and local preferences"
elif [ -d "$folder" ]; then
  echo "mdm-watchdog removed; kept $folder (state.json, history); --purge removes them"
else
  echo "mdm-watchdog removed"
fi
aside="$root/Library/Application Support/mdm-watchdog.addigy-disabled"
if [ -d "$aside" ]; then
  echo "Addigy's MDM Watchdog, set aside when mdm-watchdog was installed, is still in $aside"
fi
