"""``InMemoryIdempotency``: the ``IdempotencyStore`` port over the shared ``Tables``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mindo_core.adapters.memory.tables import Tables, aware, aware_or_none
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.idempotency import IdempotencyRecord, NewIdempotencyKey, SettledKey


class InMemoryIdempotency:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def claim_key(
        self, key: NewIdempotencyKey, *, expired_at_or_before: datetime
    ) -> IdempotencyRecord | None:
        slot = (key.organisation_id, key.key_hash)
        found = self._tables.idempotency_keys.get(slot)
        if found is not None and found.created_at > aware(expired_at_or_before):
            return found
        self._tables.idempotency_keys[slot] = IdempotencyRecord(
            organisation_id=key.organisation_id,
            key_hash=key.key_hash,
            fingerprint=key.fingerprint,
            created_at=aware(key.created_at),
            outcome="pending",
        )
        return None

    async def settle_key(
        self, organisation_id: OrganisationId, key_hash: str, settled: SettledKey
    ) -> None:
        slot = (organisation_id, key_hash)
        found = self._tables.idempotency_keys.get(slot)
        if found is None or found.outcome != "pending":
            return
        self._tables.idempotency_keys[slot] = replace(
            found,
            outcome=settled.outcome,
            settled_at=aware(settled.settled_at),
            wamid=settled.wamid,
            sent_at=aware_or_none(settled.sent_at),
            error_code=settled.error_code,
            error_message=settled.error_message,
            answer=settled.answer,
        )

    async def release_key(self, organisation_id: OrganisationId, key_hash: str) -> None:
        slot = (organisation_id, key_hash)
        found = self._tables.idempotency_keys.get(slot)
        if found is not None and found.outcome == "pending":
            del self._tables.idempotency_keys[slot]

    async def purge_keys(self, *, created_at_or_before: datetime) -> int:
        cutoff = aware(created_at_or_before)
        expired = [s for s, r in self._tables.idempotency_keys.items() if r.created_at <= cutoff]
        for slot in expired:
            del self._tables.idempotency_keys[slot]
        return len(expired)
