"""The status-callback ports over ``Tables``: endpoints and the outbox, for fast tests.

The memory stores write no events with their own changes (their use is the services' unit
tests); ``enqueue`` puts events in the outbox as the SQL writers do."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from mindo_core.adapters.memory.tables import DeliveryEntry, EndpointEntry, Tables, aware
from mindo_core.callbacks.model import (
    Attempt,
    AttemptResult,
    NewEndpoint,
    NewEvent,
    PendingDelivery,
    WebhookEndpoint,
    WebhookEndpointId,
    event_body,
)
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.callbacks import CallbackBacklog

DISABLED_REASON = "failed without one success for {hours:g} hours: re-create it to start again"


class InMemoryWebhookEndpoints:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add_endpoint(self, endpoint: NewEndpoint) -> WebhookEndpoint:
        created = WebhookEndpoint(
            id=WebhookEndpointId(self._tables.next_id()),
            organisation_id=endpoint.organisation_id,
            url=endpoint.url,
            events=endpoint.events,
            created_at=aware(endpoint.created_at),
        )
        self._tables.webhook_endpoints[created.id] = EndpointEntry(
            endpoint=created, secret=endpoint.secret_ciphertext
        )
        return created

    async def list_endpoints(self, organisation_id: OrganisationId) -> Sequence[WebhookEndpoint]:
        return [
            entry.endpoint
            for _, entry in sorted(self._tables.webhook_endpoints.items())
            if entry.endpoint.organisation_id == organisation_id
        ]

    async def get_endpoint(
        self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
    ) -> WebhookEndpoint | None:
        entry = _owned(self._tables, organisation_id, endpoint_id)
        return None if entry is None else entry.endpoint

    async def remove_endpoint(
        self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
    ) -> bool:
        if _owned(self._tables, organisation_id, endpoint_id) is None:
            return False
        del self._tables.webhook_endpoints[endpoint_id]
        deliveries = self._tables.callback_deliveries
        for delivery_id in [i for i, d in deliveries.items() if d.endpoint_id == endpoint_id]:
            del deliveries[delivery_id]
        self._tables.callback_attempts[:] = [
            pair for pair in self._tables.callback_attempts if pair[0] != endpoint_id
        ]
        return True

    async def rotate_secret(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        secret_ciphertext: bytes,
        previous_valid_until: datetime,
    ) -> WebhookEndpoint | None:
        entry = _owned(self._tables, organisation_id, endpoint_id)
        if entry is None:
            return None
        entry.previous_secret = entry.secret
        entry.secret = secret_ciphertext
        entry.endpoint = dataclasses.replace(
            entry.endpoint, previous_secret_expires_at=aware(previous_valid_until)
        )
        return entry.endpoint


class InMemoryCallbackOutbox:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def enqueue(self, events: Sequence[NewEvent]) -> int:
        written = 0
        for event in events:
            event_id = str(uuid.uuid4())
            for endpoint_id, entry in sorted(self._tables.webhook_endpoints.items()):
                endpoint = entry.endpoint
                if endpoint.organisation_id != event.organisation_id:
                    continue
                if endpoint.disabled_at is not None or not endpoint.wants(event.type):
                    continue
                delivery_id = self._tables.next_id()
                at = aware(event.occurred_at)
                self._tables.callback_deliveries[delivery_id] = DeliveryEntry(
                    id=delivery_id,
                    endpoint_id=endpoint_id,
                    organisation_id=event.organisation_id,
                    event_id=event_id,
                    event_type=event.type,
                    occurred_at=at,
                    body=event_body(event_id, event),
                    state="pending",
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                )
                written += 1
        return written

    async def claim_due(
        self, *, worker: str, limit: int, now: datetime, lease_seconds: float
    ) -> Sequence[PendingDelivery]:
        now = aware(now)
        due = sorted(
            (
                d
                for d in self._tables.callback_deliveries.values()
                if d.state == "pending"
                and d.next_attempt_at <= now
                and (d.leased_until is None or d.leased_until < now)
                and self._enabled(d.endpoint_id)
            ),
            key=lambda d: (d.next_attempt_at, d.id),
        )[: max(limit, 0)]
        claimed: list[PendingDelivery] = []
        for delivery in due:
            delivery.leased_until = now + timedelta(seconds=lease_seconds)
            entry = self._tables.webhook_endpoints[delivery.endpoint_id]
            claimed.append(_pending(delivery, entry, now))
        return claimed

    def _enabled(self, endpoint_id: int) -> bool:
        entry = self._tables.webhook_endpoints.get(endpoint_id)
        return entry is not None and entry.endpoint.disabled_at is None

    async def record_attempts(
        self, results: Sequence[AttemptResult], *, disable_after_seconds: float
    ) -> Sequence[WebhookEndpointId]:
        succeeded = {r.endpoint_id for r in results if r.delivered}
        disabled: list[WebhookEndpointId] = []
        for result in results:
            delivery = self._tables.callback_deliveries.get(result.delivery_id)
            if delivery is None:
                continue
            delivery.attempts += 1
            delivery.leased_until = None
            if result.delivered:
                delivery.state = "delivered"
            elif result.retry_at is not None:
                delivery.next_attempt_at = aware(result.retry_at)
            else:
                delivery.state = "failed"
            attempt = Attempt(
                id=self._tables.next_id(),
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                at=aware(result.at),
                status_code=result.status_code,
                error=result.error,
                delivered=result.delivered,
                duration_ms=result.duration_ms,
            )
            self._tables.callback_attempts.append((result.endpoint_id, attempt))
            entry = self._tables.webhook_endpoints.get(result.endpoint_id)
            if entry is None:
                continue
            if result.endpoint_id in succeeded:
                entry.endpoint = dataclasses.replace(entry.endpoint, failing_since=None)
                continue
            at = aware(result.at)
            endpoint = entry.endpoint
            if endpoint.failing_since is None:
                endpoint = dataclasses.replace(endpoint, failing_since=at)
            limit = at - timedelta(seconds=disable_after_seconds)
            streak = endpoint.failing_since
            if endpoint.disabled_at is None and streak is not None and streak <= limit:
                reason = DISABLED_REASON.format(hours=disable_after_seconds / 3600)
                endpoint = dataclasses.replace(endpoint, disabled_at=at, disabled_reason=reason)
                disabled.append(endpoint.id)
            entry.endpoint = endpoint
        return disabled

    async def attempts(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        limit: int,
    ) -> Sequence[Attempt]:
        if _owned(self._tables, organisation_id, endpoint_id) is None:
            return []
        mine = [a for e, a in self._tables.callback_attempts if e == endpoint_id]
        return sorted(mine, key=lambda a: a.id, reverse=True)[:limit]

    async def replay(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        since: datetime,
        until: datetime,
        now: datetime,
    ) -> int:
        if _owned(self._tables, organisation_id, endpoint_id) is None:
            return 0
        since, until, now = aware(since), aware(until), aware(now)
        replayed = 0
        for delivery in self._tables.callback_deliveries.values():
            if delivery.endpoint_id == endpoint_id and since <= delivery.occurred_at < until:
                delivery.state = "pending"
                delivery.next_attempt_at = now
                delivery.created_at = now
                delivery.leased_until = None
                replayed += 1
        return replayed

    async def backlog(self) -> CallbackBacklog:
        states = [d.state for d in self._tables.callback_deliveries.values()]
        return CallbackBacklog(pending=states.count("pending"), failed=states.count("failed"))


def _owned(
    tables: Tables, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
) -> EndpointEntry | None:
    entry = tables.webhook_endpoints.get(endpoint_id)
    if entry is None or entry.endpoint.organisation_id != organisation_id:
        return None
    return entry


def _pending(delivery: DeliveryEntry, entry: EndpointEntry, now: datetime) -> PendingDelivery:
    secrets = [entry.secret]
    expires = entry.endpoint.previous_secret_expires_at
    if entry.previous_secret is not None and expires is not None and expires > now:
        secrets.append(entry.previous_secret)
    return PendingDelivery(
        id=delivery.id,
        endpoint_id=WebhookEndpointId(delivery.endpoint_id),
        url=entry.endpoint.url,
        event_id=delivery.event_id,
        body=delivery.body,
        attempts=delivery.attempts,
        created_at=delivery.created_at,
        secret_ciphertexts=tuple(secrets),
    )
