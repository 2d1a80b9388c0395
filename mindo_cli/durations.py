"""Durations as operators type them (``90m``, ``12h``, ``30d``, ``1w``), and estimates as they
read them (``23 h 54 min``).

Seconds are not offered: nothing an operator sets (a key's lifetime) is that short, and a bare
number is refused so that ``30`` cannot mean minutes to one reader and days to another.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_PATTERN = re.compile(r"(\d+)\s*([mhdw])")
# timedelta's own ceiling is 999,999,999 days; a century is already more than any key needs.
_LONGEST = timedelta(days=36_525)


class DurationError(ValueError):
    """The text is not a duration; the message says what was expected."""


def parse_duration(text: str) -> timedelta:
    """``'30d'`` → 30 days. Raises ``DurationError`` with a message fit for the operator."""
    match = _PATTERN.fullmatch(text.strip().lower())
    if match is None:
        raise DurationError(
            f"{text!r} is not a duration: use a whole number and a unit, "
            "m (minutes), h (hours), d (days) or w (weeks), e.g. 90m, 12h, 30d, 1w"
        )
    amount = int(match.group(1))
    if amount == 0:
        raise DurationError(f"{text!r} is not a duration: it must be longer than zero")
    if amount > _LONGEST // _UNITS[match.group(2)]:
        raise DurationError(f"{text!r} is too long: at most {_LONGEST.days} days")
    return amount * _UNITS[match.group(2)]


def format_minutes(minutes: float) -> str:
    """An estimate as a reader takes it in: ``0.4 min`` under an hour, ``23 h 54 min`` above."""
    if round(minutes, 1) < 60:
        return f"{minutes:.1f} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"
