"""Idempotency keys: what the first request with a key did, so that a repeat answers the same.

A key is the organisation's (two organisations may use the same one), whether it was given to a
single send or to a bulk. The store holds only hashes of the key and of the request (its
fingerprint) and what the answer needs (Meta's wamid, the send time, Meta's refusal; for a bulk,
``answer``: its id and the 202's quota figures), never the request itself: no phone number, no
variables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from mindo_core.domain.accounts import OrganisationId

# pending: the first request is still running (or its process died: see ``stale``).
# sent: Meta accepted it. refused: Meta refused it for good. unknown: Meta's answer never came.
# accepted: a bulk was accepted (``answer`` says which, and what the 202 said).
KeyOutcome = Literal["pending", "sent", "refused", "unknown", "accepted"]


@dataclass(frozen=True, kw_only=True)
class NewIdempotencyKey:
    organisation_id: OrganisationId
    key_hash: str
    fingerprint: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class SettledKey:
    """What became of the first request: ``sent`` (``wamid``, ``sent_at``), ``refused``
    (Meta's ``error_code`` and ``error_message``), ``unknown``, or ``accepted`` (``answer``:
    the use case's own short JSON text, with no personal data)."""

    outcome: Literal["sent", "refused", "unknown", "accepted"]
    settled_at: datetime
    wamid: str | None = None
    sent_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
    answer: str | None = None


@dataclass(frozen=True, kw_only=True)
class IdempotencyRecord:
    organisation_id: OrganisationId
    key_hash: str
    fingerprint: str
    created_at: datetime
    outcome: KeyOutcome
    settled_at: datetime | None = None
    wamid: str | None = None
    sent_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
    answer: str | None = None


class IdempotencyStore(Protocol):
    async def claim_key(
        self, key: NewIdempotencyKey, *, expired_at_or_before: datetime
    ) -> IdempotencyRecord | None:
        """Records ``key`` as pending and returns None, unless the organisation holds that key
        hash already: then the earlier record, untouched. One created at or before
        ``expired_at_or_before`` has expired and is replaced. Atomic: of two claims racing,
        whichever process they run in, exactly one returns None."""
        ...

    async def settle_key(
        self, organisation_id: OrganisationId, key_hash: str, settled: SettledKey
    ) -> None:
        """The pending key's outcome; a key that is not pending is left as it is."""
        ...

    async def release_key(self, organisation_id: OrganisationId, key_hash: str) -> None:
        """Forgets a pending key (nothing reached Meta: the same key may be used again)."""
        ...

    async def purge_keys(self, *, created_at_or_before: datetime) -> int:
        """Deletes keys created at or before the time; returns how many."""
        ...
