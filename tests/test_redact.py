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
    for secret in ("SECRET2", "SECRET4", "SECRET5", "SECRET14"):
        before = json.loads(PLANTED[secret])
        after = json.loads(redact(PLANTED[secret]).data)
        assert list(after) == list(before)


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


@pytest.mark.parametrize("unit", [b"http://", b"https://a@", b"http://h/x;", b"a://"])
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
