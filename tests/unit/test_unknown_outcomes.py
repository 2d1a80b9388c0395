"""What the sweep does with one unknown recipient: wait, fail or resend (a pure decision)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.bulks.model import BulkId
from mindo_core.bulks.unknown_outcomes import UnknownRecipient, sweep_action
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.messages import MessageId

STARTED = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)
UNKNOWN = UnknownRecipient(
    message_id=MessageId(7),
    bulk_id=BulkId("b"),
    organisation_id=OrganisationId(1),
    call_started_at=STARTED,
    later_webhook_at=STARTED + timedelta(seconds=2),
    resent=False,
    may_resend=True,
)
SETTLED = STARTED + timedelta(seconds=2) + WINDOW


def test_it_waits_while_no_later_message_had_its_webhook() -> None:
    unknown = replace(UNKNOWN, later_webhook_at=None)
    for policy in ("fail", "resend"):
        action = sweep_action(unknown, policy=policy, window=WINDOW, now=STARTED + 30 * WINDOW)
        assert action == "wait"


@pytest.mark.parametrize("policy", ["fail", "resend"])
def test_it_waits_for_the_whole_window_after_the_first_later_webhook(policy: str) -> None:
    just_before = SETTLED - timedelta(microseconds=1)
    assert sweep_action(UNKNOWN, policy=policy, window=WINDOW, now=just_before) == "wait"  # type: ignore[arg-type]


def test_then_the_policy_fail_fails_it() -> None:
    assert sweep_action(UNKNOWN, policy="fail", window=WINDOW, now=SETTLED) == "fail"


def test_then_the_policy_resend_resends_it() -> None:
    assert sweep_action(UNKNOWN, policy="resend", window=WINDOW, now=SETTLED) == "resend"


def test_a_recipient_is_never_resent_twice() -> None:
    again = replace(UNKNOWN, resent=True)
    assert sweep_action(again, policy="resend", window=WINDOW, now=SETTLED) == "fail"


def test_a_recipient_of_a_bulk_cancelled_or_stopped_is_failed_not_resent() -> None:
    over = replace(UNKNOWN, may_resend=False)
    assert sweep_action(over, policy="resend", window=WINDOW, now=SETTLED) == "fail"


def test_the_window_is_the_organisations() -> None:
    short = timedelta(minutes=1)
    now = STARTED + timedelta(seconds=2) + short
    assert sweep_action(UNKNOWN, policy="fail", window=short, now=now) == "fail"
    assert sweep_action(UNKNOWN, policy="fail", window=WINDOW, now=now) == "wait"
