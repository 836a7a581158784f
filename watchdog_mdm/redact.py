"""Removing secrets from what leaves the Mac in a support bundle.

A support bundle is sent to people outside the organisation, so whatever could let
someone talk to the MDM server as this Mac, or read its traffic, is replaced by
``<redacted>``: the query string and the credentials of every URL (an MDM server's
check-in URL may carry an enrollment token: ``https://mdm.example.com/mdm?token=…``), the
value of anything
named like a secret (``PushMagic``, ``Token``, ``UnlockToken``, ``Challenge``,
``Password``, ``Authorization``, ``Cookie``, …, as ``name: value``, ``name=value``, JSON
or a Foundation description), the payload of a push (which carries the push magic),
bearer tokens and JSON web tokens anywhere.

Only values are replaced; names, hosts and paths are kept, so an export stays what
`analyze` reads (mdmclient's ``[MDM_GetBootstrapToken]`` is a request type, not a
secret, and has no value). It works on bytes, on whole files: a value may follow its
name on the next line, and a log need not be UTF-8. Applying it twice changes nothing
more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MARK", "STEPS", "Redacted", "redact"]

MARK = b"<redacted>"

# One character of a value: not white space, a quote, an angle bracket or a backslash,
# except JSON's escaped "\/" (`log show --style ndjson` escapes every slash), so a
# value ends before any other escape and the JSON around it stays valid.
_VALUE_CHAR = rb"(?:[^\s\"'<>\\,;&}\])]|\\/)"

# Each pattern is matched against the data in lower case (a tenth of the time a
# case-insensitive search takes), so it is written in lower case. What ``keep`` matched
# stays; the rest of the match is replaced.

# A URL's credentials: "https://user:password@host", any scheme. (Each pattern starts
# with a literal where it can, which the search skips to: five times faster.)
# Up to the last "@" before the host: a password may hold a raw "@" of its own.
_URL_CREDENTIALS = re.compile(rb"(?P<keep>:(?:\\?/){2})[^\s/'\"<>\\]+(?=@)")
# A URL's query string, fragment or ";" parameters (";jsessionid=…"; a ";" that ends a
# sentence is not one). Every URL matches, with or without them (then nothing is
# replaced), so the search moves past it: a failed match per URL would read the rest of
# a run of URLs again from each one ("http://http://…"), quadratic on hostile input.
_URL_QUERY = re.compile(
    rb"(?P<keep>https?:(?:\\?/){2}(?:[^\s\"'<>?#;\\]|\\/)*+"
    rb"(?P<opens>[?#]|;(?=[^\s\"'<>\\]))?)(?(opens)(?:[^\s\"'<>\\]|\\/)*)"
)
# The name's end is enough: "BootstrapToken: x" matches at "token: x".
_SECRET_NAMES = (
    rb"token|magic|password|passwd|passphrase|secret|api[_-]?key|challenge|"
    rb"authorization|cookie|credential"
)
# ": ", "=", " = " (Foundation's descriptions), JSON's '": "' (escaped too, inside a
# log message's JSON string)
_SEPARATOR = rb"s?(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?"
_SECRET_VALUE = re.compile(
    rb"(?P<keep>(?:" + _SECRET_NAMES + rb")" + _SEPARATOR +
    # possessive: once redacted, "Bearer <redacted>" is not taken for a value "Bearer"
    rb"(?:(?:bearer|basic|token)\s+)?+)"
    # a word saying whether there is one ("for device token: YES") is no secret
    rb"(?!(?:yes|no|true|false|null|none|nil)\b)"
    # NSData as Foundation prints it: "<0a1b 2c3d …>" or "{length = 32, bytes = 0x…}"
    rb"(?:<[0-9a-f\s]{8,}>|\{length = \d+, bytes = [^}]*\}|" + _VALUE_CHAR + rb"+)"
)
_PUSH_PAYLOAD = re.compile(rb"(?P<keep>with payload ')(?!<private>'|<redacted>')[^'\n]+(?=')")
_BEARER = re.compile(rb"(?P<keep>bearer(?<![a-z0-9_]bearer)\s+)[a-z0-9._~+/=-]{8,}")
_JWT = re.compile(rb"(?P<keep>)eyj(?<![a-z0-9_-]eyj)[a-z0-9_-]{5,}\.[a-z0-9_-]{5,}\.[a-z0-9_-]*")

STEPS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    # the query first: once the credentials are marked, the URL's path ends at "<"
    ("url_query", _URL_QUERY),
    ("url_credentials", _URL_CREDENTIALS),
    ("secret_value", _SECRET_VALUE),
    ("push_payload", _PUSH_PAYLOAD),
    ("bearer_token", _BEARER),
    ("json_web_token", _JWT),
)


@dataclass(frozen=True, slots=True)
class Redacted:
    """The data with its secrets replaced, and how many of each kind were."""

    data: bytes
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def redact(data: bytes) -> Redacted:
    """``data`` with every secret this module knows of replaced by ``<redacted>``."""
    counts: dict[str, int] = {}
    for kind, pattern in STEPS:
        data, count = _replace(pattern, data)
        if count:
            counts[kind] = count
    return Redacted(data, counts)


def _replace(pattern: re.Pattern[bytes], data: bytes) -> tuple[bytes, int]:
    """``data`` with what each match of ``pattern`` (in its lower case, where every
    offset is the same: bytes.lower() changes only ASCII letters) holds beyond ``keep``
    replaced by the mark."""
    parts: list[bytes] = []
    done = 0
    for match in pattern.finditer(data.lower()):
        if match.end() == match.end("keep"):  # nothing beyond it: a URL without secrets
            continue
        parts += (data[done : match.end("keep")], MARK)
        done = match.end()
    if not parts:
        return data, 0
    parts.append(data[done:])
    return b"".join(parts), len(parts) // 2
