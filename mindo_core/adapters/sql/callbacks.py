"""``SqlWebhookEndpoints`` and ``SqlCallbackOutbox``: status callbacks over SQL.

Claims take due deliveries with a lease (``leased_by``, ``leased_until``); on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so several workers each take different rows and never wait for each
other; on SQLite the writing transaction is the database's one writer. A worker killed with its
lease is replaced when the lease runs out: delivery is at least once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.outbox import write_events
from mindo_core.adapters.sql.tables import (
    CallbackAttemptRow,
    CallbackDeliveryRow,
    WebhookEndpointRow,
    metadata,
)
from mindo_core.callbacks.model import (
    EVENT_TYPES,
    Attempt,
    AttemptResult,
    EventType,
    NewEndpoint,
    NewEvent,
    PendingDelivery,
    WebhookEndpoint,
    WebhookEndpointId,
)
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.callbacks import CallbackBacklog

__all__ = ["SqlCallbackOutbox", "SqlWebhookEndpoints"]

_ENDPOINTS = metadata.tables[WebhookEndpointRow.__tablename__]
_DELIVERIES = metadata.tables[CallbackDeliveryRow.__tablename__]
_ATTEMPTS = metadata.tables[CallbackAttemptRow.__tablename__]
DISABLED_REASON = "failed without one success for {hours:g} hours: re-create it to start again"


class SqlWebhookEndpoints:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add_endpoint(self, endpoint: NewEndpoint) -> WebhookEndpoint:
        values = {
            "organisation_id": endpoint.organisation_id,
            "url": endpoint.url,
            "events": " ".join(sorted(endpoint.events)),
            "secret": endpoint.secret_ciphertext,
            "created_at": mapping.timestamp(endpoint.created_at),
        }
        async with self._database.writing() as session:
            connection = await session.connection()
            result = await connection.execute(
                sa.insert(_ENDPOINTS).values(values).returning(*_ENDPOINTS.c)
            )
            row = result.mappings().one()
        self._database.callback_subscriptions.invalidate()
        return _endpoint(row)

    async def list_endpoints(self, organisation_id: OrganisationId) -> Sequence[WebhookEndpoint]:
        query = (
            sa.select(_ENDPOINTS)
            .where(_ENDPOINTS.c.organisation_id == organisation_id)
            .order_by(_ENDPOINTS.c.id)
        )
        async with self._database.transaction() as session:
            rows = (await (await session.connection()).execute(query)).mappings().all()
        return [_endpoint(row) for row in rows]

    async def get_endpoint(
        self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
    ) -> WebhookEndpoint | None:
        async with self._database.transaction() as session:
            row = await _owned(await session.connection(), organisation_id, endpoint_id)
        return None if row is None else _endpoint(row)

    async def remove_endpoint(
        self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
    ) -> bool:
        async with self._database.writing() as session:
            connection = await session.connection()
            if await _owned(connection, organisation_id, endpoint_id) is None:
                return False
            await connection.execute(
                sa.delete(_ATTEMPTS).where(_ATTEMPTS.c.endpoint_id == endpoint_id)
            )
            await connection.execute(
                sa.delete(_DELIVERIES).where(_DELIVERIES.c.endpoint_id == endpoint_id)
            )
            await connection.execute(sa.delete(_ENDPOINTS).where(_ENDPOINTS.c.id == endpoint_id))
        self._database.callback_subscriptions.invalidate()
        return True

    async def rotate_secret(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        secret_ciphertext: bytes,
        previous_valid_until: datetime,
    ) -> WebhookEndpoint | None:
        async with self._database.writing() as session:
            connection = await session.connection()
            if await _owned(connection, organisation_id, endpoint_id) is None:
                return None
            statement = (
                sa.update(_ENDPOINTS)
                .where(_ENDPOINTS.c.id == endpoint_id)
                .values(
                    previous_secret=_ENDPOINTS.c.secret,
                    secret=secret_ciphertext,
                    previous_secret_expires_at=mapping.timestamp(previous_valid_until),
                )
            )
            await connection.execute(statement)
            row = await _owned(connection, organisation_id, endpoint_id)
        return None if row is None else _endpoint(row)


class SqlCallbackOutbox:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def enqueue(self, events: Sequence[NewEvent]) -> int:
        async with self._database.writing() as session:
            return await write_events(
                await session.connection(), self._database.callback_subscriptions, events
            )

    async def claim_due(
        self, *, worker: str, limit: int, now: datetime, lease_seconds: float
    ) -> Sequence[PendingDelivery]:
        now = mapping.timestamp(now)
        subscriptions = self._database.callback_subscriptions
        if limit <= 0 or subscriptions.none_enabled():
            return ()
        due = (
            sa.select(_DELIVERIES.c.id)
            .join(_ENDPOINTS, _ENDPOINTS.c.id == _DELIVERIES.c.endpoint_id)
            .where(
                _DELIVERIES.c.state == "pending",
                _DELIVERIES.c.next_attempt_at <= now,
                sa.or_(_DELIVERIES.c.leased_until.is_(None), _DELIVERIES.c.leased_until < now),
                _ENDPOINTS.c.disabled_at.is_(None),
            )
            .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.id)
            .limit(limit)
        )
        if self._database.dialect == "postgresql":
            due = due.with_for_update(of=_DELIVERIES, skip_locked=True)
        async with self._database.writing() as session:
            connection = await session.connection()
            await subscriptions.current(connection)  # read again once a second (``outbox``)
            ids = list((await connection.execute(due)).scalars().all())
            if not ids:
                return ()
            until = now + timedelta(seconds=lease_seconds)
            await connection.execute(
                sa.update(_DELIVERIES)
                .where(_DELIVERIES.c.id.in_(ids))
                .values(leased_by=worker[:128], leased_until=until)
            )
            rows = (await connection.execute(_claimed(ids))).mappings().all()
        return [_pending(row, now) for row in rows]

    async def record_attempts(
        self, results: Sequence[AttemptResult], *, disable_after_seconds: float
    ) -> Sequence[WebhookEndpointId]:
        if not results:
            return ()
        async with self._database.writing() as session:
            connection = await session.connection()
            await connection.execute(sa.insert(_ATTEMPTS), [_attempt_row(r) for r in results])
            await connection.execute(_MOVE, [_move(r) for r in results])
            disabled = await _update_streaks(connection, results, disable_after_seconds)
        if disabled:
            self._database.callback_subscriptions.invalidate()
        return disabled

    async def attempts(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        limit: int,
    ) -> Sequence[Attempt]:
        query = (
            sa.select(_ATTEMPTS, _DELIVERIES.c.event_id, _DELIVERIES.c.event_type)
            .join(_DELIVERIES, _DELIVERIES.c.id == _ATTEMPTS.c.delivery_id)
            .join(_ENDPOINTS, _ENDPOINTS.c.id == _ATTEMPTS.c.endpoint_id)
            .where(
                _ATTEMPTS.c.endpoint_id == endpoint_id,
                _ENDPOINTS.c.organisation_id == organisation_id,
            )
            .order_by(_ATTEMPTS.c.id.desc())
            .limit(limit)
        )
        async with self._database.transaction() as session:
            rows = (await (await session.connection()).execute(query)).mappings().all()
        return [
            Attempt(
                id=row["id"],
                event_id=row["event_id"],
                event_type=row["event_type"],
                at=mapping.timestamp(row["at"]),
                status_code=row["status_code"],
                error=row["error"],
                delivered=bool(row["delivered"]),
                duration_ms=row["duration_ms"],
            )
            for row in rows
        ]

    async def replay(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        since: datetime,
        until: datetime,
        now: datetime,
    ) -> int:
        now = mapping.timestamp(now)
        async with self._database.writing() as session:
            connection = await session.connection()
            if await _owned(connection, organisation_id, endpoint_id) is None:
                return 0
            statement = (
                sa.update(_DELIVERIES)
                .where(
                    _DELIVERIES.c.endpoint_id == endpoint_id,
                    _DELIVERIES.c.occurred_at >= mapping.timestamp(since),
                    _DELIVERIES.c.occurred_at < mapping.timestamp(until),
                )
                # A replay starts a new retry window of its own.
                .values(
                    state="pending",
                    next_attempt_at=now,
                    created_at=now,
                    leased_by=None,
                    leased_until=None,
                )
            )
            return int((await connection.execute(statement)).rowcount)

    async def backlog(self) -> CallbackBacklog:
        query = (
            sa.select(_DELIVERIES.c.state, sa.func.count())
            .where(_DELIVERIES.c.state.in_(("pending", "failed")))
            .group_by(_DELIVERIES.c.state)
        )
        async with self._database.transaction() as session:
            found = (await (await session.connection()).execute(query)).all()
        counts: dict[str, int] = {state: int(count) for state, count in found}
        return CallbackBacklog(
            pending=int(counts.get("pending", 0)), failed=int(counts.get("failed", 0))
        )


async def _owned(
    connection: AsyncConnection, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
) -> sa.RowMapping | None:
    query = sa.select(_ENDPOINTS).where(
        _ENDPOINTS.c.id == endpoint_id, _ENDPOINTS.c.organisation_id == organisation_id
    )
    return (await connection.execute(query)).mappings().one_or_none()


def _endpoint(row: sa.RowMapping) -> WebhookEndpoint:
    events: frozenset[EventType] = frozenset(t for t in EVENT_TYPES if t in row["events"].split())
    return WebhookEndpoint(
        id=WebhookEndpointId(row["id"]),
        organisation_id=OrganisationId(row["organisation_id"]),
        url=row["url"],
        events=events,
        created_at=mapping.timestamp(row["created_at"]),
        disabled_at=_aware_or_none(row["disabled_at"]),
        disabled_reason=row["disabled_reason"],
        failing_since=_aware_or_none(row["failing_since"]),
        previous_secret_expires_at=_aware_or_none(row["previous_secret_expires_at"]),
    )


def _claimed(ids: Sequence[int]) -> sa.Select[Any]:
    return (
        sa.select(
            _DELIVERIES.c.id,
            _DELIVERIES.c.endpoint_id,
            _DELIVERIES.c.event_id,
            _DELIVERIES.c.body,
            _DELIVERIES.c.attempts,
            _DELIVERIES.c.created_at,
            _ENDPOINTS.c.url,
            _ENDPOINTS.c.secret,
            _ENDPOINTS.c.previous_secret,
            _ENDPOINTS.c.previous_secret_expires_at,
        )
        .join(_ENDPOINTS, _ENDPOINTS.c.id == _DELIVERIES.c.endpoint_id)
        .where(_DELIVERIES.c.id.in_(ids))
        .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.id)
    )


def _pending(row: sa.RowMapping, now: datetime) -> PendingDelivery:
    secrets = [bytes(row["secret"])]
    expires = _aware_or_none(row["previous_secret_expires_at"])
    if row["previous_secret"] is not None and expires is not None and expires > now:
        secrets.append(bytes(row["previous_secret"]))
    return PendingDelivery(
        id=row["id"],
        endpoint_id=WebhookEndpointId(row["endpoint_id"]),
        url=row["url"],
        event_id=row["event_id"],
        body=row["body"].encode("utf-8"),
        attempts=row["attempts"],
        created_at=mapping.timestamp(row["created_at"]),
        secret_ciphertexts=tuple(secrets),
    )


def _attempt_row(result: AttemptResult) -> dict[str, Any]:
    return {
        "endpoint_id": result.endpoint_id,
        "delivery_id": result.delivery_id,
        "at": mapping.timestamp(result.at),
        "status_code": result.status_code,
        "error": None if result.error is None else result.error[:500],
        "delivered": result.delivered,
        "duration_ms": result.duration_ms,
    }


_MOVE = (
    sa.update(_DELIVERIES)
    .where(_DELIVERIES.c.id == sa.bindparam("delivery_id"))
    .values(
        state=sa.bindparam("new_state"),
        attempts=_DELIVERIES.c.attempts + 1,
        next_attempt_at=sa.bindparam("new_next", type_=_DELIVERIES.c.next_attempt_at.type),
        leased_by=None,
        leased_until=None,
    )
)


def _move(result: AttemptResult) -> dict[str, Any]:
    if result.delivered:
        state = "delivered"
    elif result.retry_at is not None:
        state = "pending"
    else:
        state = "failed"
    next_at = result.retry_at if result.retry_at is not None else result.at
    return {
        "delivery_id": result.delivery_id,
        "new_state": state,
        "new_next": mapping.timestamp(next_at),
    }


async def _update_streaks(
    connection: AsyncConnection, results: Sequence[AttemptResult], disable_after_seconds: float
) -> list[WebhookEndpointId]:
    """An endpoint with a success in the batch is failing no more; one with only failures
    starts (or continues) its streak, and is disabled once the streak is long enough."""
    succeeded = {r.endpoint_id for r in results if r.delivered}
    failed_at: dict[WebhookEndpointId, datetime] = {}
    for result in results:
        if result.endpoint_id not in succeeded:
            at = mapping.timestamp(result.at)
            failed_at[result.endpoint_id] = max(at, failed_at.get(result.endpoint_id, at))
    if succeeded:
        await connection.execute(
            sa.update(_ENDPOINTS)
            .where(_ENDPOINTS.c.id.in_(sorted(succeeded)), _ENDPOINTS.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    disabled: list[WebhookEndpointId] = []
    for endpoint_id, at in sorted(failed_at.items()):
        await connection.execute(
            sa.update(_ENDPOINTS)
            .where(_ENDPOINTS.c.id == endpoint_id, _ENDPOINTS.c.failing_since.is_(None))
            .values(failing_since=at)
        )
        limit = at - timedelta(seconds=disable_after_seconds)
        reason = DISABLED_REASON.format(hours=disable_after_seconds / 3600)
        outcome = await connection.execute(
            sa.update(_ENDPOINTS)
            .where(
                _ENDPOINTS.c.id == endpoint_id,
                _ENDPOINTS.c.disabled_at.is_(None),
                _ENDPOINTS.c.failing_since <= limit,
            )
            .values(disabled_at=at, disabled_reason=reason)
        )
        if outcome.rowcount:
            disabled.append(endpoint_id)
    return disabled


def _aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else mapping.timestamp(value)
