"""The shipped artefacts: the PyInstaller bundle, the .pkg, its scripts, the LaunchDaemon.

The bundle is built once per test session by pkg/build.py's own code, the packages from
it with pkg/build.py, exactly as CI and a release would; one more build from scratch
shows the README's build command reproducible. The .pkg is then read back by
readers that share no code with the writer: libarchive (C), and apple-flat-package and
apple-bom (Rust). Every payload path, mode, owner and byte is checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import plistlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import apple_platform.packaging as flat_package
import libarchive
import pyapplebom
import pytest

from tests.installer import install_launchd
from tests.support import (
    ENROLLED,
    QUIET_WINDOW,
    REPO,
    FakeMac,
    export,
    prefs,
    reconstructed_lines,
)
from watchdog_mdm import __version__
from watchdog_mdm.heal import MDM_CLIENT

sys.path.insert(0, str(REPO / "pkg"))
import build as package_build  # pkg/build.py: a script, so not importable otherwise

APP = "Library/Application Support/mdm-watchdog"
LABEL = "com.github.mdm-watchdog"
BINARY = f"/{APP}/app/mdm-watchdog"
EPOCH = "1767225600"


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one bundle of the session (a PyInstaller run takes ~9 s), as build.py builds it."""
    return package_build.build_bundle(tmp_path_factory.mktemp("pyinstaller"), int(EPOCH))


def build(bundle: Path | None, output: Path) -> dict[str, Path]:
    """build.py's packages from ``bundle``, or from scratch as the README's command does."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "pkg" / "build.py"),
            "--allow-foreign-bundle",
            "--output",
            str(output),
            *(["--bundle", str(bundle)] if bundle else []),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"SOURCE_DATE_EPOCH": EPOCH},
    )
    assert done.returncode == 0, done.stderr
    return {
        "product": output / f"mdm-watchdog-{__version__}.pkg",
        "component": output / f"mdm-watchdog-{__version__}-component.pkg",
    }


@pytest.fixture(scope="session")
def packages(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(bundle, tmp_path_factory.mktemp("packages"))


@dataclass(frozen=True)
class Member:
    path: str
    mode: int
    uid: int
    gid: int
    data: bytes
    link: str | None


def archive_members(data: bytes) -> dict[str, Member]:
    """Everything in an archive as libarchive reads it: the listing for names, modes and
    owners, an extraction (as bsdtar would do it) for the bytes."""
    listing = []
    with libarchive.memory_reader(data) as archive:
        for entry in archive:
            listing.append(
                (
                    entry.pathname,
                    entry.mode,
                    entry.uid,
                    entry.gid,
                    entry.isfile,
                    entry.linkpath if entry.issym else None,
                )
            )
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        libarchive.extract_memory(data)
        return {
            name: Member(
                name, mode, uid, gid, (Path(folder) / name).read_bytes() if is_file else b"", link
            )
            for name, mode, uid, gid, is_file, link in listing
        }


def expected_payload(bundle: Path) -> dict[str, tuple[int, bytes | str | None]]:
    """Every payload path with its mode and content (or link target)."""
    expected: dict[str, tuple[int, bytes | str | None]] = {".": (0o040755, None)}
    folders = [APP, f"{APP}/app", "Library/LaunchDaemons", "private/etc/newsyslog.d"]
    for folder in folders:
        parts = folder.split("/")
        for n in range(1, len(parts) + 1):
            expected["./" + "/".join(parts[:n])] = (0o040755, None)
    for path in sorted(bundle.rglob("*")):
        name = f"./{APP}/app/" + path.relative_to(bundle).as_posix()
        if path.is_dir():
            expected[name] = (0o040755, None)
        else:
            mode = 0o100755 if path.stat().st_mode & 0o111 else 0o100644
            expected[name] = (mode, path.read_bytes())
    expected[f"./{APP}/uninstall.sh"] = (0o100755, (REPO / "pkg/uninstall.sh").read_bytes())
    expected[f"./Library/LaunchDaemons/{LABEL}.plist"] = (
        0o100644,
        (REPO / f"launchd/{LABEL}.plist").read_bytes(),
    )
    expected[f"./private/etc/newsyslog.d/{LABEL}.conf"] = (
        0o100644,
        (REPO / f"launchd/{LABEL}.newsyslog.conf").read_bytes(),
    )
    return expected


class TestBundle:
    def test_the_bundle_is_one_folder_with_the_executable(self, bundle: Path) -> None:
        assert (bundle / "mdm-watchdog").is_file()
        assert (bundle / "_internal").is_dir()  # onedir: nothing unpacked at run time

    def test_version(self, bundle: Path) -> None:
        done = subprocess.run(
            [str(bundle / "mdm-watchdog"), "-version"], capture_output=True, text=True, check=False
        )
        assert done.stdout == f"{__version__}\n"

    def test_the_bundle_carries_the_one_pass_marker_search(self, bundle: Path) -> None:
        # imported inside a function (markers.py); without it the bundle would still
        # work, on the slower fallback, so its presence is checked here
        assert list((bundle / "_internal" / "ahocorasick_rs").glob("ahocorasick_rs*.so"))

    def test_the_bundle_carries_the_fast_json_parser(self, bundle: Path) -> None:
        # likewise imported inside a function (json_records.py), with a slower fallback
        assert list((bundle / "_internal" / "orjson").glob("orjson*.so"))

    def test_diagnose_and_heal_on_the_fake_mac(self, bundle: Path, fake_mac: FakeMac) -> None:
        fake_mac.install("/usr/bin/profiles", ENROLLED)
        # by the original's rule, three quiet hours are stuck (each run asks twice)
        history = export(reconstructed_lines(updates=False), hours_ago=3)
        fake_mac.install("/usr/bin/log", [QUIET_WINDOW, history, QUIET_WINDOW, history])
        fake_mac.install("/bin/launchctl")
        prefs(fake_mac, VerifySeconds=0, StuckRule="quiet")  # no daemon runs here to wait for
        binary = str(bundle / "mdm-watchdog")
        diagnose = subprocess.run(
            [binary, "-diagnose", "--system-root", str(fake_mac.root)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert diagnose.stdout == (
            "MDMEnrolled: true MDMIdentityError: false "
            "MDMClientStuck: true MDMSoftwareUpdatesStuck: false\n"
        )
        heal = subprocess.run(
            [binary, "-heal", "--system-root", str(fake_mac.root)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert heal.returncode == 0, heal.stderr
        assert "MDMClientRestarted: true" in heal.stdout
        assert fake_mac.calls("launchctl") == [["kickstart", "-k", f"system/{MDM_CLIENT.label}"]]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestPackage:
    def test_a_build_from_scratch_is_identical(
        self, packages: dict[str, Path], tmp_path: Path
    ) -> None:
        # The session's second and last PyInstaller run: the README's build command, bundle
        # included, in other folders, gives the very bytes of the session's packages (so
        # the bundle is reproducible, and the packages written from it too).
        again = build(None, tmp_path)
        for kind, path in packages.items():
            assert sha256(path) == sha256(again[kind]), kind

    def test_members_are_stored_uncompressed(self, packages: dict[str, Path]) -> None:
        # Installer rejects compressed xar members; every TOC entry must say so.
        import zlib

        data = packages["product"].read_bytes()
        toc = zlib.decompress(data[28 : 28 + int.from_bytes(data[8:16], "big")]).decode()
        assert toc.count('<encoding style="application/octet-stream"/>') == 5
        assert "x-gzip" not in toc and "x-bzip2" not in toc

    def test_both_readers_see_the_same_members(self, packages: dict[str, Path]) -> None:
        path = packages["product"]
        by_libarchive = archive_members(path.read_bytes())
        info = flat_package.pkg_info(path)
        assert info["flavor"] == "Product"
        assert (
            sorted(info["files"])
            == sorted(by_libarchive)
            == [
                "Distribution",
                "mdm-watchdog.pkg",
                "mdm-watchdog.pkg/Bom",
                "mdm-watchdog.pkg/PackageInfo",
                "mdm-watchdog.pkg/Payload",
                "mdm-watchdog.pkg/Scripts",
            ]
        )
        for name, member in by_libarchive.items():
            if name != "mdm-watchdog.pkg":
                assert flat_package.pkg_extract_member(path, name) == member.data, name
                assert (member.uid, member.gid, member.mode) == (0, 0, 0o100644)

    def test_package_info_and_distribution(self, packages: dict[str, Path]) -> None:
        info = flat_package.pkg_info(packages["product"])
        (component,) = info["components"]
        package_info = component["package_info"]
        build_info = json.loads((REPO / "pkg/build-info.json").read_text())
        assert package_info["identifier"] == build_info["identifier"] == LABEL
        assert package_info["version"] == __version__
        assert package_info["install-location"] == "/"
        assert package_info["auth"] == "root"
        assert package_info["scripts"]["$value"] == [
            {"preinstall": {"component_id": None, "file": "./preinstall"}},
            {"postinstall": {"component_id": None, "file": "./postinstall"}},
        ]
        refs = [r for c in info["distribution"]["choice"] for r in c["pkg-ref"]]
        assert [r["id"] for r in refs] == [LABEL]
        payload = archive_members(
            flat_package.pkg_extract_member(packages["product"], "mdm-watchdog.pkg/Payload")
        )
        assert package_info["payload"]["numberOfFiles"] == len(payload)

    def test_component_package_holds_the_same_parts(self, packages: dict[str, Path]) -> None:
        component = archive_members(packages["component"].read_bytes())
        product = archive_members(packages["product"].read_bytes())
        assert sorted(component) == ["Bom", "PackageInfo", "Payload", "Scripts"]
        for name, member in component.items():
            assert product[f"mdm-watchdog.pkg/{name}"].data == member.data

    def test_every_payload_path_mode_owner_and_byte(
        self, bundle: Path, packages: dict[str, Path]
    ) -> None:
        payload = archive_members(
            flat_package.pkg_extract_member(packages["product"], "mdm-watchdog.pkg/Payload")
        )
        expected = expected_payload(bundle)
        assert sorted(payload) == sorted(expected)
        for name, (mode, content) in expected.items():
            member = payload[name]
            assert (member.uid, member.gid) == (0, 0), name
            assert member.mode == mode, name
            if isinstance(content, bytes):
                assert member.data == content, name
            elif isinstance(content, str):
                assert member.link == content, name

    def test_bom_lists_the_payload(self, bundle: Path, packages: dict[str, Path]) -> None:
        data = flat_package.pkg_extract_member(packages["product"], "mdm-watchdog.pkg/Bom")
        parsed = pyapplebom.parse_bom_bytes(data, include_blocks=False)
        assert parsed["parse_errors"] is None
        expected = expected_payload(bundle)
        paths = {p["path"]: p for p in parsed["paths"]}
        assert sorted(paths) == sorted(expected)
        for name, (mode, content) in expected.items():
            record = paths[name]
            assert (record["user_id"], record["group_id"]) == (0, 0), name
            assert record["file_mode"] == mode, name
            assert record["mtime"] == int(EPOCH), name
            if isinstance(content, bytes):
                assert record["size"] == len(content), name
                assert record["crc32"] == posix_cksum(content), name
            elif isinstance(content, str):
                assert record["link_name"] == content, name

    def test_scripts_are_the_repositorys(self, packages: dict[str, Path]) -> None:
        scripts = archive_members(
            flat_package.pkg_extract_member(packages["product"], "mdm-watchdog.pkg/Scripts")
        )
        assert sorted(scripts) == [".", "./postinstall", "./preinstall"]
        for name in ("preinstall", "postinstall"):
            member = scripts[f"./{name}"]
            assert member.mode == 0o100755
            assert member.data == (REPO / "pkg/scripts" / name).read_bytes()


class TestBuildInfo:
    def test_identifier_and_name_are_what_is_built(self, tmp_path: Path) -> None:
        path = tmp_path / "build-info.json"
        path.write_text(
            json.dumps({"identifier": "org.example.watchdog", "name": "example-${version}.pkg"})
        )
        info = package_build.build_info(path)
        bundle = tmp_path / "bundle"
        bundle.mkdir()
        (bundle / "mdm-watchdog").write_bytes(b"#!/bin/sh\n")
        payload, scripts, output = tmp_path / "payload", tmp_path / "scripts", tmp_path / "out"
        payload.mkdir()
        output.mkdir()
        package_build.stage_payload(bundle, payload)
        package_build.stage_scripts(scripts)
        product, component = package_build.write_python(info, payload, scripts, output, int(EPOCH))
        assert (product.name, component.name) == (
            f"example-{__version__}.pkg",
            f"example-{__version__}-component.pkg",
        )
        read = flat_package.pkg_info(product)
        (package_info,) = (c["package_info"] for c in read["components"])
        assert (package_info["identifier"], package_info["version"]) == (
            "org.example.watchdog",
            __version__,
        )
        refs = [r for c in read["distribution"]["choice"] for r in c["pkg-ref"]]
        assert [r["id"] for r in refs] == ["org.example.watchdog"]

    @pytest.mark.parametrize(
        "keys",
        [
            {"identifier": LABEL},
            {"identifier": LABEL, "name": "x.pkg", "version": "9.9"},  # the package's, only
            {"identifier": LABEL, "name": "x.pkg", "ownership": "preserve"},
        ],
    )
    def test_a_key_build_py_does_not_honour_is_refused(
        self, tmp_path: Path, keys: dict[str, str]
    ) -> None:
        path = tmp_path / "build-info.json"
        path.write_text(json.dumps(keys))
        with pytest.raises(SystemExit, match="must hold exactly the keys identifier, name"):
            package_build.build_info(path)


def build_with_backend(hook: str, source: Path, output: Path) -> Path:
    """``hook`` (build_sdist, build_wheel) of pyproject.toml's backend, as pip calls it."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; from setuptools import build_meta; print(build_meta.{hook}(sys.argv[1]))",
            str(output),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return output / done.stdout.splitlines()[-1]


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist from a clean copy of the repository, and the wheel from that sdist
    (which is how pip installs from an sdist)."""
    work = tmp_path_factory.mktemp("distributions")
    source = work / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "*.egg-info", "build", "dist", "__pycache__", ".*cache"
        ),
    )
    sdist = build_with_backend("build_sdist", source, work)
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "unpacked", filter="data")
    (unpacked,) = (work / "unpacked").iterdir()
    return {"sdist": sdist, "wheel": build_with_backend("build_wheel", unpacked, work)}


class TestDistributions:
    def test_the_sdist_holds_the_package_and_licence_and_no_tests(
        self, distributions: dict[str, Path]
    ) -> None:
        # The tests read the whole repository (fixtures, docs, pkg/, launchd/), so they
        # run from a clone; an sdist with some of them could only fail.
        with tarfile.open(distributions["sdist"]) as archive:
            top = f"mdm_watchdog-{__version__}/"
            names = {m.name.removeprefix(top) for m in archive.getmembers()}
            licence = archive.extractfile(top + "LICENSE")
            assert licence is not None
            assert licence.read() == (REPO / "LICENSE").read_bytes()
        assert not [name for name in names if name.startswith("tests")]
        modules = {p.relative_to(REPO).as_posix() for p in REPO.glob("watchdog_mdm/*.py")}
        assert modules <= names
        assert {"README.md", "pyproject.toml", "PKG-INFO"} <= names

    def test_the_wheel_carries_the_licence_and_the_version(
        self, distributions: dict[str, Path]
    ) -> None:
        info = f"mdm_watchdog-{__version__}.dist-info"
        with zipfile.ZipFile(distributions["wheel"]) as wheel:
            assert wheel.read(f"{info}/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
            metadata = wheel.read(f"{info}/METADATA").decode().split("\n\n")[0].splitlines()
            assert not [n for n in wheel.namelist() if n.startswith("tests")]
        assert "License-Expression: MIT" in metadata
        assert f"Version: {__version__}" in metadata


def posix_cksum(data: bytes) -> int:
    """What POSIX `cksum` (coreutils here: another implementation) prints for ``data``."""
    done = subprocess.run(["cksum"], input=data, capture_output=True, check=True)
    return int(done.stdout.split()[0])


def extract_payload(packages: dict[str, Path], volume: Path) -> None:
    """The product's payload laid on ``volume`` as Installer would."""
    payload = flat_package.pkg_extract_member(packages["product"], "mdm-watchdog.pkg/Payload")
    for name, member in archive_members(payload).items():
        target = volume / name
        if member.mode & 0o170000 == 0o040000:
            target.mkdir(parents=True, exist_ok=True)
        elif member.link is not None:
            target.symlink_to(member.link)
        else:
            target.write_bytes(member.data)
            target.chmod(member.mode & 0o777)


@pytest.fixture
def installed(packages: dict[str, Path], fake_mac: FakeMac) -> Iterator[FakeMac]:
    """The fake Mac with the payload extracted under its root, as Installer would, and
    the command link postinstall makes."""
    extract_payload(packages, fake_mac.root)
    install_launchd(fake_mac)
    fake_mac.install("/usr/sbin/pkgutil")
    link = fake_mac.root / "usr/local/bin/mdm-watchdog"
    link.parent.mkdir(parents=True)
    link.symlink_to(BINARY)
    yield fake_mac


def run_script(path: Path, mac: FakeMac, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(path), *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "MDM_WATCHDOG_ROOT": str(mac.root)},
    )


class TestInstalled:
    def test_the_installed_binary_runs_on_the_fake_mac(self, installed: FakeMac) -> None:
        installed.install("/usr/bin/profiles", ENROLLED)
        installed.install("/usr/bin/log", b'{"count":0,"finished":1}\n')
        done = subprocess.run(
            [
                str(installed.root / BINARY.lstrip("/")),
                "-diagnose",
                "--system-root",
                str(installed.root),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.stdout.startswith("MDMEnrolled: true ")

    def test_postinstall_bootstraps_the_daemon_on_the_running_system(
        self, installed: FakeMac
    ) -> None:
        plist = installed.root / f"Library/LaunchDaemons/{LABEL}.plist"
        plist.chmod(0o666)
        (installed.root / "usr/local/bin/mdm-watchdog").unlink()
        (installed.root / "usr/local/bin").rmdir()
        done = run_script(REPO / "pkg/scripts/postinstall", installed, "pkg", "/", "/")
        assert done.returncode == 0, done.stderr
        assert plist.stat().st_mode & 0o777 == 0o644
        assert installed.calls("launchctl") == [
            ["enable", f"system/{LABEL}"],
            ["bootstrap", "system", str(plist)],
        ]
        link = installed.root / "usr/local/bin/mdm-watchdog"
        assert str(link.readlink()) == BINARY

    def test_the_payload_leaves_usr_local_alone(self, packages: dict[str, Path]) -> None:
        payload = archive_members(
            flat_package.pkg_extract_member(packages["product"], "mdm-watchdog.pkg/Payload")
        )
        assert not [name for name in payload if name.startswith("./usr")]

    def test_only_a_universal_macos_bundle_is_packaged_by_default(
        self, bundle: Path, tmp_path: Path
    ) -> None:
        done = subprocess.run(
            [
                sys.executable,
                str(REPO / "pkg" / "build.py"),
                "--bundle",
                str(bundle),
                "--output",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode != 0
        assert "is not a universal (arm64 and x86_64) macOS executable" in done.stderr
        assert list(tmp_path.iterdir()) == []

    def test_scripts_never_ask_launchd_about_another_volume(
        self, packages: dict[str, Path], installed: FakeMac
    ) -> None:
        volume = installed.root / "Volumes" / "Other"
        extract_payload(packages, volume)
        for name in ("preinstall", "postinstall"):
            done = run_script(REPO / "pkg/scripts" / name, installed, "pkg", "/", "/Volumes/Other")
            assert done.returncode == 0, done.stderr
        assert installed.calls("launchctl") == []
        assert str((volume / "usr/local/bin/mdm-watchdog").readlink()) == BINARY

    def test_preinstall_boots_the_old_daemon_out(self, installed: FakeMac) -> None:
        done = run_script(REPO / "pkg/scripts/preinstall", installed, "pkg", "/", "/")
        assert done.returncode == 0
        # and looks for Addigy's original, which this Mac does not have
        assert installed.calls("launchctl") == [
            ["bootout", f"system/{LABEL}"],
            ["print", "system/com.addigy.mdm-watchdog"],
        ]

    def test_uninstaller_removes_every_installed_file(self, installed: FakeMac) -> None:
        (installed.root / f"{APP}/state.json").write_text("{}")
        log = installed.write("/var/log/mdm-watchdog.log", b"old output\n")
        before = {p for p in installed.root.rglob("*") if ".fake" not in p.parts}
        done = run_script(installed.root / APP / "uninstall.sh", installed, "--purge")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "mdm-watchdog removed, with its state and local preferences\n"
        left = {p for p in installed.root.rglob("*") if ".fake" not in p.parts}
        ours = [p for p in left if "mdm-watchdog" in p.as_posix()]
        assert ours == []
        assert not log.exists()
        assert left < before
        assert installed.calls("launchctl") == [["bootout", f"system/{LABEL}"]]
        assert installed.calls("pkgutil") == [["--forget", LABEL]]

    def test_uninstaller_keeps_the_state_without_purge(self, installed: FakeMac) -> None:
        state = installed.write(f"/{APP}/state.json", b"{}")
        done = run_script(installed.root / APP / "uninstall.sh", installed)
        assert done.returncode == 0, done.stderr
        left = {p for p in installed.root.rglob("*") if ".fake" not in p.parts}
        assert [p for p in left if "mdm-watchdog" in p.as_posix()] == [state.parent, state]

    def test_uninstaller_keeps_a_command_link_that_is_not_its_own(self, installed: FakeMac) -> None:
        link = installed.root / "usr/local/bin/mdm-watchdog"
        link.unlink()
        link.symlink_to("/opt/homebrew/bin/mdm-watchdog")
        run_script(installed.root / APP / "uninstall.sh", installed)
        assert link.is_symlink()


def test_launch_daemon_plist() -> None:
    path = REPO / "launchd" / f"{LABEL}.plist"
    plist = plistlib.loads(path.read_bytes())
    assert plist["Label"] == path.stem == LABEL
    assert plist["ProgramArguments"] == [BINARY, "-heal"]
    assert plist["StartInterval"] == 5700
    assert plist["RunAtLoad"] is True
    assert plist["ProcessType"] == "Background"
    assert plist["LowPriorityIO"] is True
    assert plist["Nice"] > 0
    assert plist["StandardOutPath"] == plist["StandardErrorPath"] == "/var/log/mdm-watchdog.log"
    assert plist["EnvironmentVariables"] == {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}


def test_log_rotation_covers_the_daemons_log() -> None:
    line = next(
        x
        for x in (REPO / "launchd" / f"{LABEL}.newsyslog.conf").read_text().splitlines()
        if x and not x.startswith("#")
    )
    path, owner, mode, count, size, when, flags = line.split()
    assert when == "*"  # rotate by size only
    assert path == "/var/log/mdm-watchdog.log"
    assert (owner, mode) == ("root:wheel", "644")
    assert int(count) > 0 and int(size) > 0
    assert "N" in flags  # no process to signal
