"""The callback outbox as the other repositories write it: events go in with the change they
report, in the same transaction, one row per subscribed endpoint.

Which organisation's endpoints want which event is cached (``CallbackSubscriptions``): the bulk
hot path must not read the endpoints table per batch. The cache is dropped whenever this process
changes an endpoint, and read again after ``REFRESH_SECONDS`` anyway, so an endpoint added by
another process (the API apart from the workers) gets events at most that long after. The
delivery worker asks it too: while no endpoint exists, its rounds (every 50 ms, two lanes) skip
the outbox's claim, which was 40 transactions a second in every idle worker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql.tables import CallbackDeliveryRow, WebhookEndpointRow, metadata
from mindo_core.callbacks.model import NewEvent, event_body
from mindo_core.domain.accounts import OrganisationId

REFRESH_SECONDS = 1.0

_ENDPOINTS = metadata.tables[WebhookEndpointRow.__tablename__]
_DELIVERIES = metadata.tables[CallbackDeliveryRow.__tablename__]

# organisation -> event type -> endpoint ids
Subscribed = Mapping[OrganisationId, Mapping[str, tuple[int, ...]]]


class CallbackSubscriptions:
    def __init__(self) -> None:
        self._map: Subscribed | None = None
        self._read_at = 0.0

    def invalidate(self) -> None:
        self._map = None

    async def current(self, connection: AsyncConnection) -> Subscribed:
        if self._map is None or time.monotonic() - self._read_at > REFRESH_SECONDS:
            self._map = await _read(connection)
            self._read_at = time.monotonic()
        return self._map

    async def wanted(
        self, connection: AsyncConnection, organisation_id: OrganisationId, event_type: str
    ) -> bool:
        return bool((await self.current(connection)).get(organisation_id, {}).get(event_type))

    def surely_none(self) -> bool:
        """No enabled endpoint anywhere, as read less than ``REFRESH_SECONDS`` ago: nothing can
        be due, and the delivery worker need not ask the database."""
        fresh = time.monotonic() - self._read_at <= REFRESH_SECONDS
        return self._map is not None and fresh and not self._map


async def _read(connection: AsyncConnection) -> Subscribed:
    query = sa.select(_ENDPOINTS.c.id, _ENDPOINTS.c.organisation_id, _ENDPOINTS.c.events).where(
        _ENDPOINTS.c.disabled_at.is_(None)
    )
    found: dict[OrganisationId, dict[str, list[int]]] = {}
    for endpoint_id, organisation_id, events in (await connection.execute(query)).all():
        by_type = found.setdefault(OrganisationId(organisation_id), {})
        for event_type in events.split():
            by_type.setdefault(event_type, []).append(endpoint_id)
    return {org: {t: tuple(ids) for t, ids in types.items()} for org, types in found.items()}


async def write_events(
    connection: AsyncConnection,
    subscriptions: CallbackSubscriptions,
    events: Sequence[NewEvent],
) -> int:
    """One outbox row per event and subscribed endpoint; returns how many."""
    if not events:
        return 0
    subscribed = await subscriptions.current(connection)
    if not subscribed:
        return 0
    rows: list[dict[str, object]] = []
    for event in events:
        endpoints = subscribed.get(event.organisation_id, {}).get(event.type, ())
        if not endpoints:
            continue
        event_id = str(uuid.uuid4())
        body = event_body(event_id, event).decode("utf-8")
        for endpoint_id in endpoints:
            rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "organisation_id": event.organisation_id,
                    "event_id": event_id,
                    "event_type": event.type,
                    "occurred_at": event.occurred_at,
                    "body": body,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": event.occurred_at,
                    "created_at": event.occurred_at,
                }
            )
    if rows:
        await connection.execute(sa.insert(_DELIVERIES), rows)
    return len(rows)


async def any_wanted(
    connection: AsyncConnection, subscriptions: CallbackSubscriptions, prefix: str
) -> bool:
    """Whether any organisation wants an event whose type starts with ``prefix``: the writers
    skip building events nobody gets."""
    subscribed = await subscriptions.current(connection)
    return any(t.startswith(prefix) for types in subscribed.values() for t in types)
