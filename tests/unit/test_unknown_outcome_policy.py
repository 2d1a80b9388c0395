"""An organisation's unknown-outcome policy: fail or resend, a window of 10 seconds to 24 hours,
refused whole when any part is wrong; the settings use case changes only what it is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.bulks.unknown_outcomes import (
    UnknownOutcomePolicy,
    heard_before,
    settled_unknown_reason,
    unknown_outcome_policy,
)
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import InvalidRequest
from mindo_core.services.unknown_outcome_settings import UnknownOutcomeSettings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACME = OrganisationId(1)


def test_the_default_fails_them_after_ten_minutes() -> None:
    assert UnknownOutcomePolicy() == UnknownOutcomePolicy(
        action="fail", window=timedelta(minutes=10)
    )


@pytest.mark.parametrize("window", [timedelta(seconds=10), timedelta(hours=24)])
def test_the_windows_bounds_are_allowed(window: timedelta) -> None:
    assert unknown_outcome_policy(action=" Resend ", window=window) == UnknownOutcomePolicy(
        action="resend", window=window
    )


def test_every_wrong_part_is_named_at_once() -> None:
    with pytest.raises(InvalidRequest) as refused:
        unknown_outcome_policy(action="retry", window=timedelta(seconds=9))

    assert refused.value.field_errors == {
        "policy": ["'retry' is not one of fail, resend"],
        "window": ["9 s is outside 10 s to 24 h"],
    }


def test_a_later_webhook_settles_once_it_is_a_window_old() -> None:
    policy = UnknownOutcomePolicy(window=timedelta(minutes=10))
    assert heard_before(NOW, policy) == NOW - timedelta(minutes=10)


def test_the_reason_of_a_failed_unknown_says_why() -> None:
    assert settled_unknown_reason(timedelta(minutes=10)) == (
        "Outcome unknown: no status webhook within 10 min while later messages' webhooks "
        "arrived; not resent to avoid a duplicate message"
    )


async def test_only_what_is_given_changes_and_a_bad_change_stores_nothing() -> None:
    settings = UnknownOutcomeSettings(
        policies=memory_stores().unknown_outcome_policies, clock=FixedClock(NOW)
    )

    resend = await settings.update(ACME, action="resend")
    longer = await settings.update(ACME, window=timedelta(hours=1))
    with pytest.raises(InvalidRequest):
        await settings.update(ACME, action="fail", window=timedelta(days=2))

    assert resend == UnknownOutcomePolicy(action="resend")
    assert longer == UnknownOutcomePolicy(action="resend", window=timedelta(hours=1))
    assert await settings.policy(ACME) == longer
    assert await settings.reset(ACME) == UnknownOutcomePolicy()
    assert await settings.policy(ACME) == UnknownOutcomePolicy()
