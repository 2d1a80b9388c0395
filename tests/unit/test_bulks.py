"""A bulk and its recipients: legal moves, counters as the Send status page shows them, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.bulks.model import (
    ACCEPTED_STATUS,
    BULK_STATUSES,
    UNCONFIRMED_REASON,
    BulkCounters,
    BulkId,
    BulkRecipient,
    BulkStatus,
    IllegalTransition,
    RecipientEvent,
    RecipientState,
    advance,
    advance_bulk,
    can_cancel,
    can_pause,
    final_status,
    message_status,
    parse_bulk_status,
    recipient_status,
    record_event,
    refresh_final_status,
    settle_after_crash,
    webhook_event,
)
from mindo_core.domain.errors import FailedPrecondition, InvalidRequest
from mindo_core.domain.messages import DeliveryState

T0 = datetime(2025, 11, 16, 21, 30, 5, tzinfo=UTC)


def after(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(*events: RecipientEvent, start: RecipientState = "pending") -> RecipientState:
    state = start
    for event in events:
        state = advance(state, event)
    return state


# -- recipient moves --------------------------------------------------------------------------


def test_a_recipient_goes_from_pending_to_read() -> None:
    assert run("claim", "accept", "webhook_delivered", "webhook_read") == "read"


def test_a_transient_failure_releases_the_recipient_for_another_try() -> None:
    assert run("claim", "release") == "pending"
    assert run("claim", "release", "claim", "accept") == "sent"


def test_meta_refusing_fails_the_recipient() -> None:
    assert run("claim", "refuse") == "failed"


@pytest.mark.parametrize(
    ("start", "event"),
    [
        ("failed", "webhook_sent"),
        ("failed", "webhook_delivered"),
        ("failed", "webhook_read"),
        ("read", "webhook_failed"),
        ("sent", "claim"),  # the guard against sending twice
        ("in_flight", "claim"),  # a second worker
        ("delivered", "claim"),
        ("unconfirmed", "claim"),
        ("cancelled", "claim"),
        ("in_flight", "cancel"),  # the call is on its way; it settles on its own
        ("sent", "cancel"),
        ("sent", "skip"),
        ("pending", "accept"),
        ("pending", "webhook_delivered"),  # a webhook for a message never sent
        ("cancelled", "webhook_sent"),
        ("skipped", "webhook_failed"),
        ("sent", "refuse"),
        ("pending", "settle_unconfirmed"),
    ],
)
def test_moves_that_cannot_happen_are_refused(start: RecipientState, event: RecipientEvent) -> None:
    with pytest.raises(IllegalTransition, match=f"a {start} recipient"):
        advance(start, event)


def test_an_illegal_move_is_a_failed_precondition_with_its_own_code() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        advance("failed", "webhook_sent")
    assert refused.value.code == "illegal_transition"


@pytest.mark.parametrize(
    ("start", "event"),
    [
        ("pending", "release"),
        ("sent", "accept"),
        ("failed", "refuse"),
        ("cancelled", "cancel"),
        ("skipped", "skip"),
        ("unconfirmed", "settle_unconfirmed"),
        ("sent", "webhook_sent"),
        ("delivered", "webhook_delivered"),
        ("read", "webhook_read"),
        ("failed", "webhook_failed"),
    ],
)
def test_a_repeated_event_changes_nothing(start: RecipientState, event: RecipientEvent) -> None:
    assert advance(start, event) == start


@pytest.mark.parametrize(
    ("start", "event"),
    [
        ("read", "webhook_delivered"),
        ("read", "webhook_sent"),
        ("delivered", "webhook_sent"),
        # Webhooks can beat the answer to our own call; what they said stands.
        ("delivered", "accept"),
        ("read", "accept"),
        ("failed", "accept"),
    ],
)
def test_stale_events_never_move_delivery_backwards(
    start: RecipientState, event: RecipientEvent
) -> None:
    assert advance(start, event) == start


def test_delivery_can_skip_steps() -> None:
    assert run("claim", "accept", "webhook_read") == "read"
    assert run("claim", "webhook_delivered") == "delivered"


def test_a_sent_or_delivered_message_can_still_fail() -> None:
    assert run("claim", "accept", "webhook_failed") == "failed"
    assert run("claim", "accept", "webhook_delivered", "webhook_failed") == "failed"


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("sent", "webhook_sent"),
        ("delivered", "webhook_delivered"),
        ("read", "webhook_read"),
        ("failed", "webhook_failed"),
    ],
)
def test_meta_statuses_map_to_webhook_events(status: DeliveryState, event: RecipientEvent) -> None:
    assert webhook_event(status) == event


# -- crash settlement -------------------------------------------------------------------------


def test_a_recipient_in_flight_at_a_crash_is_not_resent_by_default() -> None:
    assert settle_after_crash("in_flight") == "unconfirmed"


def test_the_resend_policy_puts_it_back_in_the_queue() -> None:
    assert settle_after_crash("in_flight", "resend") == "pending"


@pytest.mark.parametrize("state", ["pending", "sent", "delivered", "read", "failed", "cancelled"])
def test_crash_settlement_leaves_settled_recipients_alone(state: RecipientState) -> None:
    assert settle_after_crash(state) == state
    assert settle_after_crash(state, "resend") == state


def test_a_webhook_can_still_confirm_an_unconfirmed_recipient() -> None:
    assert run("webhook_delivered", start="unconfirmed") == "delivered"
    assert run("webhook_failed", start="unconfirmed") == "failed"


# -- recipient records ------------------------------------------------------------------------


def recipient(state: RecipientState = "pending") -> BulkRecipient:
    return BulkRecipient(
        bulk_id=BulkId("a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"),
        position=0,
        e164="+5491112345678",
        variables_used={"name": "Juan Perez"},
        state=state,
    )


def test_a_recipient_record_carries_its_wa_id() -> None:
    assert recipient().wa_id == "5491112345678"


def test_recording_events_stamps_each_step_once() -> None:
    claimed = record_event(recipient(), "claim", at=after(0))
    sent = record_event(claimed, "accept", at=after(5), wamid="wamid.1")
    delivered = record_event(sent, "webhook_delivered", at=after(10))
    again = record_event(delivered, "webhook_delivered", at=after(99))
    assert claimed.attempts == 1
    assert (sent.state, sent.wamid, sent.sent_at) == ("sent", "wamid.1", after(5))
    assert (delivered.delivered_at, delivered.read_at) == (after(10), None)
    assert again is delivered


def test_a_read_receipt_without_a_delivery_receipt_stamps_both() -> None:
    sent = record_event(record_event(recipient(), "claim", at=after(0)), "accept", at=after(1))
    read = record_event(sent, "webhook_read", at=after(9))
    assert (read.sent_at, read.delivered_at, read.read_at) == (after(1), after(9), after(9))


def test_a_failure_records_meta_code_and_message() -> None:
    failed = record_event(
        recipient("sent"),
        "webhook_failed",
        at=after(3),
        error_code=131026,
        error_message="Message undeliverable",
    )
    assert (failed.state, failed.failed_at) == ("failed", after(3))
    assert (failed.error_code, failed.error_message) == (131026, "Message undeliverable")


def test_an_unconfirmed_recipient_says_why_until_a_webhook_confirms_it() -> None:
    unconfirmed = record_event(recipient("in_flight"), "settle_unconfirmed", at=after(0))
    assert unconfirmed.error_message == UNCONFIRMED_REASON
    assert "not resent" in UNCONFIRMED_REASON
    confirmed = record_event(unconfirmed, "webhook_delivered", at=after(7))
    assert (confirmed.state, confirmed.error_message) == ("delivered", None)
    assert confirmed.delivered_at == after(7)


def test_recording_an_illegal_move_is_refused() -> None:
    with pytest.raises(IllegalTransition):
        record_event(recipient("failed"), "webhook_sent", at=after(0))


# -- per-message status (the /messages/ listing) ----------------------------------------------


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("failed", "failed"),
        ("unconfirmed", "failed"),
        ("skipped", None),
        ("pending", None),
        ("in_flight", None),
        ("cancelled", None),
    ],
)
def test_message_statuses_are_the_four_documented_ones(
    state: RecipientState, shown: str | None
) -> None:
    assert message_status(state) == shown


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("pending", "pending"),
        ("in_flight", "sending"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("failed", "failed"),
        ("unconfirmed", "failed"),
        ("cancelled", "cancelled"),
        ("skipped", "cancelled"),
    ],
)
def test_every_recipient_shows_one_of_the_seven_documented_statuses(
    state: RecipientState, shown: str
) -> None:
    assert recipient_status(state) == shown


def test_a_recipient_skipped_by_a_stop_keeps_the_stop_reason() -> None:
    skipped = record_event(recipient("pending"), "skip", at=after(0), error_message="Paused")
    assert (skipped.state, skipped.error_message) == ("skipped", "Paused")


# -- counters ---------------------------------------------------------------------------------


def test_counters_reproduce_the_documented_send_status_example() -> None:
    counters = BulkCounters.of_states(["delivered", "read", "sent"])
    assert counters == BulkCounters(total=3, sent=3, delivered=2, read=1, failed=0, pending=0)
    assert counters.progress_percentage == 100.0


def test_every_state_lands_in_exactly_one_of_sent_failed_pending_cancelled() -> None:
    states: list[RecipientState] = [
        "pending",
        "in_flight",
        "sent",
        "delivered",
        "read",
        "failed",
        "skipped",
        "unconfirmed",
        "cancelled",
    ]
    counters = BulkCounters.of_states(states)
    assert (counters.pending, counters.sent, counters.failed, counters.cancelled) == (2, 3, 2, 2)
    assert counters.total == counters.sent + counters.failed + counters.pending + counters.cancelled


def test_counters_from_a_tally_equal_counters_from_states() -> None:
    tally: dict[RecipientState, int] = {"read": 2, "failed": 1, "pending": 4}
    expanded = [state for state, count in tally.items() for _ in range(count)]
    assert BulkCounters.of_tally(tally) == BulkCounters.of_states(expanded)


def test_moving_one_recipient_updates_the_counters_incrementally() -> None:
    counters = BulkCounters.of_states(["pending", "sent"])
    moved = counters.moved("sent", "read")
    assert moved == BulkCounters.of_states(["pending", "read"])
    assert moved.moved("pending", "in_flight") == moved


@pytest.mark.parametrize(
    ("processed", "total", "percentage"),
    [(0, 3, 0.0), (1, 3, 33.3), (2, 3, 66.6), (999, 1000, 99.9), (99_999, 100_000, 99.9)],
)
def test_progress_counts_processed_recipients_and_reaches_100_only_at_the_end(
    processed: int, total: int, percentage: float
) -> None:
    counters = BulkCounters(total=total, sent=processed, pending=total - processed)
    assert counters.processed == processed
    assert counters.progress_percentage == percentage


def test_failed_and_cancelled_recipients_count_as_processed() -> None:
    counters = BulkCounters(total=4, sent=1, failed=1, cancelled=1, pending=1)
    assert counters.progress_percentage == 75.0


# -- bulk status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counters", "expected"),
    [
        (BulkCounters(total=3, sent=3, delivered=2), "COMPLETED"),
        (BulkCounters(total=3, sent=2, failed=1), "PARTIAL"),
        (BulkCounters(total=3, failed=3), "FAILED"),
    ],
)
def test_the_final_status_follows_the_failures(counters: BulkCounters, expected: str) -> None:
    assert final_status(counters, cancelled=False, stopped_reason=None) == expected


def test_a_cancelled_bulk_ends_cancelled_whatever_was_sent() -> None:
    counters = BulkCounters(total=3, sent=2, cancelled=1)
    assert final_status(counters, cancelled=True, stopped_reason=None) == "CANCELLED"


def test_a_bulk_stopped_before_any_success_failed() -> None:
    counters = BulkCounters(total=5, failed=1, pending=4)
    assert final_status(counters, cancelled=False, stopped_reason="template paused") == "FAILED"


def test_a_bulk_stopped_after_some_successes_is_partial() -> None:
    counters = BulkCounters(total=5, sent=2, pending=3)
    assert final_status(counters, cancelled=False, stopped_reason="template paused") == "PARTIAL"


def test_recipients_a_stop_skipped_are_failures_of_the_bulk() -> None:
    counters = BulkCounters(total=5, sent=2, cancelled=3)
    assert final_status(counters, cancelled=False, stopped_reason="template paused") == "PARTIAL"


def test_a_bulk_with_pending_recipients_has_no_final_status_unless_stopped() -> None:
    with pytest.raises(ValueError, match="still pending"):
        final_status(BulkCounters(total=2, sent=1, pending=1), cancelled=False, stopped_reason=None)


def test_a_late_failure_turns_a_completed_bulk_partial() -> None:
    counters = BulkCounters.of_states(["sent", "delivered"]).moved("sent", "failed")
    assert refresh_final_status("COMPLETED", counters, stopped_reason=None) == "PARTIAL"


def test_late_failures_of_every_message_turn_the_bulk_failed() -> None:
    counters = BulkCounters.of_states(["failed", "failed"])
    assert refresh_final_status("PARTIAL", counters, stopped_reason=None) == "FAILED"


@pytest.mark.parametrize("status", ["QUEUED", "PROCESSING", "CANCELLED"])
def test_webhooks_leave_unfinished_and_cancelled_bulks_alone(status: BulkStatus) -> None:
    counters = BulkCounters(total=2, sent=1, failed=1)
    assert refresh_final_status(status, counters, stopped_reason=None) == status


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("QUEUED", "PROCESSING"),
        ("QUEUED", "CANCELLED"),
        ("QUEUED", "FAILED"),
        ("PROCESSING", "COMPLETED"),
        ("PROCESSING", "PARTIAL"),
        ("PROCESSING", "FAILED"),
        ("PROCESSING", "CANCELLED"),
        ("COMPLETED", "PARTIAL"),
        ("PARTIAL", "FAILED"),
        ("PROCESSING", "PROCESSING"),
    ],
)
def test_legal_bulk_moves(current: BulkStatus, target: BulkStatus) -> None:
    assert advance_bulk(current, target) == target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("PROCESSING", "QUEUED"),
        ("QUEUED", "COMPLETED"),
        ("COMPLETED", "PROCESSING"),
        ("COMPLETED", "CANCELLED"),
        ("CANCELLED", "PROCESSING"),
        ("CANCELLED", "COMPLETED"),
    ],
)
def test_illegal_bulk_moves_are_refused(current: BulkStatus, target: BulkStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"a {current} bulk cannot become {target}"):
        advance_bulk(current, target)


def test_only_unfinished_bulks_can_be_cancelled() -> None:
    assert [s for s in BULK_STATUSES if can_cancel(s)] == [
        "SCHEDULED",
        "QUEUED",
        "PROCESSING",
        "PAUSED",
    ]


def test_only_running_bulks_can_be_paused_and_resume_where_they_were() -> None:
    assert [s for s in BULK_STATUSES if can_pause(s)] == ["SCHEDULED", "QUEUED", "PROCESSING"]
    assert advance_bulk("PAUSED", "PROCESSING") == "PROCESSING"
    assert advance_bulk("PAUSED", "QUEUED") == "QUEUED"


# -- status spelling --------------------------------------------------------------------------


def test_statuses_are_uppercase_except_the_202_answer() -> None:
    assert BULK_STATUSES == (
        "SCHEDULED",
        "QUEUED",
        "PROCESSING",
        "PAUSED",
        "COMPLETED",
        "PARTIAL",
        "FAILED",
        "CANCELLED",
    )
    assert ACCEPTED_STATUS == "queued"


@pytest.mark.parametrize(
    ("text", "status"), [("COMPLETED", "COMPLETED"), ("queued", "QUEUED"), (" Partial ", "PARTIAL")]
)
def test_a_status_filter_reads_any_case(text: str, status: BulkStatus) -> None:
    assert parse_bulk_status(text) == status


def test_an_unknown_status_filter_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_bulk_status("DONE")
    assert "status" in refused.value.field_errors
    assert "QUEUED, PROCESSING" in refused.value.message
