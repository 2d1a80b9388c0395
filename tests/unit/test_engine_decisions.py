"""The bulk engine's decisions, as plain functions: what Meta's answer records, what a lane with
nothing ready does, how much it claims, a bulk's own cap."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.bulks.model import NO_ANSWER_REASON, Bulk, BulkCounters, BulkId, BulkStatus
from mindo_core.domain.accounts import (
    BusinessAccountId,
    OrganisationId,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.domain.templates import TemplateId
from mindo_core.engine.decisions import (
    OutcomeRecord,
    claim_size,
    needs_finishing,
    rate_cap,
    record_for,
    step_when_dry,
    stops_every_bulk_of_the_number,
)
from mindo_core.engine.estimating import waiting_plan
from mindo_core.throughput.retry_policy import RetryDecision, SendOutcome

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def bulk(*, status: BulkStatus = "PROCESSING", pacing: str = "max") -> Bulk:
    return Bulk(
        id=BulkId("00000000-0000-0000-0000-000000000001"),
        task_id="task",
        organisation_id=OrganisationId(1),
        phone_number_row_id=PhoneNumberRowId(1),
        template_id=TemplateId(1),
        template_name="order_update",
        language="es",
        status=status,
        counters=BulkCounters(total=3, pending=3),
        total_recipients=3,
        estimated_time_minutes=1.0,
        created_at=NOW,
        pacing=pacing,
    )


def number(tier: str) -> PhoneNumber:
    return PhoneNumber(
        id=PhoneNumberRowId(1),
        business_account_id=BusinessAccountId(1),
        phone_number_id="106540352242922",
        display_phone_number="+1 555 0100",
        verified_name="Acme",
        messaging_limit_tier=tier,
    )


# -- what an answer records -------------------------------------------------------------------


def test_an_accepted_send_is_recorded_as_accepted() -> None:
    assert record_for(RetryDecision(action="done"), SendOutcome.ok()) == OutcomeRecord(
        kind="accept"
    )


def test_a_retry_releases_the_recipient_for_later() -> None:
    decision = RetryDecision(action="retry", delay=2.5)
    record = record_for(decision, SendOutcome.transient(title="timeout"))
    assert record == OutcomeRecord(kind="release", retry_in=2.5)


def test_an_unknown_outcome_records_the_recipient_unconfirmed_saying_why() -> None:
    decision = RetryDecision(action="unknown", reason="no answer before the timeout")
    record = record_for(decision, SendOutcome.unknown(title="no answer before the timeout"))
    assert record == OutcomeRecord(kind="unconfirm", message=NO_ANSWER_REASON)
    assert "no answer from Meta (a timeout" in NO_ANSWER_REASON


def test_giving_up_records_the_policys_reason() -> None:
    decision = RetryDecision(action="give_up", meta_code=131026, reason="retries exhausted")
    record = record_for(decision, SendOutcome.permanent(131026, title="Message undeliverable"))
    assert record == OutcomeRecord(kind="refuse", error_code=131026, message="retries exhausted")


def test_a_stop_records_metas_own_words_and_stops() -> None:
    decision = RetryDecision(action="stop", meta_code=131031, reason="Stopped: account locked")
    record = record_for(decision, SendOutcome.permanent(131031, title="Account locked"))
    assert record == OutcomeRecord(
        kind="refuse", error_code=131031, message="Account locked", stops=True
    )


def test_a_stop_without_metas_words_records_the_reason() -> None:
    decision = RetryDecision(action="stop", meta_code=131031, reason="Stopped: account locked")
    record = record_for(decision, SendOutcome.permanent(131031))
    assert record.message == "Stopped: account locked"


@pytest.mark.parametrize(("code", "every"), [(132015, False), (132016, False), (131031, True)])
def test_only_template_codes_spare_the_numbers_other_bulks(code: int, every: bool) -> None:
    assert stops_every_bulk_of_the_number(code) is every


# -- a lane with nothing ready ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("claiming", "drained", "in_flight", "set_aside", "step"),
    [
        (True, True, 0, False, "claim"),
        (False, False, 0, False, "claim"),
        (False, True, 2, False, "wait"),
        (False, True, 0, True, "wait"),
        (False, True, 0, False, "ask_store"),
    ],
)
def test_a_dry_lane_claims_waits_or_asks_the_store(
    claiming: bool, drained: bool, in_flight: int, set_aside: bool, step: str
) -> None:
    assert (
        step_when_dry(claiming=claiming, drained=drained, in_flight=in_flight, set_aside=set_aside)
        == step
    )


@pytest.mark.parametrize(
    ("status", "finish"),
    [("QUEUED", True), ("PROCESSING", True), ("CANCELLED", False), ("FAILED", False)],
)
def test_only_a_running_bulk_is_finished_in_the_store(status: BulkStatus, finish: bool) -> None:
    assert needs_finishing(bulk(status=status)) is finish


# -- claims and caps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "cap", "size"),
    [(80.0, None, 8), (1000.0, None, 100), (80.0, 25.0, 3), (0.5, None, 1), (1e6, None, 500)],
)
def test_a_claim_is_a_tenth_of_a_second_of_sending_within_bounds(
    rate: float, cap: float | None, size: int
) -> None:
    assert claim_size(rate=rate, cap=cap, claim_seconds=0.1, max_claim=500) == size


@pytest.mark.parametrize(
    ("pacing", "tier", "cap"),
    [
        ("max", "TIER_250", None),
        ("25", "TIER_250", 25.0),
        ("tier", "TIER_250", 1 / 0.24),
        ("tier", "TIER_2K", 1 / 0.03),
        ("tier", "TIER_UNLIMITED", None),
        ("tier", "SOMETHING_NEW", 1 / 0.24),
        ("no longer readable", "TIER_250", None),
    ],
)
def test_a_bulks_cap_comes_from_its_pacing_and_its_numbers_tier(
    pacing: str, tier: str, cap: float | None
) -> None:
    assert rate_cap(bulk(pacing=pacing), number(tier)) == pytest.approx(cap)


def test_a_plan_that_waits_for_quota_is_the_live_estimates_floor() -> None:
    sending = replace(
        bulk(),
        counters=BulkCounters(total=800, pending=800),
        estimated_time_minutes=10 / 60,  # 800 at 80/s
        estimated_completion_at=NOW + timedelta(seconds=10),
    )
    waiting = replace(
        sending,
        estimated_time_minutes=180.0,  # most of them wait hours for the quota window
        estimated_completion_at=NOW + timedelta(hours=3),
    )
    assert waiting_plan(sending, 80.0) is None
    assert waiting_plan(waiting, 80.0) == NOW + timedelta(hours=3)
    assert waiting_plan(replace(waiting, estimated_completion_at=None), 80.0) is None
