"""Removing secrets from what leaves the Mac in a support bundle.

A support bundle is sent to people outside the organisation, so whatever could let
someone talk to the MDM server as this Mac, or read its traffic, is replaced by
``<redacted>``: the query string and the credentials of every URL (an MDM server's
check-in URL may carry an enrollment token: ``https://mdm.example.com/mdm?token=…``), the
value of anything
named like a secret (``PushMagic``, ``Token``, ``UnlockToken``, ``Challenge``,
``Password``, ``Authorization``, ``Cookie``, …, as ``name: value``, ``name=value``, JSON,
a property list or a Foundation description; a quoted, bracketed or header value whole),
the payload of a push (which carries the push magic),
bearer tokens and JSON web tokens anywhere.

Only values are replaced; names, hosts and paths are kept, so an export stays what
`analyze` reads (mdmclient's ``[MDM_GetBootstrapToken]`` is a request type, not a
secret, and has no value). It works on bytes, on whole files: a value may follow its
name on the next line, and a log need not be UTF-8. Applying it twice changes nothing
more, and JSON stays JSON: a JSON member's value becomes the string ``"<redacted>"``.
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
# sentence is not one), any scheme: the match starts at "://", never at the scheme, whose
# letters a search would read again from each one. Every URL matches, with or without
# them (then nothing is replaced), so the search moves past it: a failed match per URL
# would read the rest of a run of URLs again from each one ("http://http://…"),
# quadratic on hostile input.
_URL_QUERY = re.compile(
    rb"(?P<keep>:(?:\\?/){2}(?:[^\s\"'<>?#;\\]|\\/)*+"
    rb"(?P<opens>[?#]|;(?=[^\s\"'<>\\]))?)(?(opens)(?:[^\s\"'<>\\]|\\/)*)"
)
# The name's end is enough: "BootstrapToken: x" matches at "token: x".
_SECRET_NAMES = (
    rb"token|magic|password|passwd|passphrase|secret|api[_-]?key|challenge|"
    rb"authorization|cookie|credential"
)
# A word saying whether there is a value ("for device token: YES") is no secret.
_NO_VALUE = rb"(?!(?:yes|no|true|false|null|none|nil)\b|\(null\))"
# What a quoted string holds, up to its closing quote: a backslash escapes the next
# character. Inside a log message's JSON string (ndjson's eventMessage) a quote is "\""
# and the string's own escapes are doubled ("\\\"" is a quote in it, "\\\\" a backslash).
_QUOTED = rb"(?:[^\"\\\n]|\\.)*+"
_SINGLE_QUOTED = rb"(?:[^'\\\n]|\\.)*+"
_ESCAPED_QUOTED = rb"(?:\\\\\\.|\\\\[^\\\n]|\\[^\"\\\n]|[^\\\"\n])*+"
# ": ", "=", " = " (Foundation's descriptions), JSON's '": "' (escaped too, inside a
# log message's JSON string); a raw quote closing the name means a JSON member, whose
# value must stay JSON.
_SEPARATOR = rb"s?(?:(?P<json>\")|\\?[\"'])?\s*[:=]\s*"
_SECRET_VALUE = re.compile(
    rb"(?P<keep>(?:" + _SECRET_NAMES + rb")" + _SEPARATOR +
    # a quoted value keeps its quotes: only what they hold goes
    rb"(?:(?P<escaped>\\\")|(?P<double>\")|(?P<single>'))?"
    # possessive: once redacted, "Bearer <redacted>" is not taken for a value "Bearer"
    rb"(?:(?:bearer|basic|digest|negotiate|token)\s+)?+)"
    + _NO_VALUE
    + rb"(?(escaped)(?!<redacted>\\\")"
    + _ESCAPED_QUOTED
    + rb"|(?(double)(?!<redacted>\")"
    + _QUOTED
    + rb"|(?(single)(?!<redacted>')"
    + _SINGLE_QUOTED
    +
    # NSData as Foundation prints it: "<0a1b 2c3d …>" or "{length = 32, bytes = 0x…}";
    # an array, dictionary or Foundation collection goes whole (found by _balanced_end)
    rb"|(?:<[0-9a-f\s]{8,}>|\{length = \d+, bytes = [^}]*\}|(?P<bracket>[\[{(])|"
    + _VALUE_CHAR
    + rb"+))))"
)
# An HTTP header's value runs to the end of its line: a cookie header holds several
# cookies ("a=1; b=2"), a Digest authorization several quoted parameters. A raw quote
# ends it unless it opens a parameter's value (name="…"), so a header quoted in a JSON
# string leaves the JSON whole; in a log message's JSON string its line ends at "\n".
_HEADER_VALUE = re.compile(
    rb"(?P<keep>(?:authorization|cookie)[ \t]*:[ \t]*"
    rb"(?:(?:bearer|basic|digest|negotiate)\s+)?+)" + _NO_VALUE + rb"(?!<redacted>)"
    rb"(?:[^\r\n\"\\]|\\[^nr\r\n]|(?<==)\"[^\"\r\n]*\"(?=[,;\s]|\Z))+"
)
# A property list's member: "<key>PushMagic</key> <string>…</string>" (or <data>).
_PLIST_VALUE = re.compile(rb"(?P<keep>(?:" + _SECRET_NAMES + rb")</key>\s*<(?:string|data)>)[^<]*")
_PUSH_PAYLOAD = re.compile(rb"(?P<keep>with payload ')(?!<private>'|<redacted>')[^'\n]+(?=')")
_BEARER = re.compile(rb"(?P<keep>bearer(?<![a-z0-9_]bearer)\s+)[a-z0-9._~+/=-]{8,}")
_JWT = re.compile(rb"(?P<keep>)eyj(?<![a-z0-9_-]eyj)[a-z0-9_-]{5,}\.[a-z0-9_-]{5,}\.[a-z0-9_-]*")

STEPS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    # the query first: once the credentials are marked, the URL's path ends at "<"
    ("url_query", _URL_QUERY),
    ("url_credentials", _URL_CREDENTIALS),
    # headers before other values: "Cookie: a=1; b=2" goes whole, not only "a=1"
    ("secret_value", _HEADER_VALUE),
    ("secret_value", _PLIST_VALUE),
    ("secret_value", _SECRET_VALUE),
    ("push_payload", _PUSH_PAYLOAD),
    ("bearer_token", _BEARER),
    ("json_web_token", _JWT),
)

# How far a bracketed value is searched for its end: an unclosed one goes to the end of
# its line (or of the JSON string it is in) instead.
_LONGEST_VALUE = 64 * 1024
# A bracketed value's parts: brackets, and strings, whose brackets do not count. Inside
# a JSON string (a log message of ndjson) its strings are quoted "\"" and a raw quote or
# line end is the end of the string around it: the value cannot go on past it.
_PLAIN_PARTS = re.compile(
    rb"(?P<open>[\[{(])|(?P<close>[\]})])|\"" + _QUOTED + rb"\"?|[^\"\[\]{}()]+"
)
_ESCAPED_PARTS = re.compile(
    rb"(?P<open>[\[{(])|(?P<close>[\]})])|(?P<stop>[\"\n])|\\\""
    + _ESCAPED_QUOTED
    + rb"(?:\\\")?|\\.|[^\"\\\[\]{}()\n]+"
)
_LINE_END = re.compile(rb"\n")
_STRING_OR_LINE_END = re.compile(rb"[\n\"]")
# What decides whether a place lies inside a double-quoted string of its line.
_QUOTE_PARTS = re.compile(rb"(?s)\\.|\"|[^\"\\]+")


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
            counts[kind] = counts.get(kind, 0) + count
    return Redacted(data, counts)


def _replace(pattern: re.Pattern[bytes], data: bytes) -> tuple[bytes, int]:
    """``data`` with what each match of ``pattern`` (in its lower case, where every
    offset is the same: bytes.lower() changes only ASCII letters) holds beyond ``keep``
    replaced by the mark: a bracketed value to its balanced end, as a JSON string where
    it is a JSON member's value."""
    lowered = data.lower()
    strings = _StringTracker(lowered)
    parts: list[bytes] = []
    done = 0
    for match in pattern.finditer(lowered):
        if match.start() < done:  # within a bracketed value already replaced
            continue
        end, mark = match.end(), MARK
        groups = match.groupdict()
        if groups.get("bracket"):
            end = _bracketed_end(lowered, match.start("bracket"), strings)
        if groups.get("json") and not groups.get("double"):
            mark = b'"' + MARK + b'"'
        if end == match.end("keep"):  # nothing beyond it: a URL without secrets
            continue
        parts += (data[done : match.end("keep")], mark)
        done = end
    if not parts:
        return data, 0
    parts.append(data[done:])
    return b"".join(parts), len(parts) // 2


def _bracketed_end(data: bytes, start: int, strings: _StringTracker) -> int:
    """Where the bracketed value opening at ``start`` ends: after its balanced closing
    bracket, else (unclosed, or longer than is searched) at the end of its line or of
    the JSON string it is in. Once a search has failed, a bracket within what it read
    is not searched again, so hostile input is read a bounded number of times."""
    inside = strings.inside_at(start)
    if start >= strings.unclosed_to:
        end, read_to = _balanced_end(data, start, inside)
        if end is not None:
            return end
        strings.unclosed_to = read_to
    stop = (_STRING_OR_LINE_END if inside else _LINE_END).search(data, start)
    return stop.start() if stop else len(data)


def _balanced_end(data: bytes, start: int, inside_string: bool) -> tuple[int | None, int]:
    """The end of the balanced value opening at ``start`` (None if there is none within
    reach), and how far the search read."""
    parts = _ESCAPED_PARTS if inside_string else _PLAIN_PARTS
    limit = min(len(data), start + _LONGEST_VALUE)
    depth, position = 0, start
    while position < limit:
        part = parts.match(data, position, limit)
        if part is None or part.lastgroup == "stop":
            return None, position
        depth += {"open": 1, "close": -1}.get(part.lastgroup or "", 0)
        position = part.end()
        if depth == 0:
            return position, position
    return None, position


class _StringTracker:
    """Whether places, asked for in order, lie inside a double-quoted string of their
    line (a JSON string: a log message of ndjson), read once from front to back; and
    how far a failed search for a bracketed value's end has read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0
        self.inside = False
        self.unclosed_to = 0

    def inside_at(self, target: int) -> bool:
        line_start = self.data.rfind(b"\n", self.position, target) + 1
        if line_start > self.position:
            self.position, self.inside = line_start, False
        for part in _QUOTE_PARTS.finditer(self.data, self.position, target):
            if part.group() == b'"':
                self.inside = not self.inside
        self.position = max(self.position, target)
        return self.inside
