"""The package's scripts on the fake Mac, run as Installer runs them.

Installer runs ``preinstall`` and ``postinstall`` as root with the package, the install
location and the target volume; ``MDM_WATCHDOG_ROOT`` puts the fake Mac's root in front
of every path they touch. Two stand-ins answer them: a launchctl that knows which
services launchd has loaded and which are disabled (every call recorded, as the other
stand-ins do), and a PlistBuddy that reads a plist's ``Label`` with plistlib.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support import REPO, FakeMac

sys.path.insert(0, str(REPO / "pkg"))
import build as package_build  # pkg/build.py: a script, so not importable otherwise

LABEL = "com.github.mdm-watchdog"
ADDIGY = "com.addigy.mdm-watchdog"  # the original's package id and label (original_tool.md)
APP = "Library/Application Support/mdm-watchdog"
PROGRAM = f"/{APP}/app/mdm-watchdog"
COMMAND = "usr/local/bin/mdm-watchdog"
ASIDE = "Library/Application Support/mdm-watchdog.addigy-disabled"
SCRIPTS = REPO / "pkg" / "scripts"

# launchctl's answers for a service launchd does not have (macOS 13+ wording and status)
LAUNCHCTL = r"""#!/bin/sh
root=__ROOT__
state="$root/.fake/launchctl"
services="$root/.fake/launchd"
mkdir -p "$state" "$services/loaded" "$services/disabled"
n=$(( $(cat "$state/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$state/count"
for arg in "$@"; do printf '%s\0' "$arg"; done > "$state/args.$n"
echo "launchctl $*" >> "$root/.fake/journal"
service=${2#system/}
case "$1" in
  print)
    [ -e "$services/loaded/$service" ] && exit 0
    echo "Could not find service \"$service\" in domain for system" >&2
    exit 113 ;;
  bootout)
    if [ ! -e "$services/loaded/$service" ]; then
      echo "Boot-out failed: 3: No such process" >&2
      exit 3
    fi
    rm -f "$services/loaded/$service" ;;
  disable) : > "$services/disabled/$service" ;;
  enable) rm -f "$services/disabled/$service" ;;
  bootstrap)
    label=$("$root/usr/libexec/PlistBuddy" -c "Print :Label" "$3" 2>/dev/null) ||
      label=$(basename "$3" .plist)
    : > "$services/loaded/$label" ;;
esac
exit 0
"""

PLISTBUDDY = """#!{python}
# PlistBuddy -c "Print :KEY" FILE, the one use the scripts make of it
import plistlib
import sys

key = sys.argv[2].removeprefix("Print :")
try:
    with open(sys.argv[3], "rb") as handle:
        print(plistlib.load(handle)[key])
except Exception:
    print(f'Print: Entry, ":{{key}}", Does Not Exist')
    sys.exit(1)
"""


def install_launchd(mac: FakeMac, loaded: tuple[str, ...] = ()) -> None:
    """launchd's launchctl at /bin/launchctl, with these services loaded."""
    launchctl = mac.root / "bin" / "launchctl"
    launchctl.parent.mkdir(parents=True, exist_ok=True)
    launchctl.write_text(LAUNCHCTL.replace("__ROOT__", shlex.quote(str(mac.root))))
    launchctl.chmod(0o755)
    for label in loaded:
        mac.write(f"/.fake/launchd/loaded/{label}", b"")


def install_plistbuddy(mac: FakeMac) -> None:
    tool = mac.root / "usr" / "libexec" / "PlistBuddy"
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text(PLISTBUDDY.format(python=sys.executable))
    tool.chmod(0o755)


def services(mac: FakeMac, kind: str) -> set[str]:
    """The labels launchd has ``loaded`` or ``disabled``."""
    folder = mac.root / ".fake" / "launchd" / kind
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def run_script(
    script: Path, mac: FakeMac, *args: str, target: str = "/"
) -> subprocess.CompletedProcess[str]:
    """``script`` as Installer runs it (or, without ``target``'s arguments, as root runs
    the uninstaller): preinstall and postinstall get the package, location and volume."""
    argv = [*(("/tmp/mdm-watchdog.pkg", "/", target) if script.parent == SCRIPTS else ()), *args]
    return subprocess.run(
        ["/bin/sh", str(script), *argv],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "MDM_WATCHDOG_ROOT": str(mac.root)},
    )


def payload_files() -> set[str]:
    """Every file (not folder) of the payload, as a path relative to the volume."""
    with tempfile.TemporaryDirectory() as work:
        lay_payload(Path(work))
        return {p.relative_to(work).as_posix() for p in Path(work).rglob("*") if p.is_file()}


def lay_payload(volume: Path) -> None:
    """What Installer puts on ``volume``: the payload pkg/build.py stages, around a
    stand-in program."""
    with tempfile.TemporaryDirectory() as work:
        bundle, staged = Path(work) / "bundle", Path(work) / "payload"
        bundle.mkdir()
        (bundle / "mdm-watchdog").write_bytes(b"#!/bin/sh\necho mdm-watchdog\n")
        (bundle / "mdm-watchdog").chmod(0o755)
        staged.mkdir()
        package_build.stage_payload(bundle, staged)
        for path in sorted(staged.rglob("*")):
            placed = volume / path.relative_to(staged)
            if path.is_dir():
                placed.mkdir(parents=True, exist_ok=True)
            else:
                placed.write_bytes(path.read_bytes())
                placed.chmod(path.stat().st_mode & 0o777)


def tree(root: Path) -> dict[str, bytes | str]:
    """Every path under ``root`` but the fakes' bookkeeping: a file's bytes, a link's
    target, a folder's mode."""
    shown: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if name.startswith(".fake"):
            continue
        if path.is_symlink():
            shown[name] = f"-> {path.readlink()}"
        elif path.is_dir():
            shown[name] = f"folder {path.stat().st_mode & 0o777:o}"
        else:
            shown[name] = path.read_bytes()
    return shown
