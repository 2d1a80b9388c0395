"""Idempotency keys for bulk submits: the same key and request make one bulk.

A client that did not get its 202 sends the same request again with the same key. Within 24
hours of the first (``KEY_LIFETIME``, shared with single sends and in the same namespace of keys
per organisation):

* the same key and the same request answer the first 202 again (the same ``bulk_send_id``);
  no second bulk is made;
* the same key with another request (or a key first given to a single send) is refused
  (``IdempotencyKeyReused``);
* a refused submit (bad input, an unknown number) does not consume the key.

Racing duplicates, as for single sends: in one process they wait for the first one's answer
(``SingleFlight``); across processes the store's unique key decides and the loser answers
``IdempotencyKeyInFlight`` while the first still runs. Accepting a bulk takes well under a
minute, so a key pending longer than ``STALE_PENDING`` belongs to a process that died before
it stored anything, and is claimed again.

The key keeps the bulk's id and the 202's own figures (the quota plan, the number as it was
then) as short JSON (``SettledKey.answer``): no recipient, no variable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from mindo_core.ports.idempotency import IdempotencyStore, NewIdempotencyKey, SettledKey
from mindo_core.services.idempotent_sends import (
    KEY_LIFETIME,
    STALE_PENDING,
    KeyedRequest,
    SingleFlight,
)

__all__ = ["IdempotentSubmits", "Submitting"]

Answer = TypeVar("Answer")


@dataclass(frozen=True, kw_only=True)
class Submitting(Generic[Answer]):
    """One keyed submit: how to make it (``submit``), what the key keeps of its answer
    (``kept``, short JSON text) and how to answer again from that (``replay``)."""

    submit: Callable[[], Awaitable[Answer]]
    kept: Callable[[Answer], str]
    replay: Callable[[str], Awaitable[Answer]]


class IdempotentSubmits:
    def __init__(self, *, keys: IdempotencyStore, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        self._flight = SingleFlight()

    async def run(self, request: KeyedRequest, submitting: Submitting[Answer]) -> Answer:
        """The submit's answer the first time; later, its replay from what the key kept."""
        return await self._flight.run(request, lambda: self._first_or_replay(request, submitting))

    async def _first_or_replay(
        self, request: KeyedRequest, submitting: Submitting[Answer]
    ) -> Answer:
        now = self._clock.now()
        earlier = await self._keys.claim_key(
            NewIdempotencyKey(
                organisation_id=request.organisation_id,
                key_hash=request.key_hash,
                fingerprint=request.fingerprint,
                created_at=now,
            ),
            expired_at_or_before=now - KEY_LIFETIME,
        )
        if earlier is None:
            # Shielded: a client that goes away once the bulk is stored must not leave its key
            # released (a retry would make a second bulk).
            return await asyncio.shield(self._first(request, submitting))
        if earlier.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused()
        if earlier.outcome == "accepted" and earlier.answer is not None:
            return await submitting.replay(earlier.answer)
        if earlier.outcome != "pending":
            raise IdempotencyKeyReused()  # not a bulk's key
        if not _stale(earlier.created_at, now):
            raise IdempotencyKeyInFlight()
        # Its process died before storing the bulk (the bulk and the key's answer are written
        # moments apart): start afresh.
        await self._keys.release_key(request.organisation_id, request.key_hash)
        return await self._first_or_replay(request, submitting)

    async def _first(self, request: KeyedRequest, submitting: Submitting[Answer]) -> Answer:
        try:
            first = await submitting.submit()
        except BaseException:
            await self._keys.release_key(request.organisation_id, request.key_hash)
            raise
        settled = SettledKey(
            outcome="accepted", settled_at=self._clock.now(), answer=submitting.kept(first)
        )
        await self._keys.settle_key(request.organisation_id, request.key_hash, settled)
        return first


def _stale(created_at: datetime, now: datetime) -> bool:
    return now - created_at >= STALE_PENDING
