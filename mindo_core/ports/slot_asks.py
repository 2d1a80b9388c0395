"""Asking the process that holds a phone number for one of its slots.

A worker that holds a number paces it in memory, its bulks and its own single sends together;
a single send in another process asks it for a slot, and it answers from the same pacing (the
single send first), or says how long its slots are taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mindo_core.domain.accounts import PhoneNumber, PhoneNumberRowId

__all__ = ["SlotAnswer", "SlotAsks", "SlotGranter"]


@dataclass(frozen=True, kw_only=True)
class SlotAnswer:
    """``wait``: the slot taken for the asker, this many seconds from when the owner answered
    (None: none within the asker's bound, ``busy_for`` says how long they are taken)."""

    wait: float | None
    busy_for: float = 0.0


# (number, its throughput level, how long the asker may wait) → the answer, or None when this
# process does not hold the number.
SlotGranter = Callable[[PhoneNumberRowId, str, float], SlotAnswer | None]


class SlotAsks(Protocol):
    async def ask(self, number: PhoneNumber, *, within: float) -> SlotAnswer:
        """The answer of whichever process holds ``number`` (it may never come: the caller
        bounds the wait)."""
        ...

    def answer_with(self, granter: SlotGranter) -> None:
        """Answer other processes' asks with ``granter``."""
        ...
