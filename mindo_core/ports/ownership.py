"""Which engine sends for which phone number: one owner per number, cluster-wide.

An engine holds a number by a lease it renews; a lease it stops renewing (its process killed,
or cut off from the database) expires after ``lease_seconds`` and another engine may take the
number. ``renew`` is also the engine's heartbeat: the engines whose heartbeat holds share the
numbers with work out between them. Where one engine runs alone (SQLite, tests) it owns every
number and ``sole_engine`` says so: what a previous run left in flight is then all its own to
settle at start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol

from mindo_core.domain.accounts import PhoneNumberRowId

__all__ = ["NumberOwnership", "Tenancy"]


@dataclass(frozen=True)
class Tenancy:
    """What a renewal found: the numbers the engine still holds, and how many engines (itself
    included) have a live heartbeat."""

    held: AbstractSet[PhoneNumberRowId]
    live_workers: int


class NumberOwnership(Protocol):
    @property
    def lease_seconds(self) -> float:
        """How long a lease and a heartbeat hold after the renewal that set them began."""
        ...

    @property
    def sole_engine(self) -> bool:
        """True: this engine is the only one over the store, and owns every number."""
        ...

    async def renew(self, worker: str) -> Tenancy:
        """The worker's heartbeat, and every lease it holds that has not expired extended by
        ``lease_seconds``; an expired one is lost, whether or not another worker took it."""
        ...

    async def acquire(
        self, worker: str, numbers: Sequence[PhoneNumberRowId], *, limit: int
    ) -> AbstractSet[PhoneNumberRowId]:
        """Up to ``limit`` of ``numbers``, tried in order, whose lease is free or expired, now
        leased to ``worker``. Atomic per number: two workers never both get one."""
        ...

    async def paced_by_others(
        self, numbers: Iterable[PhoneNumberRowId]
    ) -> Mapping[PhoneNumberRowId, float]:
        """For each of ``numbers`` whose next slots other senders took (single sends of
        processes that did not hold it, its previous owner up to its handover), the seconds
        from now until those end: the new owner's first send waits that long."""
        ...

    async def release(self, worker: str, numbers: Iterable[PhoneNumberRowId]) -> None:
        """The worker's leases of these numbers end now (others' are left alone); the next
        sender's first send keeps one slot's spacing after this one's last."""
        ...

    async def leave(self, worker: str) -> None:
        """The worker stops: its heartbeat and every lease it holds end now."""
        ...
