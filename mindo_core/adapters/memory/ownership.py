"""``SoleOwnership``: the ``NumberOwnership`` port where one engine runs alone (SQLite, whose
file lock keeps a second engine out, and the in-memory stores): it owns every number it asks
for, for good."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.ownership import Tenancy

__all__ = ["SoleOwnership"]


class SoleOwnership:
    def __init__(self) -> None:
        self._held: set[PhoneNumberRowId] = set()

    @property
    def lease_seconds(self) -> float:
        return math.inf

    @property
    def sole_engine(self) -> bool:
        return True

    async def renew(self, worker: str) -> Tenancy:
        return Tenancy(held=frozenset(self._held), live_workers=1)

    async def acquire(
        self, worker: str, numbers: Sequence[PhoneNumberRowId], *, limit: int
    ) -> AbstractSet[PhoneNumberRowId]:
        taken = frozenset(list(numbers)[: max(0, limit)])
        self._held |= taken
        return taken

    async def paced_by_others(
        self, numbers: Iterable[PhoneNumberRowId]
    ) -> Mapping[PhoneNumberRowId, float]:
        return {}  # nobody else sends from its numbers

    async def release(self, worker: str, numbers: Iterable[PhoneNumberRowId]) -> None:
        self._held -= set(numbers)

    async def leave(self, worker: str) -> None:
        self._held.clear()
