"""Installing over Addigy's original, onto another volume, and uninstalling.

The original (docs/deployment.md, "Replacing Addigy's MDM Watchdog") is a LaunchDaemon
labelled ``com.addigy.mdm-watchdog`` with its program at ``/usr/local/bin/mdm-watchdog``
and its state in ``/Library/Application Support/mdm-watchdog/state.json``; its
LaunchDaemon's file name is not public, so these tests give it names the scripts could
not guess. The scripts run on the fake Mac as Installer runs them (tests/installer.py).
"""

from __future__ import annotations

import json
import os
import plistlib
import subprocess

import pytest

from tests.installer import (
    ADDIGY,
    APP,
    ASIDE,
    COMMAND,
    LABEL,
    PROGRAM,
    SCRIPTS,
    install_launchd,
    install_plistbuddy,
    lay_payload,
    payload_files,
    run_script,
    services,
    tree,
)
from tests.support import REPO, FakeMac, reference, run_installed
from watchdog_mdm.config import LOCAL_PREFERENCES, MANAGED_PREFERENCES

PREINSTALL, POSTINSTALL = SCRIPTS / "preinstall", SCRIPTS / "postinstall"
UNINSTALL = REPO / "pkg" / "uninstall.sh"
# written for these tests: only the label is public; the name is one no script could guess
ADDIGY_PLIST = "Library/LaunchDaemons/com.example.not-the-real-name.plist"
ADDIGY_DAEMON = plistlib.dumps(
    {"Label": ADDIGY, "ProgramArguments": ["/usr/local/bin/mdm-watchdog"], "RunAtLoad": True}
)
ADDIGY_PROGRAM = b"\xcf\xfa\xed\xfe stand-in for the original's Mach-O program"
# source: original_tool.md (munkireport/mdm_status scripts/mdm_status.py): the original's
# keys, a time in its format, and its "never" (Go's zero time)
ADDIGY_STATE = json.dumps(
    {
        "last_mdm_kickstart": "2023-08-17T01:21:54.555443-04:00",
        "last_software_update_kickstart": "0001-01-01T00:00:00Z",
    }
).encode()
OTHER_DAEMON = plistlib.dumps({"Label": "com.example.backup", "Program": "/usr/bin/true"})


@pytest.fixture
def mac(fake_mac: FakeMac) -> FakeMac:
    """A Mac with launchd and PlistBuddy, another vendor's LaunchDaemon, and nothing of
    either watchdog."""
    install_launchd(fake_mac, loaded=("com.example.backup",))
    install_plistbuddy(fake_mac)
    fake_mac.install("/usr/sbin/pkgutil")
    fake_mac.install("/usr/bin/defaults")
    fake_mac.write("/Library/LaunchDaemons/com.example.backup.plist", OTHER_DAEMON)
    return fake_mac


def with_the_original(mac: FakeMac, plist: str = ADDIGY_PLIST, *, loaded: bool = True) -> None:
    mac.write(f"/{plist}", ADDIGY_DAEMON)
    program = mac.write(f"/{COMMAND}", ADDIGY_PROGRAM)
    program.chmod(0o755)
    mac.write(f"/{APP}/state.json", ADDIGY_STATE)
    if loaded:
        install_launchd(mac, loaded=("com.example.backup", ADDIGY))


def addigy_calls(mac: FakeMac) -> list[list[str]]:
    return [c for c in mac.calls("launchctl") if c[1:] == [f"system/{ADDIGY}"]]


class TestWithoutTheOriginal:
    def test_preinstall_changes_nothing_but_stopping_our_daemon(self, mac: FakeMac) -> None:
        before = tree(mac.root)
        done = run_script(PREINSTALL, mac)
        assert done.returncode == 0, done.stderr
        assert (done.stdout, done.stderr) == ("", "")
        assert tree(mac.root) == before
        # the same stop as always; the original is only looked for
        assert mac.calls("launchctl") == [
            ["bootout", f"system/{LABEL}"],
            ["print", f"system/{ADDIGY}"],
        ]
        assert services(mac, "disabled") == set()

    def test_an_upgrade_leaves_our_link_and_state_alone(self, mac: FakeMac) -> None:
        lay_payload(mac.root)
        (mac.root / COMMAND).parent.mkdir(parents=True)
        (mac.root / COMMAND).symlink_to(PROGRAM)
        mac.write(f"/{APP}/state.json", b'{"last_mdm_kickstart": "0001-01-01T00:00:00Z"}')
        before = tree(mac.root)
        done = run_script(PREINSTALL, mac)
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        assert tree(mac.root) == before
        assert addigy_calls(mac) == [["print", f"system/{ADDIGY}"]]


class TestReplacingTheOriginal:
    def test_preinstall_stops_disables_and_sets_it_aside(self, mac: FakeMac) -> None:
        with_the_original(mac)
        done = run_script(PREINSTALL, mac)
        assert done.returncode == 0, done.stderr
        assert addigy_calls(mac) == [
            ["print", f"system/{ADDIGY}"],
            ["bootout", f"system/{ADDIGY}"],
            ["disable", f"system/{ADDIGY}"],
        ]
        assert services(mac, "loaded") == {"com.example.backup"}
        assert services(mac, "disabled") == {ADDIGY}
        aside = mac.root / ASIDE
        assert (aside / "com.example.not-the-real-name.plist").read_bytes() == ADDIGY_DAEMON
        assert (aside / "mdm-watchdog").read_bytes() == ADDIGY_PROGRAM
        assert (aside / "mdm-watchdog").stat().st_mode & 0o777 == 0o755
        assert not (mac.root / ADDIGY_PLIST).exists()
        assert not (mac.root / COMMAND).exists()
        # the state stays where both keep it, so the cooldowns carry over; a copy for going back
        assert (mac.root / APP / "state.json").read_bytes() == ADDIGY_STATE
        assert (aside / "state.json").read_bytes() == ADDIGY_STATE
        # another vendor's daemon is not the original's
        assert (mac.root / "Library/LaunchDaemons/com.example.backup.plist").exists()
        # what was done, in /var/log/install.log
        root = mac.root
        assert done.stdout.splitlines() == [
            "mdm-watchdog preinstall: stopped Addigy's MDM Watchdog: "
            f"launchctl bootout system/{ADDIGY}",
            "mdm-watchdog preinstall: disabled Addigy's MDM Watchdog, so it stays off: "
            f"launchctl disable system/{ADDIGY}",
            f"mdm-watchdog preinstall: moved Addigy's LaunchDaemon {root}/{ADDIGY_PLIST} "
            f"to {root}/{ASIDE}/com.example.not-the-real-name.plist",
            f"mdm-watchdog preinstall: moved Addigy's program {root}/{COMMAND} "
            f"to {root}/{ASIDE}/mdm-watchdog",
            "mdm-watchdog preinstall: kept state.json in place; a copy as Addigy's left it: "
            f"{root}/{ASIDE}/state.json",
        ]

    def test_found_under_the_name_an_uninstaller_knows(self, mac: FakeMac) -> None:
        # source: github.com/erikstam/uninstaller fragments/labels/mdmwatchdog.sh, the one
        # public mention of the original's LaunchDaemon file
        public_name = f"Library/LaunchDaemons/{ADDIGY}.plist"
        with_the_original(mac, public_name, loaded=False)
        done = run_script(PREINSTALL, mac)
        assert done.returncode == 0, done.stderr
        # not loaded now, and disabled so it cannot come back
        assert addigy_calls(mac) == [
            ["print", f"system/{ADDIGY}"],
            ["disable", f"system/{ADDIGY}"],
        ]
        assert (mac.root / ASIDE / f"{ADDIGY}.plist").read_bytes() == ADDIGY_DAEMON
        assert not (mac.root / public_name).exists()

    def test_loaded_without_a_file_is_still_stopped(self, mac: FakeMac) -> None:
        install_launchd(mac, loaded=(ADDIGY,))
        done = run_script(PREINSTALL, mac)
        assert done.returncode == 0, done.stderr
        assert services(mac, "loaded") == {"com.example.backup"}
        assert services(mac, "disabled") == {ADDIGY}
        assert not (mac.root / ASIDE).exists()

    def test_a_script_at_the_commands_path_is_not_the_original(self, mac: FakeMac) -> None:
        # the original is a compiled program; a script there is someone else's (pip's)
        script = mac.write(f"/{COMMAND}", b"#!/usr/local/bin/python3\nimport sys\n")
        assert run_script(PREINSTALL, mac).stdout == ""
        lay_payload(mac.root)
        done = run_script(POSTINSTALL, mac)
        assert done.returncode == 0, done.stderr
        assert script.read_bytes() == b"#!/usr/local/bin/python3\nimport sys\n"
        assert f"left {script} in place" in done.stderr
        assert not (mac.root / ASIDE).exists()

    def test_a_reinstalled_original_never_overwrites_what_was_set_aside(self, mac: FakeMac) -> None:
        with_the_original(mac)
        run_script(PREINSTALL, mac)
        first = tree(mac.root / ASIDE)
        with_the_original(mac)  # its own MDM put it back
        done = run_script(PREINSTALL, mac)
        assert done.returncode == 0, done.stderr
        again = tree(mac.root / ASIDE)
        assert {k: again[k] for k in first} == first
        assert sorted(set(again) - set(first)) == [
            "com.example.not-the-real-name.plist.1",
            "mdm-watchdog.1",
            "state.json.1",
        ]

    def test_the_whole_install_leaves_one_watchdog_with_the_originals_state(
        self, mac: FakeMac
    ) -> None:
        with_the_original(mac)
        assert run_script(PREINSTALL, mac).returncode == 0
        lay_payload(mac.root)
        done = run_script(POSTINSTALL, mac)
        assert done.returncode == 0, done.stderr
        assert services(mac, "loaded") == {"com.example.backup", LABEL}
        assert services(mac, "disabled") == {ADDIGY}
        assert str((mac.root / COMMAND).readlink()) == PROGRAM
        # the program reads the original's state as its own: its last restart counts
        status = run_installed("--system-root", str(mac.root), "status", "--json")
        assert json.loads(status.stdout)["state"] == json.loads(ADDIGY_STATE)

    def test_another_volume_is_migrated_on_disk_only(self, mac: FakeMac) -> None:
        volume = "Volumes/Other"
        with_the_original(mac)  # on the running system: not the target, left alone
        system_before = tree(mac.root)
        mac.write(f"/{volume}/{ADDIGY_PLIST}", ADDIGY_DAEMON)
        mac.write(f"/{volume}/{COMMAND}", ADDIGY_PROGRAM)
        done = run_script(PREINSTALL, mac, target=f"/{volume}")
        assert done.returncode == 0, done.stderr
        assert mac.calls("launchctl") == []
        aside = mac.root / volume / ASIDE
        assert (aside / "com.example.not-the-real-name.plist").read_bytes() == ADDIGY_DAEMON
        assert (aside / "mdm-watchdog").read_bytes() == ADDIGY_PROGRAM
        assert not (mac.root / volume / ADDIGY_PLIST).exists()
        after = tree(mac.root)
        assert {k: v for k, v in after.items() if not k.startswith("Volumes")} == system_before


class TestAnotherVolume:
    def test_postinstall_links_on_the_volume_and_leaves_loading_to_its_start_up(
        self, mac: FakeMac
    ) -> None:
        volume = mac.root / "Volumes" / "Other"
        lay_payload(volume)
        plist = volume / f"Library/LaunchDaemons/{LABEL}.plist"
        plist.chmod(0o664)
        system = {k: v for k, v in tree(mac.root).items() if not k.startswith("Volumes")}
        done = run_script(POSTINSTALL, mac, target="/Volumes/Other")
        assert done.returncode == 0, done.stderr
        # a link valid when that volume is the one started up
        assert str((volume / COMMAND).readlink()) == PROGRAM
        assert plist.stat().st_mode & 0o777 == 0o644
        assert mac.calls("launchctl") == []
        # nothing on the running system
        assert {k: v for k, v in tree(mac.root).items() if not k.startswith("Volumes")} == system
        assert done.stdout == (
            "mdm-watchdog postinstall: installed on /Volumes/Other; "
            "its LaunchDaemon loads when /Volumes/Other starts up\n"
        )

    def test_a_trailing_slash_is_the_same_volume(self, mac: FakeMac) -> None:
        volume = mac.root / "Volumes" / "Other"
        lay_payload(volume)
        assert run_script(POSTINSTALL, mac, target="/Volumes/Other/").returncode == 0
        assert str((volume / COMMAND).readlink()) == PROGRAM


class TestTheCommandLink:
    def test_a_file_that_is_not_a_link_is_left_in_place(self, mac: FakeMac) -> None:
        lay_payload(mac.root)
        someone = mac.write(f"/{COMMAND}", b"#!/bin/sh\n")
        done = run_script(POSTINSTALL, mac)
        assert done.returncode == 0, done.stderr
        assert someone.read_bytes() == b"#!/bin/sh\n" and not someone.is_symlink()
        assert f"left {someone} in place" in done.stderr

    def test_a_link_elsewhere_is_replaced_and_logged(self, mac: FakeMac) -> None:
        lay_payload(mac.root)
        link = mac.root / COMMAND
        link.parent.mkdir(parents=True)
        link.symlink_to("/opt/homebrew/bin/mdm-watchdog")
        done = run_script(POSTINSTALL, mac)
        assert done.returncode == 0, done.stderr
        assert str(link.readlink()) == PROGRAM
        assert done.stdout == (
            f"mdm-watchdog postinstall: replaced the link {link} -> "
            "/opt/homebrew/bin/mdm-watchdog\n"
        )


@pytest.fixture
def installed(mac: FakeMac) -> FakeMac:
    """A Mac where the package replaced the original, then ran for a while."""
    with_the_original(mac)
    assert run_script(PREINSTALL, mac).returncode == 0
    lay_payload(mac.root)
    assert run_script(POSTINSTALL, mac).returncode == 0
    for name in (
        "history.db",
        "history.db-wal",
        "history.db-shm",
        "state.json.corrupt-20261101T0100",
    ):
        mac.write(f"/{APP}/{name}", b"kept data")
    mac.write(f"/{APP}/.lock", b"")
    mac.write("/var/log/mdm-watchdog.log", b"output\n")
    mac.write(LOCAL_PREFERENCES, plistlib.dumps({"DryRun": True}))
    mac.write(MANAGED_PREFERENCES, plistlib.dumps({"DryRun": False}))
    return mac


def ours_left(mac: FakeMac) -> list[str]:
    """What pkg/build.py's payload and postinstall put there that is still there."""
    ours = payload_files() | {COMMAND, f"{APP}/app"}
    return sorted(name for name in tree(mac.root) if name in ours)


class TestUninstall:
    def test_keeps_the_state_history_and_preferences(self, installed: FakeMac) -> None:
        root = installed.root
        done = run_script(root / APP / "uninstall.sh", installed)
        assert done.returncode == 0, done.stderr
        assert ours_left(installed) == []
        assert not (root / APP / ".lock").exists()
        assert not (root / "var/log/mdm-watchdog.log").exists()
        assert sorted(p.name for p in (root / APP).iterdir()) == [
            "history.db",
            "history.db-shm",
            "history.db-wal",
            "state.json",
            "state.json.corrupt-20261101T0100",
        ]
        assert (root / APP / "state.json").read_bytes() == ADDIGY_STATE
        assert (root / LOCAL_PREFERENCES.lstrip("/")).exists()
        assert LABEL not in services(installed, "loaded")
        assert installed.calls("pkgutil") == [["--forget", LABEL]]
        assert installed.calls("defaults") == []
        assert done.stdout.splitlines() == [
            f"mdm-watchdog removed; kept {root}/{APP} (state.json, history); --purge removes them",
            "Addigy's MDM Watchdog, set aside when mdm-watchdog was installed, "
            f"is still in {root}/{ASIDE}",
        ]

    def test_purge_removes_the_state_and_local_preferences_too(self, installed: FakeMac) -> None:
        root = installed.root
        aside = tree(root / ASIDE)
        done = run_script(root / APP / "uninstall.sh", installed, "--purge")
        assert done.returncode == 0, done.stderr
        assert ours_left(installed) == []
        assert not (root / APP).exists()
        assert not (root / LOCAL_PREFERENCES.lstrip("/")).exists()
        assert installed.calls("defaults") == [["delete", LOCAL_PREFERENCES.removesuffix(".plist")]]
        # never the profile's settings, never the original's files
        assert (root / MANAGED_PREFERENCES.lstrip("/")).exists()
        assert tree(root / ASIDE) == aside
        assert done.stdout.splitlines()[0] == (
            "mdm-watchdog removed, with its state and local preferences"
        )

    def test_never_removes_what_it_did_not_install(self, installed: FakeMac) -> None:
        root = installed.root
        others = {
            f"{APP}/notes.txt": b"another tool's file in the shared folder",
            "usr/local/bin/mdm-watchdog-report": b"#!/bin/sh\n",
            "Library/LaunchDaemons/com.example.backup.plist": OTHER_DAEMON,
        }
        for name, data in others.items():
            installed.write(f"/{name}", data)
        done = run_script(root / APP / "uninstall.sh", installed, "--purge")
        assert done.returncode == 0, done.stderr
        assert ours_left(installed) == []
        for name, data in others.items():
            assert (root / name).read_bytes() == data, name
        assert sorted(p.name for p in (root / APP).iterdir()) == ["notes.txt"]

    def test_an_unknown_option_removes_nothing(self, installed: FakeMac) -> None:
        before = tree(installed.root)
        done = run_script(installed.root / APP / "uninstall.sh", installed, "--all")
        assert done.returncode == 2
        assert done.stderr == "usage: uninstall.sh [--purge]\n"
        assert tree(installed.root) == before

    def test_the_repositorys_uninstaller_is_the_installed_one(self, installed: FakeMac) -> None:
        assert (installed.root / APP / "uninstall.sh").read_bytes() == UNINSTALL.read_bytes()


def documented_block(after: str) -> str:
    """The first ```sh block of docs/deployment.md after the words ``after``."""
    text = (REPO / "docs" / "deployment.md").read_text()
    start = text.index("```sh\n", text.index(after)) + len("```sh\n")
    return text[start : text.index("```", start)]


class TestTheDocumentation:
    def test_the_originals_names_are_the_public_ones(self) -> None:
        notes = reference("original_tool.md").read_text()
        assert f'packageID="{ADDIGY}"' in notes
        assert f"Binary: `/{COMMAND}`" in notes
        assert f"`/{APP}/state.json`" in notes
        assert f"addigy={ADDIGY}\n" in PREINSTALL.read_text()

    def test_going_back_to_the_original_as_documented(self, installed: FakeMac) -> None:
        """The documented commands, each path under the fake Mac's root, give the
        original back its files, byte for byte, and launchd its daemon."""
        block = documented_block("**Going back to the original**")
        for real, fake in (
            ("sudo ", ""),
            ('"/Library/', '"$ROOT/Library/'),
            (" /usr/local/bin/", ' "$ROOT"/usr/local/bin/'),
            ("launchctl ", '"$ROOT/bin/launchctl" '),
        ):
            block = block.replace(real, fake)
        done = subprocess.run(
            ["/bin/sh", "-e", "-c", block],
            capture_output=True,
            text=True,
            check=False,
            env={
                "PATH": os.environ["PATH"],
                "ROOT": str(installed.root),
                "MDM_WATCHDOG_ROOT": str(installed.root),
            },
        )
        assert done.returncode == 0, done.stderr
        root = installed.root
        assert (root / ADDIGY_PLIST).read_bytes() == ADDIGY_DAEMON
        assert (root / COMMAND).read_bytes() == ADDIGY_PROGRAM
        assert (root / APP / "state.json").read_bytes() == ADDIGY_STATE
        assert services(installed, "loaded") == {"com.example.backup", ADDIGY}
        assert services(installed, "disabled") == set()
        # nothing of mdm-watchdog's is left: the command is the original's program again
        assert ours_left(installed) == [COMMAND] and not (root / COMMAND).is_symlink()
