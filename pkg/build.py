"""Build mdm-watchdog's installer package: ``python pkg/build.py``.

1. The PyInstaller bundle from ``pkg/mdm-watchdog.spec`` (or ``--bundle DIR``).
2. The payload, staged with exact modes, everything owned by root:wheel:
     /Library/Application Support/mdm-watchdog/app/…            the bundle
     /Library/Application Support/mdm-watchdog/uninstall.sh
     /Library/LaunchDaemons/com.github.mdm-watchdog.plist
     /private/etc/newsyslog.d/com.github.mdm-watchdog.conf
   (postinstall adds /usr/local/bin/mdm-watchdog -> …/app/mdm-watchdog: /usr/local is
   not in the payload, so Installer never changes its owner or mode)
3. A component package and a product archive (the one to deploy with an MDM):
   on macOS with Apple's pkgbuild/productbuild (signed with ``--sign``, notarized with
   ``--notarize-profile``); elsewhere written by ``pkg/flatpkg.py``, byte for byte the
   same for the same sources, environment and ``SOURCE_DATE_EPOCH``, bundle included.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flatpkg

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "pkg"
APP_DIR = "Library/Application Support/mdm-watchdog"
LABEL = "com.github.mdm-watchdog"
# Mach-O magic numbers: a universal ("fat") file, and its slices' CPU types.
FAT_MAGIC = 0xCAFEBABE
CPU_X86_64, CPU_ARM64 = 0x01000007, 0x0100000C
FALLBACK_EPOCH = 1767225600  # 2026-01-01, when there is neither SOURCE_DATE_EPOCH nor git
# PyInstaller orders some of what it writes (base_library.zip) by set iteration, which
# follows the string hash seed; a fixed seed makes the bundle the same on every run.
PYINSTALLER_HASH_SEED = "1"
# pkg/build-info.json: the package identifier (Installer's receipt) and the file name
# (with ${version}). The version is the Python package's; the rest is fixed by the
# payload's layout: installed at /, not relocatable, root-owned, no restart.
BUILD_INFO_KEYS = ("identifier", "name")


def fail(message: str) -> NoReturn:
    sys.exit(f"build.py: error: {message}")


def run(*argv: str, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(argv), flush=True)
    if subprocess.run(argv, check=False, env=env).returncode != 0:
        fail(f"{argv[0]} failed")


def package_version() -> str:
    """The version setuptools gives the wheel: ``watchdog_mdm.__version__``, read the way
    setuptools reads it (statically), so the two can never disagree."""
    tree = ast.parse((REPO / "watchdog_mdm" / "__init__.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "__version__"
        ):
            return str(ast.literal_eval(node.value))
    fail("watchdog_mdm/__init__.py sets no __version__")


def build_info(path: Path = PKG / "build-info.json") -> dict[str, str]:
    """The package's identifier and file name from ``path``, and the package's version.

    Unknown keys are refused: a setting this script does not honour must not look set."""
    info: dict[str, str] = json.loads(path.read_text())
    if sorted(info) != sorted(BUILD_INFO_KEYS):
        fail(f"{path} must hold exactly the keys {', '.join(BUILD_INFO_KEYS)}")
    return info | {"version": package_version()}


def is_universal_macos(executable: Path) -> bool:
    """Whether ``executable`` is a universal Mach-O with arm64 and x86_64 slices."""
    with executable.open("rb") as handle:
        header = handle.read(4096)
    if len(header) < 8 or int.from_bytes(header[:4], "big") != FAT_MAGIC:
        return False
    count = int.from_bytes(header[4:8], "big")
    cpus = {int.from_bytes(header[8 + 20 * n : 12 + 20 * n], "big") for n in range(count)}
    return {CPU_X86_64, CPU_ARM64} <= cpus


def source_date_epoch() -> int:
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    done = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%ct"],
        capture_output=True,
        text=True,
        check=False,
    )
    stamp = done.stdout.strip()
    return int(stamp) if done.returncode == 0 and stamp else FALLBACK_EPOCH


def build_bundle(work: Path, epoch: int) -> Path:
    """The bundle from pkg/mdm-watchdog.spec, the same bytes for the same sources, epoch
    and build environment."""
    run(
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--distpath",
        str(work / "dist"),
        "--workpath",
        str(work / "build"),
        str(PKG / "mdm-watchdog.spec"),
        env=os.environ | {"PYTHONHASHSEED": PYINSTALLER_HASH_SEED, "SOURCE_DATE_EPOCH": str(epoch)},
    )
    return work / "dist" / "app"


def _copy_with_modes(source: Path, target: Path) -> None:
    """Copy a tree; folders and executables 0755, everything else 0644, links kept."""
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    for item in sorted(source.iterdir()):
        destination = target / item.name
        if item.is_symlink():
            destination.symlink_to(item.readlink())
        elif item.is_dir():
            _copy_with_modes(item, destination)
        else:
            shutil.copyfile(item, destination)
            destination.chmod(0o755 if item.stat().st_mode & 0o111 else 0o644)


def stage_payload(bundle: Path, root: Path) -> None:
    for folder in (APP_DIR, "Library/LaunchDaemons", "private/etc/newsyslog.d"):
        path = root
        for part in folder.split("/"):
            path = path / part
            path.mkdir(mode=0o755, exist_ok=True)
            path.chmod(0o755)
    _copy_with_modes(bundle, root / APP_DIR / "app")
    files = {
        f"{APP_DIR}/uninstall.sh": (PKG / "uninstall.sh", 0o755),
        f"Library/LaunchDaemons/{LABEL}.plist": (REPO / "launchd" / f"{LABEL}.plist", 0o644),
        f"private/etc/newsyslog.d/{LABEL}.conf": (
            REPO / "launchd" / f"{LABEL}.newsyslog.conf",
            0o644,
        ),
    }
    for relative, (source, mode) in files.items():
        shutil.copyfile(source, root / relative)
        (root / relative).chmod(mode)


def stage_scripts(root: Path) -> None:
    root.mkdir(mode=0o755)
    for name in ("preinstall", "postinstall"):
        shutil.copyfile(PKG / "scripts" / name, root / name)
        (root / name).chmod(0o755)


def package_info(info: dict[str, str], entries: list[flatpkg.Entry]) -> bytes:
    kbytes = sum(len(e.data) for e in entries if e.kind == flatpkg.FILE) // 1024
    return f"""<?xml version="1.0" encoding="utf-8"?>
<pkg-info overwrite-permissions="true" relocatable="false" identifier="{info["identifier"]}" postinstall-action="none" version="{info["version"]}" format-version="2" generator-version="mdm-watchdog-build" install-location="/" auth="root">
    <payload numberOfFiles="{len(entries)}" installKBytes="{kbytes}"/>
    <bundle-version/>
    <upgrade-bundle/>
    <update-bundle/>
    <atomic-update-bundle/>
    <strict-identifier/>
    <relocate/>
    <scripts>
        <preinstall file="./preinstall"/>
        <postinstall file="./postinstall"/>
    </scripts>
</pkg-info>
""".encode()


def distribution(info: dict[str, str], component: str, kbytes: int) -> bytes:
    # No <volume-check>: apple-flat-package, one of the readers the tests use, cannot
    # parse it, and the bundle's own Python sets the lowest macOS anyway.
    identifier, version = info["identifier"], info["version"]
    return f"""<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>mdm-watchdog {version}</title>
    <options customize="never" require-scripts="false" hostArchitectures="x86_64,arm64"/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <choices-outline>
        <line choice="default">
            <line choice="{identifier}"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="{identifier}" visible="false">
        <pkg-ref id="{identifier}"/>
    </choice>
    <pkg-ref id="{identifier}" version="{version}" onConclusion="none" installKBytes="{kbytes}">#{component}</pkg-ref>
    <product id="{identifier}" version="{version}"/>
</installer-gui-script>
""".encode()


def write_python(
    info: dict[str, str], payload: Path, scripts: Path, output: Path, epoch: int
) -> list[Path]:
    entries = flatpkg.entries_from_tree(payload)
    members = (
        flatpkg.Member("Bom", flatpkg.bom(entries, epoch)),
        flatpkg.Member("PackageInfo", package_info(info, entries)),
        flatpkg.Member("Payload", flatpkg.gzip_bytes(flatpkg.cpio_odc(entries, epoch))),
        flatpkg.Member(
            "Scripts",
            flatpkg.gzip_bytes(flatpkg.cpio_odc(flatpkg.entries_from_tree(scripts), epoch)),
        ),
    )
    name = info["name"].replace("${version}", info["version"])
    component = output / name.replace(".pkg", "-component.pkg")
    component.write_bytes(flatpkg.xar(members, epoch))
    kbytes = sum(len(e.data) for e in entries if e.kind == flatpkg.FILE) // 1024
    product = output / name
    product.write_bytes(
        flatpkg.xar(
            (
                flatpkg.Member("Distribution", distribution(info, "mdm-watchdog.pkg", kbytes)),
                flatpkg.Member("mdm-watchdog.pkg", children=members, mode=0o755),
            ),
            epoch,
        )
    )
    return [product, component]


def write_apple(
    info: dict[str, str],
    payload: Path,
    scripts: Path,
    output: Path,
    sign: str | None,
    notarize_profile: str | None,
) -> list[Path]:
    name = info["name"].replace("${version}", info["version"])
    component = output / name.replace(".pkg", "-component.pkg")
    product = output / name
    run(
        "/usr/bin/pkgbuild",
        "--root",
        str(payload),
        "--scripts",
        str(scripts),
        "--identifier",
        info["identifier"],
        "--version",
        info["version"],
        "--install-location",
        "/",
        "--ownership",
        "recommended",
        str(component),
    )
    run(
        "/usr/bin/productbuild",
        "--package",
        str(component),
        *(["--sign", sign] if sign else []),
        str(product),
    )
    if notarize_profile:
        run(
            "/usr/bin/xcrun",
            "notarytool",
            "submit",
            str(product),
            "--keychain-profile",
            notarize_profile,
            "--wait",
        )
        run("/usr/bin/xcrun", "stapler", "staple", str(product))
    return [product, component]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, help="use this PyInstaller bundle folder")
    parser.add_argument("--output", type=Path, default=REPO / "dist")
    parser.add_argument("--writer", choices=("auto", "apple", "python"), default="auto")
    parser.add_argument(
        "--sign",
        default=os.environ.get("MDM_WATCHDOG_INSTALLER_IDENTITY"),
        help='a "Developer ID Installer: …" identity (macOS)',
    )
    parser.add_argument("--notarize-profile", help="a notarytool keychain profile (macOS)")
    parser.add_argument(
        "--allow-foreign-bundle",
        action="store_true",
        help="package a bundle that is not universal macOS (testing only)",
    )
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    info = build_info()
    writer = args.writer
    if writer == "auto":
        writer = (
            "apple" if sys.platform == "darwin" and Path("/usr/bin/pkgbuild").exists() else "python"
        )
    if writer == "python" and (args.sign or args.notarize_profile):
        fail("signing and notarizing need macOS's productbuild and notarytool")
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mdm-watchdog-build-") as temporary:
        work = Path(temporary)
        epoch = source_date_epoch()
        bundle = args.bundle or build_bundle(work / "pyinstaller", epoch)
        if not (bundle / "mdm-watchdog").is_file():
            fail(f"{bundle} holds no mdm-watchdog executable")
        if not args.allow_foreign_bundle and not is_universal_macos(bundle / "mdm-watchdog"):
            fail(
                f"{bundle}/mdm-watchdog is not a universal (arm64 and x86_64) macOS "
                "executable: build the bundle on a Mac with a universal2 Python, or pass "
                "--allow-foreign-bundle to test the packaging with it"
            )
        payload, scripts = work / "payload", work / "scripts"
        payload.mkdir(mode=0o755)
        stage_payload(bundle, payload)
        stage_scripts(scripts)
        if writer == "apple":
            built = write_apple(
                info, payload, scripts, args.output, args.sign, args.notarize_profile
            )
        else:
            built = write_python(info, payload, scripts, args.output, epoch)
    for path in built:
        print(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path}")


if __name__ == "__main__":
    main()
