"""Slots of a phone number that no process holds, taken in the database by whoever sends.

Where several processes share a database, a single send from a process that does not hold its
number reserves its slot in the store: the number's ``paced_until`` moves on by one slot's
spacing, atomically, unless a worker holds the number (then its owner hands out the slots) or
the next slot is further away than the send may wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mindo_core.domain.accounts import PhoneNumberRowId

__all__ = ["NumberPacing", "PacedSlot"]


@dataclass(frozen=True, kw_only=True)
class PacedSlot:
    """A reservation's answer. ``wait``: the slot is taken, this many seconds from now (None:
    nothing taken). ``owned``: a worker holds the number. ``busy_for``: the seconds until the
    slots already taken end."""

    wait: float | None
    owned: bool = False
    busy_for: float = 0.0


class NumberPacing(Protocol):
    async def reserve(
        self, number: PhoneNumberRowId, *, spacing: float, within: float
    ) -> PacedSlot:
        """Take the number's next slot, ``spacing`` seconds after the last one taken (or now),
        if no worker holds the number and the slot comes within ``within`` seconds."""
        ...
