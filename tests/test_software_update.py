"""Issue 13: software updates judged by the update itself. Each update state offline (the
pure update_state, the plist readers, `analyze`) and live (`-heal --json` on the
recording fake System, and the installed command on the fake Mac).

The DDM state and SystemVersion.plist fixtures (tests/fixtures/software_update/) use
the documented key names with values of ours (tests/fixtures/SOURCES.md); the
softwareupdated lines are real (tests/fixtures/softwareupdated_lines.txt), placed in time.
"""

from __future__ import annotations

import json
import plistlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.exports import export_of
from tests.support import (
    HISTORY_QUERY,
    KICK_SU,
    REMEDIATION_TOOLS,
    SU_SEQUENCE,
    FakeMac,
    FakeSystem,
    Reply,
    actions,
    heal,
    journal_line,
    reference,
    reference_line,
    remediation,
    run_heal,
)
from tests.test_client_state import (
    AT,
    BACKGROUND,
    HEALTHY,
    PUSHED,
    SCHEDULE_OS_UPDATE,
    Row,
    healed,
    live_mac,
    mdm,
    row,
)
from tests.test_installed_states import fake_live_mac
from watchdog_mdm import patterns
from watchdog_mdm.awake import Power, PowerEvent, PowerSource
from watchdog_mdm.cli import cli
from watchdog_mdm.config import Settings
from watchdog_mdm.entries import LogEntry
from watchdog_mdm.evidence import (
    Collector,
    Command,
    Progress,
    read_update_message,
    update_progress,
)
from watchdog_mdm.heal import SOFTWARE_UPDATE
from watchdog_mdm.software_update import (
    DDM_STATE_PATH,
    SYSTEM_VERSION_PATH,
    Declaration,
    UpdateEvidence,
    UpdateFacts,
    UpdateUnreadable,
    read_ddm_state,
    read_system_version,
    update_state,
    version_key,
)

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
FIXTURES = "software_update"
SETTINGS = Settings()  # StuckRule evidence, UpdateStallMinutes 60, OverdueGraceHours 24

# ------------------------------------------------------------------ the files


def fixture(name: str) -> bytes:
    return reference(f"{FIXTURES}/{name}").read_bytes()


# source: key names and types from ddm_software_update.md of the reference collection
# (Apple's device-management schema, Support App, sudoade.com; `sw_vers` for
# SystemVersion.plist); the values are ours (tests/fixtures/SOURCES.md).
ENFORCED_XML = fixture("ddm_state_enforced.plist")
ENFORCED_BINARY = fixture("ddm_state_enforced.binary.plist")
NO_DECLARATION = fixture("ddm_state_none.plist")
OLD_OS = fixture("SystemVersion-26.0.1.plist")
TARGET_OS = fixture("SystemVersion-26.1.plist")
SUPPLEMENTAL_OS = fixture("SystemVersion-13.3.1-a.plist")


def ddm_state(
    deadline: datetime | None = None, *, version: str = "26.1", binary: bool = False
) -> bytes:
    """The enforced-update fixture with another target and deadline (local, no offset)."""
    document = plistlib.loads(ENFORCED_XML)
    (declaration,) = document["SUCorePersistedStatePolicyFields"]["Declarations"].values()
    declaration["TargetOSVersion"] = version
    if deadline is not None:
        declaration["TargetLocalDateTime"] = deadline.strftime("%Y-%m-%dT%H:%M:%S")
    return plistlib.dumps(document, fmt=plistlib.FMT_BINARY if binary else plistlib.FMT_XML)


def damaged(path: list[str], value: object) -> bytes:
    """The enforced-update fixture with the value at ``path`` replaced."""
    document = plistlib.loads(ENFORCED_XML)
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return plistlib.dumps(document)


DECLARATION = ["SUCorePersistedStatePolicyFields", "Declarations", "com.example.ddm.os-update-26-1"]
NO_PRODUCT_VERSION = plistlib.dumps(
    {k: v for k, v in plistlib.loads(OLD_OS).items() if k != "ProductVersion"}
)
DAMAGED_DDM_STATES = {
    "garbage bytes": b"\x00\x01bplist\xffnot a plist at all",
    "a list at top level": plistlib.dumps([{"TargetOSVersion": "26.1"}]),
    "Declarations not a dict": damaged(DECLARATION[:2], ["26.1"]),
    "TargetOSVersion not a version": damaged([*DECLARATION, "TargetOSVersion"], "Tahoe"),
    "TargetLocalDateTime garbage": damaged([*DECLARATION, "TargetLocalDateTime"], "next Tue"),
    "TargetLocalDateTime a plist date": damaged(
        [*DECLARATION, "TargetLocalDateTime"], datetime(2026, 11, 20, 18, 0)
    ),
    "TargetLocalDateTime a number": damaged([*DECLARATION, "TargetLocalDateTime"], 20261120),
}

# ------------------------------------------------------------------ softwareupdated's lines

SU_IMAGE = SOFTWARE_UPDATE.executable
PROGRESS_LINES = "softwareupdated_lines.txt"
_MESSAGE = re.compile(r"\[com\.apple\.SoftwareUpdateMacController:SU\] (.*)$")


def progress_message(*needles: str) -> str:
    """A real progress message of softwareupdated (super's example logs)."""
    line = reference_line(PROGRESS_LINES, "[SUMacControllerProgressManager]", *needles)
    match = _MESSAGE.search(line)
    assert match is not None, line
    return match[1]


# real lines; in DOWNLOADING, only the portion changes so that it advances
DOWNLOADING = progress_message("(inter): phase:DOWNLOADING_UPDATE", "0.302391")
ACCEPTED = progress_message("(start): phase:ACCEPTED")
STASH = progress_message("(start): phase:PREPARED_COMMITTING_STASH")
APPLYING = progress_message("(start): phase:APPLYING")


def su(message: str) -> tuple[str, str, str, str, str]:
    return ("softwareupdated", SU_IMAGE, "com.apple.SoftwareUpdateMacController", "SU", message)


def downloading(portion: float) -> str:
    return DOWNLOADING.replace("portionComplete:0.302391", f"portionComplete:{portion:.6f}")


def download_for_hours(last: timedelta, hours: float = 3) -> list[Row]:
    """Advancing DOWNLOADING_UPDATE progress every 5 minutes for ``hours``, the newest
    ``last`` before AT."""
    steps = int(hours * 12)
    return [
        row(last + (steps - n) * 5 * MINUTE, su(downloading(0.05 + 0.9 * n / steps)))
        for n in range(steps + 1)
    ]


ADVANCING = download_for_hours(2 * MINUTE)
STALLED = download_for_hours(2 * HOUR)
LOOP = [
    row(ago, su(message))
    for cycle in range(3)
    for ago, message in (
        (5 * HOUR - cycle * 90 * MINUTE, ACCEPTED),
        (5 * HOUR - cycle * 90 * MINUTE - 2 * MINUTE, STASH),
    )
]


def last_command(name: str) -> list[Row]:
    """A wedged client (an unanswered push) whose last command was ``name``, 3.5 h ago."""
    message = SCHEDULE_OS_UPDATE.replace("ScheduleOSUpdate", name)
    return [row(3 * HOUR + 30 * MINUTE, mdm(message)), *PUSHED]


SCHEDULED = last_command("ScheduleOSUpdate")


def progress_of(rows: list[Row]) -> list[Progress]:
    """The progress that rows of `su` lines make, as the collector keeps it."""
    out = []
    for when, record, _ in rows:
        match = re.search(
            r"\((\w+)\): phase:(\w+) stalled:\w+ portionComplete:([0-9.]+)", record[4]
        )
        assert match is not None
        out.append(Progress(when, match[2], match[1], float(match[3])))
    return out


# ------------------------------------------------------------------ offline: the readers


# Edits a progress line may carry: other portions, damage, a scan's wording, text after.
_PROGRESS_EDITS = st.sampled_from(
    [
        ("portionComplete:0.302391", "portionComplete:1.2.3"),
        ("portionComplete:0.302391", "portionComplete:"),
        ("portionComplete:0.302391 ", ""),
        (" stalled:NO", ""),
        ("phase:DOWNLOADING_UPDATE", "phase:downloading"),
        ("(inter): ", "(inter) "),
        ("Reported progress", "Scan reported progress"),
        ("[SUMacControllerProgressManager] ", ""),
        ("estimatedTimeRemaining", "scheduleEnforcedManagedUpdateWithVersion"),
        ("-1.000000", "-1 Reported progress (end): phase:APPLYING portionComplete:0.5"),
        ("[SUMac", "-[SUOSUManagedServiceDaemon declarationFromKeys]: [SUMac"),
    ]
)


@given(edits=st.lists(_PROGRESS_EDITS, max_size=4))
def test_a_progress_line_reads_as_the_general_reading_of_any_softwareupdated_line(
    edits: list[tuple[str, str]],
) -> None:
    """Progress lines are read by one match where they start (they are a quarter of the
    lines during an update); whatever the line, it adds up to what the general reading
    of a softwareupdated line says of it."""
    message = DOWNLOADING
    for old, new in edits:
        message = message.replace(old, new)
    entry = LogEntry(AT, "softwareupdated", message, image_path=SU_IMAGE, user_id=0)
    obs = Collector().add_all([entry]).observations()
    progress, enforcement = read_update_message(message)
    declaration = patterns.DDM_DECLARATION_LINE.match(message) is not None
    assert obs.relevant_entries == progress + enforcement + declaration
    assert (obs.last_update_progress is not None) == progress
    assert (obs.last_ddm_enforcement is not None) == enforcement
    assert (obs.last_ddm_declaration is not None) == declaration
    update = update_progress(message)
    assert obs.update_progress == (() if update is None else (Progress(AT, *update),))


class TestReadingTheFiles:
    @pytest.mark.parametrize("data", [ENFORCED_XML, ENFORCED_BINARY], ids=["xml", "binary"])
    def test_the_declaration_in_either_form(self, data: bytes) -> None:
        assert read_ddm_state(data, UTC) == Declaration(
            "26.1", "25B78", datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
        )

    def test_the_deadline_is_in_the_macs_local_time(self) -> None:
        paris = timezone(timedelta(hours=1))
        declaration = read_ddm_state(ENFORCED_BINARY, paris)
        assert declaration is not None and declaration.deadline is not None
        assert declaration.deadline == datetime(2026, 11, 20, 17, 0, tzinfo=UTC)

    def test_a_deadline_with_an_offset_keeps_it(self) -> None:
        # the schema says no offset; one that is there anyway is not the Mac's zone
        data = damaged([*DECLARATION, "TargetLocalDateTime"], "2026-11-20T18:00:00+02:00")
        declaration = read_ddm_state(data, UTC)
        assert declaration is not None
        assert declaration.deadline == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)

    def test_no_file_or_no_declaration_is_none(self) -> None:
        assert read_ddm_state(None, UTC) is None
        assert read_ddm_state(NO_DECLARATION, UTC) is None

    def test_the_running_version(self) -> None:
        assert read_system_version(OLD_OS) == "26.0.1"
        assert read_system_version(TARGET_OS) == "26.1"
        assert read_system_version(SUPPLEMENTAL_OS) == "13.3.1 (a)"
        assert read_system_version(None) is None

    @pytest.mark.parametrize("data", DAMAGED_DDM_STATES.values(), ids=DAMAGED_DDM_STATES.keys())
    def test_a_damaged_ddm_state_is_unreadable(self, data: bytes) -> None:
        with pytest.raises(UpdateUnreadable):
            read_ddm_state(data, UTC)

    def test_a_system_version_without_product_version_is_unreadable(self) -> None:
        with pytest.raises(UpdateUnreadable):
            read_system_version(NO_PRODUCT_VERSION)
        with pytest.raises(UpdateUnreadable):
            read_system_version(plistlib.dumps({"ProductVersion": "Tahoe"}))
        with pytest.raises(UpdateUnreadable):
            read_system_version(b"garbage")


class TestVersions:
    def test_numerically_part_by_part(self) -> None:
        assert version_key("26.1") < version_key("26.1.1") < version_key("26.10")  # type: ignore[operator]
        assert version_key("26.9") < version_key("26.10")  # type: ignore[operator]
        assert version_key("26.1.0") == version_key("26.1")

    def test_a_supplemental_letter_is_past_its_version(self) -> None:
        assert version_key("13.3.1") < version_key("13.3.1 (a)") < version_key("13.3.1 (b)")  # type: ignore[operator]
        assert version_key("13.3.1 (a)") < version_key("13.4")  # type: ignore[operator]

    def test_what_is_no_version(self) -> None:
        assert version_key("Tahoe") is None
        assert version_key("26.1 beta") is None
        assert version_key("") is None

    @given(st.lists(st.integers(0, 40), min_size=1, max_size=4), st.integers(1, 40))
    def test_a_bigger_part_is_a_later_version(self, parts: list[int], bump: int) -> None:
        text = ".".join(map(str, parts))
        later = ".".join(map(str, [*parts[:-1], parts[-1] + bump]))
        longer = f"{text}.{bump}"
        assert version_key(text) < version_key(later)  # type: ignore[operator]
        assert version_key(text) < version_key(longer)  # type: ignore[operator]
        assert version_key(f"{text} (a)") > version_key(text)  # type: ignore[operator]

    @given(st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=3), min_size=2))
    def test_order_is_the_numeric_order(self, versions: list[list[int]]) -> None:
        def trimmed(parts: list[int]) -> tuple[int, ...]:
            out = tuple(parts)
            while len(out) > 1 and out[-1] == 0:
                out = out[:-1]
            return out

        texts = [".".join(map(str, v)) for v in versions]
        by_key = sorted(texts, key=lambda t: version_key(t) or ((), ""))
        assert [trimmed([int(p) for p in t.split(".")]) for t in by_key] == sorted(
            trimmed(v) for v in versions
        )


# ------------------------------------------------------------------ offline: the pure state


def judged(
    *,
    declared: bytes | None = None,
    running: bytes | None = OLD_OS,
    progress: list[Row] | None = None,
    command: Command | None = None,
    client_stuck: bool | None = False,
    at: datetime = AT,
) -> Any:
    facts = UpdateFacts(read_ddm_state(declared, UTC), read_system_version(running))
    evidence = UpdateEvidence(
        facts,
        progress_of(progress or []),
        command,
        client_stuck,
        Power(PowerSource.SYSCTL, boot=AT - 5 * DAY),  # awake since a boot 5 days ago
    )
    return update_state(evidence, at, SETTINGS)


class TestPureState:
    def test_no_declaration(self) -> None:
        finding = judged(declared=NO_DECLARATION)
        assert (finding.channel, finding.state, finding.stuck) == ("none", "none", False)

    def test_pending_before_its_deadline(self) -> None:
        finding = judged(declared=ddm_state(AT + 3 * DAY))
        assert (finding.channel, finding.state, finding.stuck) == ("ddm", "pending", False)
        assert (finding.target_version, finding.target_build) == ("26.1", "25B78")
        assert finding.running_version == "26.0.1"

    def test_overdue_by_two_days_on_the_old_version(self) -> None:
        finding = judged(declared=ddm_state(AT - 2 * DAY, binary=True))
        assert (finding.state, finding.stuck) == ("overdue", True)
        assert "26.0.1" in finding.reason

    def test_within_the_grace_it_is_still_pending(self) -> None:
        assert judged(declared=ddm_state(AT - 23 * HOUR)).state == "pending"

    @pytest.mark.parametrize(
        ("target", "running"),
        [("26.1", TARGET_OS), ("26.0.1", OLD_OS), ("13.3.1", SUPPLEMENTAL_OS), ("26.0", OLD_OS)],
    )
    def test_done_when_running_the_target_or_later(self, target: str, running: bytes) -> None:
        finding = judged(declared=ddm_state(AT - 9 * DAY, version=target), running=running)
        assert (finding.state, finding.stuck) == ("done", False)

    def test_the_supplemental_target_is_not_done_by_its_base_version(self) -> None:
        finding = judged(declared=ddm_state(AT - 3 * DAY, version="26.0.1 (a)"), running=OLD_OS)
        assert finding.state == "overdue"

    def test_numeric_not_textual(self) -> None:
        ten = judged(declared=ddm_state(AT - 3 * DAY, version="26.0.10"), running=OLD_OS)
        assert ten.state == "overdue"  # 26.0.1 < 26.0.10, though "26.0.1" sorts first
        nine = plistlib.dumps({"ProductVersion": "26.9"})
        assert judged(declared=ddm_state(AT - 3 * DAY, version="26.10"), running=nine).stuck

    def test_an_advancing_download_for_hours(self) -> None:
        finding = judged(declared=ddm_state(AT - 3 * DAY), progress=ADVANCING)
        assert (finding.state, finding.stuck, finding.active) == ("downloading", False, True)
        assert finding.phase == "DOWNLOADING_UPDATE"
        assert finding.last_progress_at == AT - 2 * MINUTE

    def test_stalled_two_hours_in_downloading(self) -> None:
        finding = judged(declared=ddm_state(AT + 3 * DAY), progress=STALLED)
        assert (finding.state, finding.stuck, finding.active) == ("stalled", True, False)

    def test_the_accepted_stash_loop(self) -> None:
        finding = judged(declared=ddm_state(AT + 3 * DAY), progress=LOOP)
        assert (finding.state, finding.stuck) == ("looping", True)

    def test_twice_round_the_loop_is_not_yet_a_loop(self) -> None:
        finding = judged(declared=ddm_state(AT + 3 * DAY), progress=LOOP[2:])
        assert finding.state != "looping"

    def test_an_unreadable_file_is_unknown(self) -> None:
        evidence = UpdateEvidence(UpdateFacts(problem="damaged"), progress_of(STALLED), None, True)
        finding = update_state(evidence, AT, SETTINGS)
        assert (finding.state, finding.stuck) == ("unknown", False)

    def test_a_scheduled_update_with_a_wedged_client(self) -> None:
        command = Command(AT - 3 * HOUR, "ScheduleOSUpdate", "Acknowledged", "")
        finding = judged(running=None, command=command, client_stuck=True)
        assert (finding.channel, finding.state, finding.stuck) == ("mdm", "stalled", True)
        assert judged(running=None, command=command, client_stuck=False).state == "none"

    @pytest.mark.parametrize("name", ["AvailableOSUpdates", "OSUpdateStatus"])
    def test_routine_inventory_never_makes_it_stuck(self, name: str) -> None:
        command = Command(AT - 3 * HOUR, name, "Acknowledged", "")
        finding = judged(running=None, command=command, client_stuck=True)
        assert (finding.channel, finding.state, finding.stuck) == ("none", "none", False)


class TestReviewFixes:
    """The review findings of the pure state: sleep and restarts, recent `end` edges,
    done first, the original's case, supplemental builds, huge versions, loops in the
    history, and the silence after PREPARED_COMMITTING_STASH."""

    EVENING = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    MORNING = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # woke 07:55

    @staticmethod
    def state(
        facts: UpdateFacts,
        progress: list[Progress],
        *,
        command: Command | None = None,
        client_stuck: bool | None = False,
        power: Power | None = None,
        at: datetime = AT,
    ) -> Any:
        evidence = (
            UpdateEvidence(facts, progress, command, client_stuck)
            if power is None  # nothing known of sleep: every span counted as awake
            else UpdateEvidence(facts, progress, command, client_stuck, power)
        )
        return update_state(evidence, at, SETTINGS)

    @staticmethod
    def facts(deadline: datetime, *, running: bytes = OLD_OS, version: str = "26.1") -> UpdateFacts:
        return UpdateFacts(
            read_ddm_state(ddm_state(deadline, version=version), UTC), read_system_version(running)
        )

    # 1. a download paused by sleep
    def overnight(self) -> list[Progress]:
        return [
            Progress(self.EVENING - 10 * MINUTE, "DOWNLOADING_UPDATE", "inter", 0.2),
            Progress(self.EVENING, "DOWNLOADING_UPDATE", "inter", 0.3),  # 14 h before
        ]

    def test_a_download_paused_by_sleep_is_not_stalled_sysctl(self) -> None:
        at = self.MORNING
        power = Power(PowerSource.SYSCTL, boot=at - 5 * DAY, last_wake=at - 5 * MINUTE)
        finding = self.state(self.facts(at + 3 * DAY), self.overnight(), power=power, at=at)
        assert (finding.state, finding.stuck) == ("pending", False)

    def test_a_download_paused_by_sleep_is_not_stalled_log(self) -> None:
        at = self.MORNING
        events = (
            PowerEvent(self.EVENING + MINUTE, asleep=True),
            PowerEvent(at - 5 * MINUTE, asleep=False),
        )
        power = Power(PowerSource.LOG, events=events)
        finding = self.state(self.facts(at + 3 * DAY), self.overnight(), power=power, at=at)
        assert (finding.state, finding.stuck) == ("pending", False)

    def test_the_same_download_awake_all_night_is_stalled(self) -> None:
        at = self.MORNING
        power = Power(PowerSource.SYSCTL, boot=at - 5 * DAY)
        finding = self.state(self.facts(at + 3 * DAY), self.overnight(), power=power, at=at)
        assert (finding.state, finding.stuck) == ("stalled", True)

    # 2. any recent progress is under way, an `end` edge too
    def test_a_recent_end_is_an_update_under_way(self) -> None:
        progress = [
            Progress(AT - 2 * MINUTE, "PREPARED", "end", 0.999),
            Progress(AT - MINUTE, "COMPLETED", "end", 1.0),
        ]
        finding = self.state(self.facts(AT - 2 * DAY), progress)
        assert (finding.state, finding.active, finding.stuck) == ("preparing", True, False)

    def test_a_download_that_ended_seconds_ago_is_under_way(self) -> None:
        progress = [Progress(AT - timedelta(seconds=5), "DOWNLOADED_UPDATE", "end", 0.549)]
        finding = self.state(self.facts(AT - 2 * DAY), progress)
        assert (finding.state, finding.active, finding.stuck) == ("downloading", True, False)

    # 3. the original's case, only with no progress since its command
    SCHEDULE = Command(AT - 3 * HOUR, "ScheduleOSUpdate", "Acknowledged", "")

    def test_progress_after_the_schedule_is_no_stall(self) -> None:
        progress = [
            Progress(AT - 2 * HOUR - 5 * MINUTE, "ACCEPTED", "start", 0.0),
            Progress(AT - 2 * HOUR, "APPLYING", "start", 0.999),
        ]
        facts = UpdateFacts()
        finding = self.state(facts, progress, command=self.SCHEDULE, client_stuck=True)
        assert (finding.channel, finding.state, finding.stuck) == ("mdm", "none", False)

    def test_progress_only_before_the_schedule_is_the_originals_stall(self) -> None:
        progress = [
            Progress(AT - 5 * HOUR - 5 * MINUTE, "ACCEPTED", "start", 0.0),
            Progress(AT - 5 * HOUR, "APPLYING", "start", 0.999),
        ]
        finding = self.state(UpdateFacts(), progress, command=self.SCHEDULE, client_stuck=True)
        assert (finding.channel, finding.state, finding.stuck) == ("mdm", "stalled", True)

    # 4. done beats looping and stalled
    def test_done_beats_looping(self) -> None:
        facts = self.facts(AT - 5 * DAY, running=TARGET_OS)
        finding = self.state(facts, progress_of(LOOP))
        assert (finding.state, finding.stuck) == ("done", False)

    def test_done_beats_a_stale_download(self) -> None:
        facts = self.facts(AT - 5 * DAY, running=TARGET_OS)
        finding = self.state(facts, progress_of(STALLED))
        assert (finding.state, finding.stuck) == ("done", False)

    # 5. a supplemental (Rapid Security Response) target
    @staticmethod
    def supplemental(deadline: datetime, version: str, build: str) -> UpdateFacts:
        declared = Declaration("13.3.1", "22E772610a", deadline)
        return UpdateFacts(declared, running_version=version, running_build=build)

    def test_a_supplemental_target_is_not_reached_by_its_base_build(self) -> None:
        before = self.supplemental(AT + 3 * DAY, "13.3.1", "22E252")
        assert self.state(before, []).state == "pending"
        after = self.supplemental(AT - 3 * DAY, "13.3.1", "22E252")
        assert (self.state(after, []).state, self.state(after, []).stuck) == ("overdue", True)

    def test_a_supplemental_target_reached(self) -> None:
        facts = self.supplemental(AT - 3 * DAY, "13.3.1 (a)", "22E772610a")
        assert (self.state(facts, []).state, self.state(facts, []).stuck) == ("done", False)

    # 6. versions of thousands of digits are no versions
    HUGE = ("9" * 5000, "26." + "1" * 5000, "1" + ".1" * 2500)

    @pytest.mark.parametrize("text", HUGE, ids=["5000 digits", "a part of 5000", "2501 parts"])
    def test_a_huge_version_is_no_version(self, text: str) -> None:
        assert version_key(text) is None
        with pytest.raises(UpdateUnreadable):
            read_ddm_state(damaged([*DECLARATION, "TargetOSVersion"], text), UTC)
        with pytest.raises(UpdateUnreadable):
            read_system_version(plistlib.dumps({"ProductVersion": text}))

    # 7. loops counted within the history
    @staticmethod
    def cycles(*hours_ago: float) -> list[Progress]:
        out = []
        for hours in hours_ago:
            start = AT - hours * HOUR
            out.append(Progress(start, "ACCEPTED", "start", 0.0))
            out.append(Progress(start + 2 * MINUTE, "PREPARED_COMMITTING_STASH", "start", 0.01))
        return out

    def test_loops_over_two_days_are_not_looping(self) -> None:
        finding = self.state(self.facts(AT + 3 * DAY), self.cycles(40, 30, 5))
        assert (finding.state, finding.stuck) == ("pending", False)

    def test_loops_within_the_day_are_looping(self) -> None:
        finding = self.state(self.facts(AT + 3 * DAY), self.cycles(20, 10, 5))
        assert (finding.state, finding.stuck) == ("looping", True)

    # 8. silence after PREPARED_COMMITTING_STASH: the Mac restarts into the update
    @pytest.mark.parametrize(("edge", "portion"), [("start", 0.01), ("inter", 0.5045)])
    def test_silence_after_the_stash_is_no_stall(self, edge: str, portion: float) -> None:
        progress = [
            Progress(AT - 5 * HOUR - 2 * MINUTE, "ACCEPTED", "start", 0.0),
            Progress(AT - 5 * HOUR, "PREPARED_COMMITTING_STASH", edge, portion),
        ]
        finding = self.state(self.facts(AT + 3 * DAY), progress)
        assert (finding.state, finding.stuck) == ("pending", False)


# ------------------------------------------------------------------ offline: analyze


def analyzed(tmp_path: Path, rows: list[Row], at: datetime = AT) -> dict[str, Any]:
    path = tmp_path / "export.ndjson"
    path.write_bytes(export_of("ndjson", [*BACKGROUND, *rows]))
    result = CliRunner().invoke(
        cli, ["analyze", str(path), "--at", at.isoformat(), "--json"], obj=FakeSystem(clock=at)
    )
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def update_of(document: dict[str, Any]) -> tuple[str, bool | None]:
    return document["software_update"]["state"], document["MDMSoftwareUpdatesStuck"]


class TestAnalyze:
    DEMO = "docs/samples/super-12.3-to-13.3.1-jamf"

    def demo(self, at: str, *args: str) -> Any:
        return CliRunner().invoke(
            cli, ["analyze", self.DEMO, "--at", at, *args], obj=FakeSystem(clock=AT)
        )

    def test_the_readme_demo_is_not_stuck(self) -> None:
        result = self.demo("2023-05-04T08:00", "--json")
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        assert document["MDMSoftwareUpdatesStuck"] is False
        update = document["software_update"]
        assert (update["state"], update["channel"], update["phase"]) == ("none", "mdm", "APPLYING")

    def test_the_readme_demo_while_it_installs(self) -> None:
        result = self.demo("2023-05-04T05:40", "--json")
        document = json.loads(result.output)
        assert update_of(document) == ("installing", False)

    def test_the_explain_line(self) -> None:
        result = self.demo("2023-05-04T05:40", "--explain")
        assert "Software update: installing (mdm): softwareupdated reported progress" in (
            result.output
        )

    def test_an_advancing_download_after_schedule(self, tmp_path: Path) -> None:
        document = analyzed(tmp_path, [*SCHEDULED, *ADVANCING])
        assert update_of(document) == ("downloading", False)
        assert document["software_update"]["last_progress_at"] == (AT - 2 * MINUTE).isoformat()

    def test_stalled_in_downloading(self, tmp_path: Path) -> None:
        assert update_of(analyzed(tmp_path, [*HEALTHY, *STALLED])) == ("stalled", True)

    def test_the_loop(self, tmp_path: Path) -> None:
        assert update_of(analyzed(tmp_path, [*HEALTHY, *LOOP])) == ("looping", True)

    def test_schedule_with_a_wedged_client_as_the_original(self, tmp_path: Path) -> None:
        document = analyzed(tmp_path, SCHEDULED)
        assert document["MDMClientStuck"] is True
        assert update_of(document) == ("stalled", True)

    @pytest.mark.parametrize("name", ["AvailableOSUpdates", "OSUpdateStatus"])
    def test_routine_inventory_with_a_wedged_client(self, tmp_path: Path, name: str) -> None:
        document = analyzed(tmp_path, last_command(name))
        assert document["MDMClientStuck"] is True
        assert update_of(document) == ("none", False)


# ------------------------------------------------------------------ live: the fake System


def live(
    rows: list[Row],
    *,
    declared: bytes | None = None,
    running: bytes | None = OLD_OS,
    rule: str = "evidence",
    log: list[bytes] | None = None,
) -> FakeSystem:
    system = live_mac(rows, rule=rule)
    if log is not None:
        system.replies["/usr/bin/log"] = [Reply(x) for x in log]
    if declared is not None:
        system.files[DDM_STATE_PATH] = declared
    if running is not None:
        system.files[SYSTEM_VERSION_PATH] = running
    return system


def ndjson(rows: list[Row]) -> bytes:
    return export_of("ndjson", [*BACKGROUND, *rows])


def windowed(rows: list[Row]) -> tuple[bytes, bytes]:
    """What `log show` prints for the window (the last 90 minutes) and for the history
    query (the whole day): the fake System answers each in turn, whatever it asks."""
    recent = [r for r in rows if r[0] >= AT - 90 * MINUTE]
    return ndjson(recent), ndjson(rows)


def su_decision(document: dict[str, Any]) -> dict[str, Any]:
    (daemon,) = [d for d in document["heal"]["daemons"] if d["daemon"] == SOFTWARE_UPDATE.name]
    result: dict[str, Any] = daemon
    return result


def restarted_software_update(system: FakeSystem) -> bool:
    return KICK_SU in actions(system)


class TestLive:
    def test_no_declaration(self) -> None:
        system = live(HEALTHY, declared=NO_DECLARATION)
        document = healed(system)
        assert document["software_update"]["channel"] == "none"
        assert update_of(document) == ("none", False)
        assert actions(system) == []

    def test_no_file_at_all(self) -> None:
        document = healed(system := live(HEALTHY))
        assert update_of(document) == ("none", False)
        assert actions(system) == []

    def test_pending_before_its_deadline(self) -> None:
        system = live(HEALTHY, declared=ddm_state(AT + 3 * DAY))
        document = healed(system)
        update = document["software_update"]
        assert update_of(document) == ("pending", False)
        assert update["deadline"] == (AT + 3 * DAY).isoformat()
        assert (update["target_version"], update["target_build"]) == ("26.1", "25B78")
        assert actions(system) == []

    def test_overdue_by_two_days_runs_the_software_update_sequence(self) -> None:
        system = live(HEALTHY, declared=ddm_state(AT - 2 * DAY, binary=True))
        document = healed(system)
        assert update_of(document) == ("overdue", True)
        assert document["software_update"]["running_version"] == "26.0.1"
        assert actions(system) == SU_SEQUENCE
        assert su_decision(document)["decision"] == "restart"

    def test_the_line_says_it(self) -> None:
        system = live(HEALTHY, declared=ddm_state(AT - 2 * DAY))
        result = heal(system)
        assert "MDMSoftwareUpdatesStuck: true" in result.output

    @pytest.mark.parametrize(
        ("target", "running"),
        [("26.1", TARGET_OS), ("13.3.1", SUPPLEMENTAL_OS), ("13.3.1 (a)", SUPPLEMENTAL_OS)],
    )
    def test_done(self, target: str, running: bytes) -> None:
        system = live(HEALTHY, declared=ddm_state(AT - 5 * DAY, version=target), running=running)
        document = healed(system)
        assert update_of(document) == ("done", False)
        assert actions(system) == []

    def test_an_advancing_download_is_never_interrupted(self) -> None:
        system = live([*HEALTHY, *ADVANCING], declared=ddm_state(AT - 2 * DAY))
        document = healed(system)
        assert update_of(document) == ("downloading", False)
        assert not restarted_software_update(system)

    def test_not_even_by_the_originals_rule_with_a_stuck_client(self) -> None:
        system = live([*SCHEDULED, *ADVANCING], rule="quiet")
        document = healed(system)
        assert document["MDMClientStuck"] is True
        assert document["software_update"]["state"] == "downloading"
        assert document["MDMSoftwareUpdatesStuck"] is True  # the original's verdict, kept
        daemon = su_decision(document)
        assert daemon["decision"] == "update under way"
        assert daemon["reason"].startswith("an update is under way")  # never even planned
        assert daemon["planned_commands"] == []
        assert not restarted_software_update(system)

    def test_a_dry_run_would_not_interrupt_it_either(self) -> None:
        system = live([*SCHEDULED, *ADVANCING], rule="quiet")
        result = heal(system, "--dry-run", "--json")
        assert result.exit_code == 0, result.output
        assert su_decision(json.loads(result.output))["decision"] == "update under way"
        assert actions(system) == []

    def test_stalled_two_hours_restarts_softwareupdated(self) -> None:
        window, history = windowed([*HEALTHY, *STALLED])
        system = live([], declared=ddm_state(AT + 3 * DAY), log=[window, history])
        document = healed(system)
        assert update_of(document) == ("stalled", True)
        assert actions(system) == SU_SEQUENCE
        # the stall is older than the window: the day's history was asked for it
        queries = system.calls_to("/usr/bin/log")
        assert queries[1][1:] == HISTORY_QUERY

    def test_the_loop_restarts_softwareupdated(self) -> None:
        system = live([*HEALTHY, *LOOP], declared=ddm_state(AT + 3 * DAY))
        document = healed(system)
        assert update_of(document) == ("looping", True)
        assert actions(system) == SU_SEQUENCE

    def test_an_install_that_starts_before_the_restart_cancels_it(self) -> None:
        window, history = windowed([*HEALTHY, *STALLED])
        started = windowed([*HEALTHY, *STALLED, row(MINUTE, su(APPLYING))])[0]
        system = live([], declared=ddm_state(AT + 3 * DAY), log=[window, history, started])
        document = healed(system)
        daemon = su_decision(document)
        assert daemon["decision"] == "update under way"
        assert "restart cancelled" in daemon["reason"]
        assert daemon["restarted"] is False
        assert not restarted_software_update(system)
        assert actions(system) == []
        # it was read again just before acting
        assert len(system.calls_to("/usr/bin/log")) >= 3

    @pytest.mark.parametrize("declared", DAMAGED_DDM_STATES.values(), ids=DAMAGED_DDM_STATES.keys())
    def test_a_damaged_ddm_state_is_unknown_and_restarts_nothing(self, declared: bytes) -> None:
        system = live([*HEALTHY, *STALLED], declared=declared)
        document = healed(system)
        assert update_of(document) == ("unknown", None)
        assert not restarted_software_update(system)

    def test_a_system_version_without_product_version(self) -> None:
        system = live(
            [*HEALTHY, *STALLED], declared=ddm_state(AT - 2 * DAY), running=NO_PRODUCT_VERSION
        )
        result = heal(system)
        assert result.exit_code == 0, result.output
        assert "MDMSoftwareUpdatesStuck: unknown" in result.output
        assert not restarted_software_update(system)

    def test_the_schedule_and_a_wedged_client_as_the_original(self) -> None:
        system = live(SCHEDULED, running=None)
        document = healed(system)
        assert document["MDMClientStuck"] is True
        assert update_of(document) == ("stalled", True)
        assert document["software_update"]["channel"] == "mdm"
        assert restarted_software_update(system)

    @pytest.mark.parametrize("name", ["AvailableOSUpdates", "OSUpdateStatus"])
    def test_routine_inventory_and_a_wedged_client(self, name: str) -> None:
        system = live(last_command(name), running=None)
        document = healed(system)
        assert document["MDMClientStuck"] is True
        assert update_of(document) == ("none", False)
        assert not restarted_software_update(system)


class TestLiveReviewFixes:
    PREPARED_END = progress_message("(end): phase:PREPARED stalled")
    COMPLETED_END = progress_message("(end): phase:COMPLETED")
    DOWNLOADED_END = progress_message("(end): phase:DOWNLOADED_UPDATE")

    def test_a_recent_end_is_never_interrupted(self) -> None:
        ends = [row(2 * MINUTE, su(self.PREPARED_END)), row(MINUTE, su(self.COMPLETED_END))]
        system = live([*HEALTHY, *ends], declared=ddm_state(AT - 2 * DAY))
        document = healed(system)
        assert update_of(document) == ("preparing", False)
        assert document["software_update"]["phase"] == "COMPLETED"
        assert not restarted_software_update(system)

    def test_a_download_that_ended_seconds_ago_is_never_interrupted(self) -> None:
        end = row(timedelta(seconds=5), su(self.DOWNLOADED_END))
        system = live([*HEALTHY, end], declared=ddm_state(AT - 2 * DAY))
        document = healed(system)
        assert update_of(document) == ("downloading", False)
        assert not restarted_software_update(system)

    def test_a_download_paused_by_sleep_is_not_restarted(self) -> None:
        # the last progress 14 h ago, then asleep until 5 minutes ago
        window, history = windowed([*HEALTHY, *download_for_hours(14 * HOUR)])
        system = live_mac([], wake=AT - 5 * MINUTE)
        system.replies["/usr/bin/log"] = [Reply(window), Reply(history)]
        system.files[DDM_STATE_PATH] = ddm_state(AT + 3 * DAY)
        system.files[SYSTEM_VERSION_PATH] = OLD_OS
        document = healed(system)
        assert update_of(document) == ("pending", False)
        assert not restarted_software_update(system)

    def test_a_huge_target_version_is_unknown(self) -> None:
        declared = damaged([*DECLARATION, "TargetOSVersion"], "9" * 5000)
        document = healed(system := live([*HEALTHY, *STALLED], declared=declared))
        assert update_of(document) == ("unknown", None)
        assert not restarted_software_update(system)

    def test_a_huge_running_version_is_unknown(self) -> None:
        running = plistlib.dumps({"ProductVersion": "9" * 5000})
        system = live([*HEALTHY, *STALLED], declared=ddm_state(AT - 2 * DAY), running=running)
        result = heal(system)
        assert result.exit_code == 0, result.output
        assert "MDMSoftwareUpdatesStuck: unknown" in result.output
        assert not restarted_software_update(system)


class TestAnalyzeReviewFixes:
    def test_progress_after_the_schedule_is_not_the_originals_stall(self, tmp_path: Path) -> None:
        after = [row(2 * HOUR + 5 * MINUTE, su(ACCEPTED)), row(2 * HOUR, su(APPLYING))]
        document = analyzed(tmp_path, [*SCHEDULED, *after])
        assert document["MDMClientStuck"] is True
        assert update_of(document) == ("none", False)

    def test_progress_before_the_schedule_is_the_originals_stall(self, tmp_path: Path) -> None:
        before = [row(5 * HOUR + 5 * MINUTE, su(ACCEPTED)), row(5 * HOUR, su(APPLYING))]
        document = analyzed(tmp_path, [*before, *SCHEDULED])
        assert document["MDMClientStuck"] is True
        assert update_of(document) == ("stalled", True)


# ------------------------------------------------------------------ installed: the fake Mac


def installed_mac(
    mac: FakeMac, rows: list[tuple[timedelta, tuple[str, str, str, str, str]]]
) -> datetime:
    now = fake_live_mac(mac, rows)
    for tool in REMEDIATION_TOOLS[1:]:
        mac.install(tool)
    return now


def installed_heal(mac: FakeMac) -> dict[str, Any]:
    done = run_heal(mac, "--json")
    assert done.returncode == 0, done.stderr
    start = done.stdout.index("{")
    document: dict[str, Any] = json.JSONDecoder().raw_decode(done.stdout[start:])[0]
    return document


def restarts(mac: FakeMac) -> list[str]:
    """What was run on the fake Mac besides reading the evidence (log, profiles, sysctl,
    route)."""
    return [x for x in remediation(mac) if not x.startswith(("sysctl ", "route "))]


HEALTHY_AGO = [(40 * MINUTE, HEALTHY[0][1]), (40 * MINUTE - timedelta(seconds=1), HEALTHY[1][1])]


def test_installed_overdue_runs_the_software_update_sequence(fake_mac: FakeMac) -> None:
    now = installed_mac(fake_mac, HEALTHY_AGO)
    local_now = now.astimezone()
    fake_mac.write(DDM_STATE_PATH, ddm_state(local_now - 2 * DAY, binary=True))
    fake_mac.write(SYSTEM_VERSION_PATH, OLD_OS)
    document = installed_heal(fake_mac)
    assert update_of(document) == ("overdue", True)
    assert restarts(fake_mac) == [journal_line(c) for c in SU_SEQUENCE]


def test_installed_advancing_download_is_not_restarted(fake_mac: FakeMac) -> None:
    download = [(AT - when, record) for when, record, _ in ADVANCING]
    installed_mac(fake_mac, [*HEALTHY_AGO, *download])
    fake_mac.write(DDM_STATE_PATH, ddm_state(datetime.now() - 2 * DAY))
    fake_mac.write(SYSTEM_VERSION_PATH, OLD_OS)
    document = installed_heal(fake_mac)
    assert update_of(document) == ("downloading", False)
    assert restarts(fake_mac) == []


def test_installed_damaged_state_is_unknown(fake_mac: FakeMac) -> None:
    stalled = [(AT - when, record) for when, record, _ in STALLED]
    installed_mac(fake_mac, [*HEALTHY_AGO, *stalled])
    fake_mac.write(DDM_STATE_PATH, DAMAGED_DDM_STATES["garbage bytes"])
    fake_mac.write(SYSTEM_VERSION_PATH, OLD_OS)
    done = run_heal(fake_mac)
    assert done.returncode == 0, done.stderr
    assert "MDMSoftwareUpdatesStuck: unknown" in done.stdout
    assert restarts(fake_mac) == []


class TestSupplementalLive:
    """A live run reads ProductBuildVersion: a supplemental target is reached only
    when the running build is the declared one."""

    def declared(self) -> bytes:
        document = plistlib.loads(ddm_state(AT - 3 * DAY, version="13.3.1"))
        (declaration,) = document["SUCorePersistedStatePolicyFields"]["Declarations"].values()
        declaration["TargetBuildVersion"] = "22E772610a"
        return plistlib.dumps(document)

    def running(self, build: str, extra: str | None = None) -> bytes:
        document = {"ProductVersion": "13.3.1", "ProductBuildVersion": build}
        if extra is not None:
            document["ProductVersionExtra"] = extra
        return plistlib.dumps(document)

    def test_the_version_without_its_supplement_is_overdue(self) -> None:
        system = live(HEALTHY, declared=self.declared(), running=self.running("22E252"))
        document = json.loads(heal(system, "--json").output)
        assert document["software_update"]["state"] == "overdue"
        assert document["MDMSoftwareUpdatesStuck"] is True

    def test_the_supplement_running_is_done(self) -> None:
        running = self.running("22E772610a", "(a)")
        system = live(HEALTHY, declared=self.declared(), running=running)
        document = json.loads(heal(system, "--json").output)
        assert document["software_update"]["state"] == "done"
        assert document["MDMSoftwareUpdatesStuck"] is False
