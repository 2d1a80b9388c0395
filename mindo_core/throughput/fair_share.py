"""Which of the bulks sharing one phone number sends next.

Round-robin over the active bulks, in the order they joined: each slot of the number goes to the
first bulk after the last one served that can send at that time. A bulk cannot send when it is
held (it has nothing to send before a given time: retries not yet due, no quota left) or when
its own pacing gate (a smooth ``RateGate`` at its pacing rate, which averages that rate and
never lets two sends come closer than half its spacing) is not open yet. So bulks with
equal demand get equal shares, to within one send, and a bulk capped below its share leaves the
rest to the others instead of wasting it. When no bulk can send at the asked time, the one that
can send soonest gets the slot, at its time. Bulks join and leave at any time; each decision is
O(number of bulks), which stays small per number.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mindo_core.throughput.rate_gate import DEFAULT_MARGIN_SECONDS, RateGate

__all__ = ["BulkKey", "FairShare"]

BulkKey = TypeVar("BulkKey", bound=Hashable)


@dataclass(kw_only=True)
class _Lane:
    gate: RateGate | None
    held_until: float = -math.inf


class FairShare(Generic[BulkKey]):
    """Round-robin over the bulks of one number, each optionally capped by its own rate."""

    def __init__(self, *, margin_seconds: float = DEFAULT_MARGIN_SECONDS) -> None:
        self._margin = margin_seconds
        self._lanes: dict[BulkKey, _Lane] = {}
        self._order: list[BulkKey] = []
        self._cursor = 0  # index in ``_order`` of the bulk whose turn it is

    def __contains__(self, bulk_id: object) -> bool:
        return bulk_id in self._lanes

    def __len__(self) -> int:
        return len(self._order)

    @property
    def bulk_ids(self) -> tuple[BulkKey, ...]:
        return tuple(self._order)

    def add(self, bulk_id: BulkKey, *, max_rate: float | None = None) -> None:
        """A bulk joins, last in the turn order; ``max_rate``: its own limit in messages/s."""
        if bulk_id in self._lanes:
            raise ValueError(f"bulk {bulk_id!r} is already sending on this number")
        gate = None if max_rate is None else self._pacing_gate(max_rate)
        self._lanes[bulk_id] = _Lane(gate=gate)
        self._order.append(bulk_id)

    def _pacing_gate(self, max_rate: float) -> RateGate:
        # A bulk's turn often comes a slot or two after its gate opened (the number's slots are
        # discrete, and another bulk may be first in the round): half a spacing of tolerance
        # keeps that lateness from adding up, so a capped bulk does average its cap.
        return RateGate(
            max_rate, smooth=True, margin_seconds=self._margin, tolerance_seconds=0.5 / max_rate
        )

    def set_max_rate(self, bulk_id: BulkKey, max_rate: float | None) -> None:
        """The bulk's own limit changed (its number's messaging tier, for "tier" pacing): from
        the very next slot on, it gets a fresh gate at the new rate. (The number's own gate, with
        Meta's hard limit, keeps its history.)"""
        self._lanes[bulk_id].gate = None if max_rate is None else self._pacing_gate(max_rate)

    def remove(self, bulk_id: BulkKey) -> None:
        """A bulk leaves (finished, cancelled, stopped); unknown ids are ignored."""
        if self._lanes.pop(bulk_id, None) is None:
            return
        index = self._order.index(bulk_id)
        del self._order[index]
        if index < self._cursor:
            self._cursor -= 1
        if self._cursor >= len(self._order):
            self._cursor = 0

    def hold(self, bulk_id: BulkKey, until: float) -> None:
        """The bulk has nothing to send before ``until`` (``math.inf``: until resumed)."""
        self._lanes[bulk_id].held_until = until

    def resume(self, bulk_id: BulkKey) -> None:
        self._lanes[bulk_id].held_until = -math.inf

    def ready_at(self, bulk_id: BulkKey, at: float) -> float:
        """The earliest time, not before ``at``, at which the bulk may send."""
        lane = self._lanes[bulk_id]
        earliest = max(at, lane.held_until)
        return earliest if lane.gate is None else lane.gate.next_slot(earliest)

    def choose(self, at: float) -> tuple[BulkKey, float] | None:
        """The bulk whose turn it is at ``at`` and when it sends; None when every bulk is held
        for good (or there is none)."""
        soonest: tuple[BulkKey, float] | None = None
        count = len(self._order)
        for offset in range(count):
            bulk_id = self._order[(self._cursor + offset) % count]
            ready = self.ready_at(bulk_id, at)
            if ready <= at:
                return bulk_id, at
            if soonest is None or ready < soonest[1]:
                soonest = (bulk_id, ready)
        if soonest is None or soonest[1] == math.inf:
            return None
        return soonest

    def record(self, bulk_id: BulkKey, at: float) -> None:
        """The bulk sends at ``at``: its gate counts it and the turn passes to the next bulk."""
        lane = self._lanes[bulk_id]
        if lane.gate is not None:
            lane.gate.take(at)
        self._cursor = (self._order.index(bulk_id) + 1) % len(self._order)
