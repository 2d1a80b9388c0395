"""Which numbers this engine may send for right now, by its own monotonic clock.

A lease renewed by a call that began at ``t`` holds in the database until at least
``t + lease_seconds`` (the database stamps it later than ``t``). The engine counts it held only
until ``t + lease_seconds - STOP_MARGIN_S``: it stops starting sends a margin before any other
worker may take the number, so a send it started has that long to reach Meta before the new
owner's first one. A renewal that fails or comes late changes nothing here, so the tenure runs
out on time on its own, whatever the network does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Final

from mindo_core.domain.accounts import PhoneNumberRowId

__all__ = ["STOP_MARGIN_S", "Tenure"]

STOP_MARGIN_S: Final = 1.0


class Tenure:
    def __init__(self) -> None:
        self._until: dict[PhoneNumberRowId, float] = {}

    def holds(self, number: PhoneNumberRowId, now: float) -> bool:
        return now < self._until.get(number, -math.inf)

    def held(self, now: float) -> AbstractSet[PhoneNumberRowId]:
        return frozenset(number for number, until in self._until.items() if now < until)

    def renewed(
        self, held: Iterable[PhoneNumberRowId], *, began_at: float, lease_seconds: float
    ) -> None:
        """A renewal that began at ``began_at`` found these numbers held: only they are."""
        until = began_at + lease_seconds - STOP_MARGIN_S
        self._until = {number: until for number in held}

    def add(
        self, taken: Iterable[PhoneNumberRowId], *, began_at: float, lease_seconds: float
    ) -> None:
        for number in taken:
            self._until[number] = began_at + lease_seconds - STOP_MARGIN_S

    def remove(self, numbers: Iterable[PhoneNumberRowId]) -> None:
        for number in numbers:
            self._until.pop(number, None)
