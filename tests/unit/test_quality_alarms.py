"""When an account webhook is a quality alarm, and the pause reason it gives
(``delivery.quality_alarms``): pure rules."""

from __future__ import annotations

import pytest

from mindo_core.delivery.quality_alarms import number_alarm, template_alarm, tier_fell
from mindo_core.delivery.webhook_payloads import NumberQualityChange, TemplateQualityChange

NUMBER = "+54 9 223 675-0780"


def number_event(event: str, *, rating: str | None = None) -> NumberQualityChange:
    return NumberQualityChange(
        waba_id="w",
        display_phone_number="5492236750780",
        event=event,
        messaging_limit=None,
        quality_rating=rating,
    )


def alarm(
    event: NumberQualityChange, before: str = "TIER_2K", after: str = "TIER_2K"
) -> str | None:
    return number_alarm(event, display_number=NUMBER, tier_before=before, tier_after=after)


def test_a_flagged_number_is_an_alarm_naming_it() -> None:
    assert alarm(number_event("FLAGGED")) == (
        f"Paused by the quality guard: Meta reported the quality of the number {NUMBER} as FLAGGED"
    )


def test_a_red_rating_is_an_alarm_whatever_the_event() -> None:
    reason = alarm(number_event("ONBOARDING", rating="RED"))

    assert reason is not None
    assert reason.endswith("as RED")


def test_a_lower_tier_is_an_alarm_with_both_tiers() -> None:
    reason = alarm(number_event("DOWNGRADE"), before="TIER_10K", after="TIER_2K")

    assert reason is not None
    assert reason.endswith("from TIER_10K to TIER_2K")


def test_a_downgrade_event_without_a_tier_is_still_an_alarm() -> None:
    assert alarm(number_event("DOWNGRADE")) is not None


@pytest.mark.parametrize("event", ["UNFLAGGED", "UPGRADE", "THROUGHPUT_UPGRADE", "ONBOARDING"])
def test_recovery_and_growth_are_no_alarm(event: str) -> None:
    assert alarm(number_event(event, rating="GREEN"), before="TIER_2K", after="TIER_10K") is None


@pytest.mark.parametrize(
    ("before", "after", "fell"),
    [
        ("TIER_10K", "TIER_2K", True),
        ("TIER_UNLIMITED", "TIER_100K", True),
        ("TIER_2K", "TIER_2K", False),
        ("TIER_2K", "TIER_UNLIMITED", False),
        ("TIER_250", "TIER_1K", False),
    ],
)
def test_a_tier_falls_only_to_a_lower_daily_limit(before: str, after: str, fell: bool) -> None:
    assert tier_fell(before, after) is fell


@pytest.mark.parametrize(
    ("score", "is_alarm"), [("RED", True), ("YELLOW", False), ("GREEN", False)]
)
def test_only_a_red_template_is_an_alarm(score: str, is_alarm: bool) -> None:
    event = TemplateQualityChange(
        waba_id="w", meta_template_id="1", name="promo", language="es", new_quality_score=score
    )

    reason = template_alarm(event, name="promo", language="es")

    assert (reason is not None) is is_alarm
