#!/bin/sh
# Removes mdm-watchdog: stops the LaunchDaemon, deletes every installed file and the
# state, and makes macOS forget the package receipt. As root:
#   sudo "/Library/Application Support/mdm-watchdog/uninstall.sh"
PATH=/usr/bin:/bin:/usr/sbin:/sbin
root="${MDM_WATCHDOG_ROOT:-}"  # empty on a Mac; the tests' fake Mac otherwise
label=com.github.mdm-watchdog
if [ "$(id -u)" != 0 ]; then
  echo "uninstall.sh: run as root: sudo \"$0\"" >&2
  exit 1
fi
"$root/bin/launchctl" bootout "system/$label" 2>/dev/null || true
rm -f "$root/Library/LaunchDaemons/$label.plist" "$root/private/etc/newsyslog.d/$label.conf"
link="$root/usr/local/bin/mdm-watchdog"
# the command-line link only if it is still ours
if [ -L "$link" ] && [ "$(readlink "$link")" = "/Library/Application Support/mdm-watchdog/app/mdm-watchdog" ]; then
  rm -f "$link"
fi
rm -rf "$root/Library/Application Support/mdm-watchdog"
rm -f "$root/var/log/mdm-watchdog.log" "$root/var/log/mdm-watchdog.log."*
"$root/usr/sbin/pkgutil" --forget "$label" >/dev/null 2>&1 || true
echo "mdm-watchdog removed"
