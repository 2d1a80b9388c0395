"""The pure rules of status callbacks: the signature a receiver checks, when a failed delivery
is tried again, and which URLs and event names an endpoint may have."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mindo_core.callbacks.endpoint_url import checked_events, checked_url
from mindo_core.callbacks.model import EVENT_TYPES
from mindo_core.callbacks.retry_schedule import (
    RetryPolicy,
    backoff_seconds,
    is_retryable,
    next_attempt_at,
    retry_after_seconds,
)
from mindo_core.callbacks.signing import signature_header, verify
from mindo_core.domain.errors import InvalidRequest

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
BODY = b'{"id":"e1","type":"message.read"}'

# -- signing -----------------------------------------------------------------------------------


def test_the_header_is_hmac_sha256_over_timestamp_dot_body() -> None:
    header = signature_header(["whsec_a"], 1_700_000_000, BODY)

    expected = hmac.new(b"whsec_a", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_a_receiver_accepts_a_fresh_signature_and_refuses_an_altered_body() -> None:
    header = signature_header(["whsec_a"], 1_000, BODY)

    assert verify(header, BODY, "whsec_a", now=1_000 + 299)
    assert not verify(header, BODY + b" ", "whsec_a", now=1_000)
    assert not verify(header, BODY, "whsec_b", now=1_000)


def test_a_timestamp_older_than_five_minutes_is_refused() -> None:
    header = signature_header(["whsec_a"], 1_000, BODY)

    assert not verify(header, BODY, "whsec_a", now=1_000 + 301)


def test_during_a_rotation_either_secret_verifies() -> None:
    header = signature_header(["whsec_new", "whsec_old"], 1_000, BODY)

    assert header.count("v1=") == 2
    assert verify(header, BODY, "whsec_new", now=1_000)
    assert verify(header, BODY, "whsec_old", now=1_000)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=x,v1=abc", "t=1000"])
def test_a_malformed_header_is_refused(header: str) -> None:
    assert not verify(header, BODY, "whsec_a", now=1_000)


# -- the retry schedule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "retried"),
    [
        (None, True),
        (500, True),
        (503, True),
        (408, True),
        (429, True),
        (400, False),
        (401, False),
        (404, False),
        (410, False),
    ],
)
def test_what_is_retried(code: int | None, retried: bool) -> None:
    assert is_retryable(code) is retried


def test_the_backoff_doubles_up_to_its_ceiling() -> None:
    policy = RetryPolicy(base_seconds=5, max_seconds=3600)

    ceilings = [backoff_seconds(n, policy, draw=0.999999) for n in (1, 2, 3, 20)]

    assert [round(c) for c in ceilings] == [5, 10, 20, 3600]


@given(attempt=st.integers(1, 60), draw=st.floats(0, 1, exclude_max=True))
def test_the_jittered_wait_stays_within_a_tenth_and_the_whole_ceiling(
    attempt: int, draw: float
) -> None:
    policy = RetryPolicy(base_seconds=5, max_seconds=3600)
    ceiling = min(3600.0, 5 * 2.0 ** (attempt - 1))

    wait = backoff_seconds(attempt, policy, draw=draw)

    assert ceiling / 10 <= wait <= ceiling


def test_retry_after_is_honoured_in_seconds_and_as_a_date() -> None:
    assert retry_after_seconds("120", now=NOW) == 120
    assert retry_after_seconds("Mon, 07 Dec 2026 03:01:00 GMT", now=NOW) == 60
    assert retry_after_seconds("soon", now=NOW) is None
    at = next_attempt_at(
        attempt=1,
        status_code=429,
        retry_after="600",
        first_at=NOW,
        now=NOW,
        policy=RetryPolicy(),
        draw=0.0,
    )
    assert at == NOW + timedelta(seconds=600)


def test_no_retry_after_other_4xx_nor_past_the_retry_window() -> None:
    policy = RetryPolicy(give_up_after=timedelta(hours=24))
    refused = next_attempt_at(
        attempt=1, status_code=400, retry_after=None, first_at=NOW, now=NOW, policy=policy
    )
    late = next_attempt_at(
        attempt=30,
        status_code=500,
        retry_after=None,
        first_at=NOW,
        now=NOW + timedelta(hours=23, minutes=59),
        policy=policy,
        draw=0.5,
    )
    assert (refused, late) == (None, None)


# -- endpoint URLs and events ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "example.com/hook",
        "http://",
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://service.internal/hook",
        "https://user:pw@example.com/hook",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_urls_that_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        checked_url(url, allow_private=False)
    assert "url" in refused.value.field_errors


def test_a_public_https_url_is_accepted_and_private_ones_when_allowed() -> None:
    assert checked_url(" https://hooks.example.com/mindo?x=1 ", allow_private=False) == (
        "https://hooks.example.com/mindo?x=1"
    )
    assert checked_url("http://127.0.0.1:9000/hook", allow_private=True)


def test_events_default_to_all_and_unknown_names_are_refused() -> None:
    assert checked_events([]) == frozenset(EVENT_TYPES)
    assert checked_events(["message.read"]) == frozenset({"message.read"})
    with pytest.raises(InvalidRequest) as refused:
        checked_events(["message.read", "message.exploded"])
    assert "message.exploded" in refused.value.field_errors["events"][0]


def test_the_receiver_snippet_in_the_api_guide_verifies_mindos_signature() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    section = guide[guide.index("**Signature.**") :]
    snippet = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    namespace: dict[str, object] = {}
    exec(snippet, namespace)  # the documented code, as a receiver would paste it
    documented = namespace["verify"]
    assert callable(documented)
    now = int(time.time())

    assert documented(signature_header(["whsec_new", "whsec_old"], now, BODY), BODY, "whsec_old")
    assert not documented(signature_header(["whsec_a"], now, BODY), BODY + b"x", "whsec_a")
    assert not documented(signature_header(["whsec_a"], now - 301, BODY), BODY, "whsec_a")
