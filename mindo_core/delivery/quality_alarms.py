"""When an account webhook says quality is dropping, and the ``pause_reason`` it gives a bulk.

Three alarms (the quality guard pauses the bulks they concern, ``services.quality_guard``):

* a number's quality turned low: Meta's ``FLAGGED`` event on ``phone_number_quality_update``, or
  a ``quality_rating`` of RED or FLAGGED in it;
* a number's messaging limit went down: Meta's ``DOWNGRADE`` event, or a new tier (from that
  webhook or the portfolio's ``business_capability_update``) lower than the number had;
* a template's quality score turned RED (``message_template_quality_update``): Meta pauses such a
  template soon after, and every message sent meanwhile weighs on the number's quality.

Recovery (UNFLAGGED, UPGRADE, GREEN) raises no alarm and resumes nothing: a paused bulk resumes
only when a user asks.
"""

from __future__ import annotations

from typing import Final

from mindo_core.delivery.webhook_payloads import NumberQualityChange, TemplateQualityChange
from mindo_core.domain.tiers import tier_or_default

__all__ = ["LOW_QUALITY", "number_alarm", "template_alarm", "tier_fell", "tier_lowered_alarm"]

LOW_QUALITY: Final = frozenset({"RED", "FLAGGED"})
_PREFIX: Final = "Paused by the quality guard: "


def tier_fell(before: str, after: str) -> bool:
    """Whether ``after``'s daily limit is lower than ``before``'s (unlimited is highest)."""
    old, new = tier_or_default(before).daily_limit, tier_or_default(after).daily_limit
    if new is None:
        return False
    return old is None or new < old


def number_alarm(
    event: NumberQualityChange, *, display_number: str, tier_before: str, tier_after: str
) -> str | None:
    """The pause reason the event gives the number's bulks, or None when it is no alarm."""
    rating = event.quality_rating
    if event.event == "FLAGGED" or rating in LOW_QUALITY:
        shown = rating if rating in LOW_QUALITY else "FLAGGED"
        return f"{_PREFIX}Meta reported the quality of the number {display_number} as {shown}"
    if tier_fell(tier_before, tier_after):
        return tier_lowered_alarm(display_number, tier_before, tier_after)
    if event.event == "DOWNGRADE":
        return f"{_PREFIX}Meta lowered the messaging limit of the number {display_number}"
    return None


def tier_lowered_alarm(display_number: str, tier_before: str, tier_after: str) -> str:
    return (
        f"{_PREFIX}Meta lowered the messaging limit of the number {display_number} from "
        f"{tier_before} to {tier_after}"
    )


def template_alarm(event: TemplateQualityChange, *, name: str, language: str) -> str | None:
    """The pause reason the event gives the template's bulks, or None when it is no alarm."""
    if event.new_quality_score != "RED":
        return None
    return f"{_PREFIX}Meta rated the quality of the template '{name}' ({language}) RED"
