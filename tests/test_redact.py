"""Redaction: what a support bundle must never carry off the Mac, and what it must keep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import LOGS, reconstructed_export, reference, reference_line
from watchdog_mdm.redact import redact

# Secrets planted where a real line or document could hold them; each value is unique,
# so a test can say which one leaked.
PLANTED = {
    "SECRET1": b"Calling MDM_Connect (At login: no) <PushNotification> for: "
    b"https://mdm.example.com/mdm?token=SECRET1",
    "SECRET2": b'{"eventMessage":"No commands from server: '
    b'https:\\/\\/mdm.example.com\\/mdm?enroll=SECRET2&x=1","processID":1}',
    "SECRET3": b"Authorization: Bearer SECRET3abcdef",
    "SECRET4": b'{"PushMagic": "SECRET4-1F2E"}',
    "SECRET5": b'{"eventMessage":"check-in {\\"PushMagic\\" : \\"SECRET5\\"}"}',
    "SECRET6": b'PushMagic = "SECRET6"; Topic = "com.apple.mgmt.External.x";',
    "SECRET7": b"UnlockToken = {length = 32, bytes = 0x5ec2e7 ... SECRET7};",
    "SECRET8": b"<private>: Received message for enabled topic 'com.apple.mgmt.External.1' "
    b"onInterface: WWAN with payload '{mdm = SECRET8}' with priority 10 for device token: YES",
    "SECRET9": b"api_key=SECRET9",
    "SECRET10": b"x-token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SECRET10",
    "SECRET11": b"retrying with Bearer SECRET11xyzabc",
    "SECRET12": b"Challenge: SECRET12",
    "SECRET13": b"MDM server: https://enrol:SECRET13@mdm.example.com/mdm",
    "SECRET15": b"signed with eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SECRET15 today",
    "SECRET14": b'{"eventMessage":"for: https:\\/\\/admin:SECRET14@mdm.example.com\\/mdm"}',
    # a password with a raw "@" of its own: all of it goes, not only what precedes the "@"
    "SECRET16": b"MDM server: https://enrol:p@SECRET16@mdm.example.com/mdm",
    "SECRET17": b"session https://mdm.example.com/app;jsessionid=SECRET17 ended",
    # credentials and a query string in one URL: marking one must not hide the other
    "SECRET18": b"for: https://enrol:pw@mdm.example.com/mdm?token=SECRET18",
    # a bracketed value goes whole, not only its opening bracket
    "SECRET19": b'{"secret": ["SECRET19"]}',
    "SECRET20": b'Tokens = (\n    "SECRET20"\n)',
    "SECRET21": b'{"token": {"v": "SECRET21"}}',
    "SECRET22": b'{"eventMessage":"got {\\"push_magic\\": {\\"a\\": [\\"SECRET22\\"]}}"}',
    # a quoted value goes whole: spaces, commas and escaped quotes in it too
    "SECRET23": b'PushMagic = "part SECRET23";',
    "SECRET24": b'{"magic": "part1,SECRET24"}',
    "SECRET25": b'{"token":"a\\"SECRET25"}',
    "SECRET26": b'{"eventMessage":"{\\"token\\":\\"a\\\\\\"SECRET26\\"}"}',
    # a header's value goes to the end of its line
    "SECRET27": b"Cookie: a=1; b=SECRET27",
    "SECRET28": b'Authorization: Digest username="u", response="SECRET28"',
    # a property list's member
    "SECRET29": b"<key>PushMagic</key>\n<string>SECRET29</string>",
    "SECRET30": b"<key>Challenge</key><data>SECRET30</data>",
    # a query string in a URL of any scheme
    "SECRET31": b"mdm://mdm.example.com/p?x=SECRET31",
}


@pytest.mark.parametrize("secret", sorted(PLANTED))
def test_a_planted_secret_is_gone(secret: str) -> None:
    redacted = redact(PLANTED[secret])
    assert secret.encode() not in redacted.data
    assert b"<redacted>" in redacted.data
    assert redacted.total >= 1


def test_only_the_value_goes_the_names_hosts_and_paths_stay() -> None:
    assert redact(PLANTED["SECRET1"]).data == (
        b"Calling MDM_Connect (At login: no) <PushNotification> for: "
        b"https://mdm.example.com/mdm?<redacted>"
    )
    assert redact(PLANTED["SECRET3"]).data == b"Authorization: Bearer <redacted>"
    assert redact(PLANTED["SECRET13"]).data == (
        b"MDM server: https://<redacted>@mdm.example.com/mdm"
    )
    assert redact(PLANTED["SECRET6"]).data == (
        b'PushMagic = "<redacted>"; Topic = "com.apple.mgmt.External.x";'
    )


def test_json_stays_json_with_the_same_keys() -> None:
    json_secrets = ("SECRET2", "SECRET4", "SECRET5", "SECRET14", "SECRET19", "SECRET21")
    for secret in (*json_secrets, "SECRET22", "SECRET24", "SECRET25", "SECRET26"):
        before = json.loads(PLANTED[secret])
        after = json.loads(redact(PLANTED[secret]).data)
        assert list(after) == list(before)


def test_a_state_like_document_stays_json_with_the_same_keys() -> None:
    document = {
        "Token": 12345,
        "push_magic": {"a": [1, "x}"], "b": "(["},
        "UnlockToken": None,
        "names": ["token", 1],
        "Challenge": 'a"b',
        "checked": "2026-01-01T00:00:00Z",
    }
    for text in (json.dumps(document), json.dumps(document, indent=2)):
        after = json.loads(redact(text.encode()).data)
        assert list(after) == list(document)
        assert after["Token"] == after["push_magic"] == after["Challenge"] == "<redacted>"
        assert (after["UnlockToken"], after["names"]) == (None, ["token", 1])


def test_a_bracketed_value_is_replaced_whole() -> None:
    assert redact(PLANTED["SECRET19"]).data == b'{"secret": "<redacted>"}'
    assert redact(PLANTED["SECRET20"]).data == b"Tokens = <redacted>"
    message = b'{"eventMessage":"Tokens = (\\n    \\"S\\"\\n) done","processID":1}'
    assert json.loads(redact(message).data)["eventMessage"] == "Tokens = <redacted> done"


def test_an_unclosed_bracketed_value_goes_to_the_end_of_its_line() -> None:
    assert redact(b"token = [abc, def\nnext line").data == b"token = <redacted>\nnext line"
    message = b'{"eventMessage":"token = [abc","processID":1}'
    assert json.loads(redact(message).data)["eventMessage"] == "token = <redacted>"


def test_a_header_goes_to_the_end_of_its_line_and_json_around_it_stays() -> None:
    assert redact(PLANTED["SECRET27"]).data == b"Cookie: <redacted>"
    assert redact(PLANTED["SECRET28"]).data == b"Authorization: Digest <redacted>"
    message = b'{"eventMessage":"Cookie: a=1; b=2==","processID":1}'
    assert json.loads(redact(message).data)["eventMessage"] == "Cookie: <redacted>"


def test_a_value_saying_there_is_none_stays() -> None:
    for line in (b"token: (null)", b'{"token": null}', b"PushMagic = nil;"):
        assert redact(line).data == line


def test_each_kind_is_counted() -> None:
    assert redact(PLANTED["SECRET1"]).counts == {"url_query": 1}
    assert redact(PLANTED["SECRET8"]).counts == {"push_payload": 1}
    assert redact(PLANTED["SECRET11"]).counts == {"bearer_token": 1}
    assert redact(PLANTED["SECRET15"]).counts == {"json_web_token": 1}
    assert redact(PLANTED["SECRET13"]).counts == {"url_credentials": 1}
    assert redact(b"nothing here").counts == {}


def test_words_that_only_say_whether_there_is_a_token_stay() -> None:
    line = reference_line("checkin_lines.txt", "<private>: Received message")
    assert b"device token: YES" in redact(line.encode()).data


def test_a_request_type_named_like_a_token_is_no_secret() -> None:
    line = reference_line("mdmclient_lines.txt", "[MDM_GetBootstrapToken]")
    assert redact(line.encode()).data == line.encode()


def test_redacted_apsd_topics_and_payloads_are_left_as_apple_wrote_them() -> None:
    line = reference_line("checkin_lines.txt", "with payload '<private>'").encode()
    assert redact(line).data == line


@pytest.mark.parametrize(
    "path",
    [
        *sorted(LOGS.glob("**/*.log")),
        reference("reconstructed_mdmclient.ndjson"),
        reference("softwareupdated_lines.txt"),
        reference("mdmclient_lines.txt"),
    ],
    ids=lambda p: str(p.relative_to(LOGS.parent)),
)
def test_real_logs_hold_nothing_to_redact(path: Path) -> None:
    assert redact(path.read_bytes()).counts == {}


def test_the_reconstructed_run_is_unchanged() -> None:
    data = reconstructed_export()
    assert redact(data).data == data


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_redacting_twice_changes_nothing_more(data: bytes) -> None:
    once = redact(data).data
    assert redact(once).data == once


@given(st.text(alphabet=st.characters(codec="ascii"), min_size=8, max_size=40))
def test_no_query_string_survives(query: str) -> None:
    secret = "".join(c for c in query if c.isalnum()) or "SECRETX"
    line = f"for: https://mdm.example.com/mdm?token={secret} done".encode()
    assert f"token={secret}".encode() not in redact(line).data


def test_a_sentence_ending_in_a_semicolon_after_a_url_is_left_alone() -> None:
    line = b"checked https://mdm.example.com/mdm; nothing to do"
    assert redact(line).data == line


@pytest.mark.parametrize(
    "unit",
    [
        *(b"http://", b"https://a@", b"http://h/x;", b"a://"),
        *(b"token=[", b"token=[]", b'\\"token\\":[', b"token=(\n", b"cookie:"),
        *(b'token="', b'token=\\"', b"token</key><string>"),
    ],
)
def test_a_run_of_urls_is_redacted_in_one_pass(unit: bytes) -> None:
    """Each URL is matched once, so hostile input costs a read, not a read per URL: a
    quadratic search would take minutes on these 2 MB (the subprocess bound only stops
    a hang)."""
    code = (
        "from watchdog_mdm.redact import redact\n"
        f"print(len(redact({unit!r} * (2_000_000 // {len(unit)})).data) > 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout == "True\n", done.stderr
