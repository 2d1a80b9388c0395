"""Messaging tiers: how many unique users a business portfolio may message in a moving 24 hours.

Mindo spells a tier ``TIER_<daily limit>`` (``TIER_50``, ``TIER_250``, ``TIER_1000``,
``TIER_10000``, ``TIER_100000``) or ``TIER_UNLIMITED``, as its documentation does. Meta's values
are read into that spelling (``parse_tier``):

    Meta                          Mindo            daily limit
    TIER_50                       TIER_50          50
    TIER_250, 250                 TIER_250         250
    TIER_NOT_SET                  TIER_250         250      new portfolios start at 250
    TIER_1K (legacy), 1000        TIER_1000        1,000
    TIER_2K, 2000                 TIER_2000        2,000    Meta's level that replaced 1K; Mindo's
                                                            docs predate it, same spelling pattern
    TIER_10K, 10000               TIER_10000       10,000
    TIER_100K, 100000             TIER_100000      100,000
    TIER_UNLIMITED, -1            TIER_UNLIMITED   none

Integers are ``business_capability_update``'s ``max_daily_conversations_per_business``. A level
Meta adds later (``TIER_5K``) reads the same way rather than failing a webhook. ``parse_tier``
refuses anything else (``UnknownTier``); ``tier_or_default`` reads it as ``DEFAULT_TIER``, the
level a new portfolio starts at, which is how a stored tier is read for pacing, quota plans and
listings alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

__all__ = [
    "DEFAULT_TIER",
    "QUOTA_WINDOW",
    "TIER_50",
    "TIER_250",
    "TIER_1000",
    "TIER_2000",
    "TIER_10000",
    "TIER_100000",
    "TIER_UNLIMITED",
    "Tier",
    "UnknownTier",
    "parse_tier",
    "tier_or_default",
]

# Meta counts a tier's daily limit over a moving 24 hours.
QUOTA_WINDOW = timedelta(hours=24)

_UNLIMITED_NAME = "TIER_UNLIMITED"
_LEVEL = re.compile(r"TIER_([1-9][0-9]{0,8})(K?)")


class UnknownTier(ValueError):
    """A tier value that is neither Mindo's nor Meta's spelling of a level."""


@dataclass(frozen=True, kw_only=True)
class Tier:
    name: str
    # None: no daily limit.
    daily_limit: int | None

    @classmethod
    def for_limit(cls, daily_limit: int | None) -> Tier:
        if daily_limit is None:
            return cls(name=_UNLIMITED_NAME, daily_limit=None)
        if daily_limit < 1:
            raise UnknownTier(f"a daily limit must be at least 1, not {daily_limit}")
        return cls(name=f"TIER_{daily_limit}", daily_limit=daily_limit)

    @property
    def is_unlimited(self) -> bool:
        return self.daily_limit is None


TIER_50 = Tier.for_limit(50)
TIER_250 = Tier.for_limit(250)
TIER_1000 = Tier.for_limit(1000)
TIER_2000 = Tier.for_limit(2000)
TIER_10000 = Tier.for_limit(10_000)
TIER_100000 = Tier.for_limit(100_000)
TIER_UNLIMITED = Tier.for_limit(None)
DEFAULT_TIER = TIER_250

_BY_NAME = {_UNLIMITED_NAME: TIER_UNLIMITED, "TIER_NOT_SET": DEFAULT_TIER}
_UNLIMITED_INTEGER = -1


def parse_tier(value: str | int) -> Tier:
    """Mindo's tier for Meta's or Mindo's spelling (case-insensitive), or a capability integer."""
    if isinstance(value, int):
        return TIER_UNLIMITED if value == _UNLIMITED_INTEGER else Tier.for_limit(value)
    text = value.strip().upper()
    if text.lstrip("-").isdigit():
        return parse_tier(int(text))
    if text in _BY_NAME:
        return _BY_NAME[text]
    level = _LEVEL.fullmatch(text)
    if level is None:
        raise UnknownTier(f"{value!r} is not a messaging tier (e.g. TIER_250, TIER_2K, -1)")
    number, thousands = level.groups()
    return Tier.for_limit(int(number) * (1000 if thousands else 1))


def tier_or_default(value: str) -> Tier:
    """A stored tier as Mindo reads it; one it cannot read counts as a new portfolio's."""
    try:
        return parse_tier(value)
    except UnknownTier:
        return DEFAULT_TIER
