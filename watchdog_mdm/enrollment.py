"""Reading ``profiles status -type enrollment``: is this Mac enrolled in an MDM?

Real output (see tests/fixtures/profiles_status.txt)::

    Enrolled via DEP: Yes
    MDM enrollment: Yes (User Approved)
    MDM server: https://mdm.example.com/...

"MDM enrollment" is printed whether or not the Mac is enrolled, so its *value* decides;
"MDM server" is left out on a Mac that is not enrolled.
"""

from __future__ import annotations

from watchdog_mdm.evidence import Enrollment, EnrollmentSource, Observations
from watchdog_mdm.text import printable

__all__ = ["EnrollmentUnreadable", "enrollment_from_log", "parse_profiles_status"]


class EnrollmentUnreadable(ValueError):
    """The output has no "MDM enrollment:" line to decide from."""


def _fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:  # one line each: every control replaced (text.py), as shown anywhere
            fields[key.strip().lower()] = printable(value.strip())
    return fields


def parse_profiles_status(text: str) -> Enrollment:
    """Parse the output of ``profiles status -type enrollment``."""
    fields = _fields(text)
    status = fields.get("mdm enrollment")
    if status is None:
        raise EnrollmentUnreadable("profiles printed no 'MDM enrollment:' line")
    if not status.lower().startswith(("yes", "no")):
        raise EnrollmentUnreadable(f"profiles printed 'MDM enrollment: {status[:40]}'")
    dep = fields.get("enrolled via dep")
    return Enrollment(
        enrolled=status.lower().startswith("yes"),
        source=EnrollmentSource.PROFILES,
        enrolled_via_dep=None if dep is None else dep.lower().startswith("yes"),
        mdm_enrollment=status,
        mdm_server=fields.get("mdm server") or None,
    )


def enrollment_from_log(obs: Observations) -> Enrollment:
    """For offline analysis: any device-channel exchange or request proves enrollment;
    without one, enrollment is unknown (never "not enrolled": the log cannot say that)."""
    return Enrollment(
        enrolled=True if obs.last_device_activity else None, source=EnrollmentSource.LOG
    )
