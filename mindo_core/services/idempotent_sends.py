"""Idempotency keys for single sends: the same key answers the same, and Meta is called once.

A client that did not get its answer (a dropped connection, a timeout of its own) sends the
same request again with the same key. Within 24 hours of the first (``KEY_LIFETIME``):

* the same key and the same request answer what the first did: the same wamid, status and
  time, or Meta's same refusal; Meta is not called again;
* the same key with another request is refused (``IdempotencyKeyReused``);
* if the first call to Meta got no answer (a timeout), nobody knows whether it was sent: the
  key answers ``OutcomeUnknown`` (the first request too), and never sends again.

What does not consume the key: a refusal before Meta was called (bad input, the quota) and a
refusal Meta makes when it sent nothing and says so (a retryable error: 130429, 131000, a
connection never made). The same key may then be used again, for any request.

Racing duplicates. In one process the first request runs and identical ones arriving meanwhile
wait for its answer (single flight, keyed by organisation and key). Across processes the
store's unique key decides (``IdempotencyStore.claim_key``): the loser answers
``IdempotencyKeyInFlight`` (retry after a second) while the first still runs; a key left
pending longer than ``STALE_PENDING`` (its process died mid-call) reads as an unknown outcome.

Keys are scoped per organisation and stored hashed (SHA-256), with a SHA-256 fingerprint of
the request; neither the key nor any of the request's values is kept in the clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidRequest,
    MetaError,
    MetaErrorDetail,
    MetaUnavailable,
    OutcomeUnknown,
)
from mindo_core.ports.idempotency import (
    IdempotencyRecord,
    IdempotencyStore,
    NewIdempotencyKey,
    SettledKey,
)

__all__ = [
    "KEY_LIFETIME",
    "MAX_KEY_CHARS",
    "STALE_PENDING",
    "IdempotentSends",
    "KeyedRequest",
    "SendProgress",
    "Sending",
    "Sent",
    "SingleFlight",
]

KEY_LIFETIME = timedelta(hours=24)
# Longer than any call to Meta may last (its timeout is seconds): a key pending this long
# belongs to a process that died mid-call.
STALE_PENDING = timedelta(minutes=5)
MAX_KEY_CHARS = 255
PURGE_EVERY = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class KeyedRequest:
    """A request's key and fingerprint, as stored: hashes only."""

    organisation_id: OrganisationId
    key_hash: str
    fingerprint: str

    @classmethod
    def fingerprinted(
        cls, organisation_id: OrganisationId, key: str, fingerprint: str
    ) -> KeyedRequest:
        """``fingerprint``: a digest of the request the caller made itself (a bulk's, over
        its canonical wire bytes: hashing 100,000 recipients field by field costs more)."""
        return cls(
            organisation_id=organisation_id,
            key_hash=_sha256(_checked(key)),
            fingerprint=fingerprint,
        )

    @classmethod
    def of(cls, organisation_id: OrganisationId, key: str, request_fields: object) -> KeyedRequest:
        """``request_fields``: the request as plain JSON-able data (the fingerprint's input)."""
        return cls(
            organisation_id=organisation_id,
            key_hash=_sha256(_checked(key)),
            fingerprint=_sha256(json.dumps(request_fields, sort_keys=True, ensure_ascii=False)),
        )

    @property
    def slot(self) -> tuple[OrganisationId, str]:
        return (self.organisation_id, self.key_hash)


class SendProgress:
    """How far one send got: whether its call to Meta started (after that, a failure may hide a
    sent message)."""

    def __init__(self) -> None:
        self.meta_called = False


@dataclass(frozen=True, kw_only=True)
class Sent:
    """What a successful send answered, in the terms the key keeps."""

    wamid: str
    sent_at: datetime


Answer = TypeVar("Answer")


@dataclass(frozen=True, kw_only=True)
class Sending(Generic[Answer]):
    """One keyed send: how to make it (``send``), what the key keeps of its answer (``kept``),
    and how to answer again from that (``replay``)."""

    send: Callable[[SendProgress], Awaitable[Answer]]
    kept: Callable[[Answer], Sent]
    replay: Callable[[Sent], Awaitable[Answer]]


@dataclass
class _Flight:
    fingerprint: str
    answer: asyncio.Future[Any]


class SingleFlight:
    """In one process, the first request with a key runs and identical ones arriving meanwhile
    wait for its answer; one with the same key and another fingerprint is refused."""

    def __init__(self) -> None:
        self._flights: dict[tuple[OrganisationId, str], _Flight] = {}

    async def run(self, request: KeyedRequest, first: Callable[[], Awaitable[Answer]]) -> Answer:
        while (flight := self._flights.get(request.slot)) is not None:
            if flight.fingerprint != request.fingerprint:
                raise IdempotencyKeyReused()
            try:
                answered: Answer = await asyncio.shield(flight.answer)
                return answered
            except asyncio.CancelledError:
                if not flight.answer.cancelled():
                    raise  # this request was cancelled
                # The first was (its client went away): ask the store what it left.
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._flights[request.slot] = _Flight(request.fingerprint, answer)
        try:
            result = await first()
        except asyncio.CancelledError:
            answer.cancel()
            raise
        except BaseException as error:
            answer.set_exception(error)
            answer.exception()  # retrieved: a flight nobody waited for logs nothing
            raise
        else:
            answer.set_result(result)
            return result
        finally:
            del self._flights[request.slot]


class IdempotentSends:
    def __init__(self, *, keys: IdempotencyStore, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        self._flight = SingleFlight()
        self._next_purge: datetime | None = None

    async def run(self, request: KeyedRequest, sending: Sending[Answer]) -> Answer:
        """The send's answer the first time; later, its replay from what the key recorded."""
        return await self._flight.run(request, lambda: self._first_or_replay(request, sending))

    async def _first_or_replay(self, request: KeyedRequest, sending: Sending[Answer]) -> Answer:
        now = self._clock.now()
        await self._purge_now_and_then(now)
        earlier = await self._keys.claim_key(
            NewIdempotencyKey(
                organisation_id=request.organisation_id,
                key_hash=request.key_hash,
                fingerprint=request.fingerprint,
                created_at=now,
            ),
            expired_at_or_before=now - KEY_LIFETIME,
        )
        if earlier is not None:
            return await sending.replay(self._answer_again(request, earlier, now))
        progress = SendProgress()
        try:
            first = await sending.send(progress)
        except BaseException as error:
            await asyncio.shield(self._settle_failure(request, error, progress, now))
            if isinstance(error, MetaUnavailable) and error.maybe_sent:
                raise OutcomeUnknown(first_attempt_at=now) from None
            raise
        kept = sending.kept(first)
        settled = SettledKey(
            outcome="sent", settled_at=self._clock.now(), wamid=kept.wamid, sent_at=kept.sent_at
        )
        await self._keys.settle_key(request.organisation_id, request.key_hash, settled)
        return first

    def _answer_again(
        self, request: KeyedRequest, earlier: IdempotencyRecord, now: datetime
    ) -> Sent:
        """What the first request answered, if it was a message sent; raises what it raised."""
        if earlier.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused()
        if earlier.outcome == "sent" and earlier.wamid and earlier.sent_at:
            return Sent(wamid=earlier.wamid, sent_at=earlier.sent_at)
        if earlier.outcome == "refused":
            detail = MetaErrorDetail(
                meta_code=earlier.error_code or 0, title=earlier.error_message or ""
            )
            raise MetaError(detail, retryable=False)
        if earlier.outcome == "pending" and now - earlier.created_at < STALE_PENDING:
            raise IdempotencyKeyInFlight()
        raise OutcomeUnknown(first_attempt_at=earlier.created_at)

    async def _settle_failure(
        self, request: KeyedRequest, error: BaseException, progress: SendProgress, now: datetime
    ) -> None:
        organisation_id, key_hash = request.slot
        if isinstance(error, MetaError) and not error.retryable and progress.meta_called:
            refused = SettledKey(
                outcome="refused",
                settled_at=self._clock.now(),
                error_code=error.meta_code,
                error_message=error.detail.title,
            )
            await self._keys.settle_key(organisation_id, key_hash, refused)
        elif _nothing_sent(error, progress):
            await self._keys.release_key(organisation_id, key_hash)
        else:
            unknown = SettledKey(outcome="unknown", settled_at=self._clock.now())
            await self._keys.settle_key(organisation_id, key_hash, unknown)

    async def _purge_now_and_then(self, now: datetime) -> None:
        if self._next_purge is not None and now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY
        await self._keys.purge_keys(created_at_or_before=now - KEY_LIFETIME)


def _nothing_sent(error: BaseException, progress: SendProgress) -> bool:
    if not progress.meta_called:
        return True
    if isinstance(error, MetaError):
        return error.retryable  # Meta said "not now": it did not send
    if isinstance(error, MetaUnavailable):
        return not error.maybe_sent
    return False


def _checked(key: str) -> str:
    if not key or len(key) > MAX_KEY_CHARS or not (key.isascii() and key.isprintable()):
        raise InvalidRequest.for_field(
            "idempotency_key", f"must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
        )
    return key


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
