"""The rules of status webhooks, one message at a time: monotonic, idempotent, and independent
of the order Meta's posts arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mindo_core.delivery.status_rules import (
    DeliveryFields,
    apply_status,
    apply_statuses,
    error_text,
)
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.messages import DeliveryState

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SENT = DeliveryFields(state="sent", wamid="wamid.A", sent_at=T0)


def update(status: DeliveryState, seconds: int = 0, **changes: object) -> StatusUpdate:
    fields: dict[str, object] = {
        "wamid": "wamid.A",
        "status": status,
        "at": T0 + timedelta(seconds=seconds),
        "recipient_id": "5491112345678",
        "phone_number_id": "813497231850626",
    }
    fields.update(changes)
    return StatusUpdate(**fields)  # type: ignore[arg-type]


def test_delivered_then_read_stamps_each_step_with_meta_times() -> None:
    after = apply_statuses(SENT, [update("delivered", 5), update("read", 60)])

    assert after.state == "read"
    assert after.sent_at == T0
    assert after.delivered_at == T0 + timedelta(seconds=5)
    assert after.read_at == T0 + timedelta(seconds=60)


def test_read_without_delivered_implies_delivered_at_the_read_time() -> None:
    after = apply_status(SENT, update("read", 60))

    assert after.delivered_at == T0 + timedelta(seconds=60)


def test_a_late_delivered_after_read_corrects_the_delivery_time_only() -> None:
    read = apply_status(SENT, update("read", 60))

    corrected = apply_status(read, update("delivered", 5))

    assert corrected.state == "read"
    assert corrected.delivered_at == T0 + timedelta(seconds=5)
    assert corrected.read_at == T0 + timedelta(seconds=60)


def test_a_repeat_or_a_stale_status_returns_the_same_object() -> None:
    delivered = apply_status(SENT, update("delivered", 5))

    assert apply_status(delivered, update("delivered", 9)) is delivered
    assert apply_status(delivered, update("sent", 1)) is delivered


def test_a_status_that_cannot_follow_is_ignored_not_an_error() -> None:
    failed = DeliveryFields(state="failed", failed_at=T0)
    pending = DeliveryFields(state="pending")

    assert apply_status(failed, update("read")) is failed
    assert apply_status(pending, update("delivered")) is pending


def test_a_failure_keeps_meta_code_title_and_details() -> None:
    failing = update(
        "failed",
        3,
        error_code=131049,
        error_title="Message not delivered",
        error_details="to maintain healthy ecosystem engagement",
    )

    after = apply_status(SENT, failing)

    assert after.state == "failed"
    assert after.failed_at == T0 + timedelta(seconds=3)
    assert after.error_code == 131049
    assert after.error_message == "Message not delivered: to maintain healthy ecosystem engagement"


def test_error_text_does_not_repeat_itself() -> None:
    same = update("failed", error_title="Rate limit hit", error_details="Rate limit hit")
    assert error_text(same) == "Rate limit hit"
    assert error_text(update("failed", error_details="only details")) == "only details"
    assert error_text(update("failed")) is None


def test_an_unconfirmed_recipient_confirmed_by_a_webhook_loses_its_reason() -> None:
    unconfirmed = DeliveryFields(state="unconfirmed", error_message="Outcome unknown")

    after = apply_status(unconfirmed, update("sent", 1, wamid="wamid.B"))

    assert after.state == "sent"
    assert after.wamid == "wamid.B"
    assert after.error_message is None


# Meta reports at most one of read and failed for a message: the orders below cover every
# mix it can produce, with duplicates.
_OUTCOMES = st.sampled_from(
    [
        ["sent"],
        ["sent", "delivered"],
        ["sent", "delivered", "read"],
        ["sent", "read"],
        ["sent", "failed"],
        ["sent", "delivered", "failed"],
        ["failed"],
    ]
)


@given(
    outcome=_OUTCOMES,
    duplicates=st.lists(st.integers(min_value=0, max_value=2), max_size=4),
    order=st.randoms(use_true_random=False),
)
def test_the_final_state_does_not_depend_on_order_or_duplicates(
    outcome: list[DeliveryState], duplicates: list[int], order: object
) -> None:
    """Any arrival order of a message's statuses, with any repeats, ends the same."""
    statuses = [update(status, seconds) for seconds, status in enumerate(outcome)]
    posted = statuses + [statuses[i % len(statuses)] for i in duplicates]
    shuffled = list(posted)
    order.shuffle(shuffled)  # type: ignore[attr-defined]

    in_order = apply_statuses(SENT, statuses)
    any_order = apply_statuses(SENT, shuffled)

    assert any_order.state == in_order.state
    assert any_order.failed_at == in_order.failed_at
    assert any_order.read_at == in_order.read_at
    if in_order.state != "failed":  # failed is final: a delivered after it stamps nothing
        assert any_order == in_order
