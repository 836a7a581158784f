"""`profiles status -type enrollment`, as real Macs print it."""

from __future__ import annotations

import pytest

from tests.support import log_blocks
from watchdog_mdm.enrollment import EnrollmentUnreadable, parse_profiles_status


def block(source_contains: str) -> str:
    blocks = log_blocks("profiles_status.txt")
    (text,) = [body for source, body in blocks.items() if source_contains in source]
    return text


def test_enrolled_user_approved_with_server() -> None:
    e = parse_profiles_status(block("IsEnrolledIntoMatchingURL"))
    assert e.enrolled is True
    assert e.enrolled_via_dep is False
    assert e.mdm_enrollment == "Yes (User Approved)"
    assert e.mdm_server == "https://test.example.com/mdm/apple/mdm"
    assert e.source == "profiles"


def test_enrolled_via_dep() -> None:
    e = parse_profiles_status(block("Chromium source"))
    assert (e.enrolled, e.enrolled_via_dep) == (True, True)
    assert e.mdm_server == "https://applemdm.example.com/some/path?foo=bar"


def test_not_enrolled_unmanaged_mac() -> None:
    # "profiles prints the MDM enrollment line whether or not the device is enrolled,
    # so matching on the line alone reported every Mac as managed."
    e = parse_profiles_status(block("profiles_status.stdout on an unmanaged Mac"))
    assert e.enrolled is False
    assert e.mdm_server is None


def test_capture_without_the_dep_line() -> None:
    e = parse_profiles_status(block("German test report"))
    assert e.enrolled is True
    assert e.enrolled_via_dep is None


def test_enrolled_but_not_user_approved() -> None:
    # munkireport/mdm_status: the second line's values are No, Yes, Yes (User Approved).
    e = parse_profiles_status("Enrolled via DEP: No\nMDM enrollment: Yes\n")
    assert e.enrolled is True
    assert e.mdm_enrollment == "Yes"


@pytest.mark.parametrize("text", ["", "Must be running as root\n", "garbage: yes\n"])
def test_output_without_an_enrollment_line_is_unreadable(text: str) -> None:
    with pytest.raises(EnrollmentUnreadable):
        parse_profiles_status(text)
