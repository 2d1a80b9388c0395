"""Where a phone number's owner probably is in time: the IANA zones of its country and region,
from ``phonenumbers``' geographic data.

A number may map to several zones (Spain: Madrid and the Canaries; Australian mobiles: every
zone of the country); callers decide what to do with all of them. A number with no geographic
data (``Etc/Unknown``) maps to none. One lookup costs about 0.1 ms and the data's keys are at
most 9 digits long, so a ``ZoneLookup`` answers once per first 9 digits of the E.164 number (a
mobile and a landline sharing those digits would share an answer: none is known to differ).
"""

from __future__ import annotations

from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones

__all__ = ["ZoneLookup"]

_KEY_CHARACTERS: Final = 10  # "+" and 9 digits
_UNKNOWN: Final = "Etc/Unknown"
# Answers kept at most (then forgotten all at once): a long-lived engine meets many prefixes.
_MAX_KEPT: Final = 65_536


class ZoneLookup:
    def __init__(self) -> None:
        self._known: dict[str, tuple[ZoneInfo, ...]] = {}

    def zones_of(self, e164: str) -> tuple[ZoneInfo, ...]:
        """The zones of an E.164 number (``+`` and digits); none when unknown."""
        key = e164[:_KEY_CHARACTERS]
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= _MAX_KEPT:
                self._known.clear()
            found = self._known[key] = _looked_up(e164)
        return found


def _looked_up(e164: str) -> tuple[ZoneInfo, ...]:
    try:
        names = phone_timezones.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return ()
    zones: list[ZoneInfo] = []
    for name in names:
        if name == _UNKNOWN:
            continue
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return tuple(zones)
