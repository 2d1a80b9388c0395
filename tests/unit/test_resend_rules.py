"""Which recipients of a finished bulk a resend takes, and why it leaves the others
(``bulks.resend``): pure rules, every state and the codes table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mindo_core.bulks.model import BULK_STATUSES, BulkId, BulkRecipient, RecipientState
from mindo_core.bulks.resend import (
    RESENDABLE_CODES,
    can_resend_from,
    resend_verdict,
    select_for_resend,
)
from mindo_core.engine.claiming import OPTED_OUT

ONE = BulkRecipient(bulk_id=BulkId("b"), position=0, e164="+34611000000", variables_used={})


def failed(code: int | None, message: str | None = "Meta said no") -> BulkRecipient:
    return replace(ONE, state="failed", error_code=code, error_message=message)


@pytest.mark.parametrize(
    ("state", "verdict"),
    [
        ("sent", "succeeded"),
        ("delivered", "succeeded"),
        ("read", "succeeded"),
        ("unconfirmed", "outcome_unknown"),
        ("cancelled", "cancelled"),
        ("skipped", "stopped"),
    ],
)
def test_each_state_has_its_verdict(state: RecipientState, verdict: str) -> None:
    assert resend_verdict(replace(ONE, state=state)) == verdict


@pytest.mark.parametrize("code", [131049, 130429, 131000, 131016, 2, 132015, 190, None])
def test_failures_worth_retrying_are_taken(code: int | None) -> None:
    assert resend_verdict(failed(code)) == "retryable_error"


@pytest.mark.parametrize("code", [131026, 131047, 131051, 132000, 132016, 100])
def test_failures_about_the_recipient_or_for_good_are_left(code: int) -> None:
    assert resend_verdict(failed(code)) == "permanent_error"


def test_one_skipped_as_opted_out_is_never_taken_even_when_its_code_is_asked() -> None:
    opted_out = replace(ONE, state="opted_out", error_message=OPTED_OUT)

    assert resend_verdict(opted_out) == "opted_out"
    assert resend_verdict(opted_out, error_codes=frozenset({0})) == "opted_out"


def test_codes_given_take_only_failures_with_them() -> None:
    codes = frozenset({131026})

    assert resend_verdict(failed(131026), error_codes=codes) == "retryable_error"
    assert resend_verdict(failed(131049), error_codes=codes) == "not_requested"
    assert resend_verdict(failed(None), error_codes=codes) == "not_requested"
    assert resend_verdict(replace(ONE, state="skipped"), error_codes=codes) == "not_requested"
    assert resend_verdict(replace(ONE, state="read"), error_codes=codes) == "succeeded"


def test_the_table_holds_the_engines_retryable_codes_and_no_permanent_one() -> None:
    assert {4, 80007, 130429, 131000, 131016, 131056, 131057, 133004, 131049} <= RESENDABLE_CODES
    assert not {131026, 131047, 132016, 133010, 368} & RESENDABLE_CODES


def test_a_selection_keeps_the_order_and_counts_the_rest_by_reason() -> None:
    people = [
        replace(failed(131049), position=0),
        replace(ONE, position=1, state="read"),
        replace(failed(131026), position=2),
        replace(ONE, position=3, state="skipped"),
        replace(ONE, position=4, state="delivered"),
        replace(ONE, position=5, state="opted_out", error_message=OPTED_OUT),
    ]

    selection = select_for_resend(people)

    assert [r.position for r in selection.taken] == [0, 3]
    assert selection.left_by_reason() == {"succeeded": 2, "opted_out": 1, "permanent_error": 1}
    assert selection.left_count == 4


def test_only_a_bulk_that_is_over_can_be_resent_from() -> None:
    assert [s for s in BULK_STATUSES if can_resend_from(s)] == [
        "COMPLETED",
        "PARTIAL",
        "FAILED",
        "CANCELLED",
    ]
