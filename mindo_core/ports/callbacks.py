"""Status callbacks: the organisation's webhook endpoints, the outbox of their deliveries, and
the HTTP client that posts them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mindo_core.callbacks.model import (
    Attempt,
    AttemptResult,
    NewEndpoint,
    NewEvent,
    PendingDelivery,
    WebhookEndpoint,
    WebhookEndpointId,
)
from mindo_core.domain.accounts import OrganisationId


class WebhookEndpointStore(Protocol):
    """Endpoints are scoped by organisation: another organisation's id finds nothing."""

    async def add_endpoint(self, endpoint: NewEndpoint) -> WebhookEndpoint: ...

    async def list_endpoints(self, organisation_id: OrganisationId) -> Sequence[WebhookEndpoint]:
        """Oldest first."""
        ...

    async def get_endpoint(
        self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
    ) -> WebhookEndpoint | None: ...

    async def remove_endpoint(
        self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
    ) -> bool:
        """Removes it with its pending deliveries and attempts; False when there is none."""
        ...

    async def rotate_secret(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        secret_ciphertext: bytes,
        previous_valid_until: datetime,
    ) -> WebhookEndpoint | None:
        """The new secret signs from now on; the current one also signs until
        ``previous_valid_until``. None when there is no such endpoint."""
        ...


class CallbackOutbox(Protocol):
    """Deliveries of events to endpoints. Events are written by the stores with the changes they
    report; ``enqueue`` writes some on its own (replays of tests, and adapters without a
    transaction to share)."""

    async def enqueue(self, events: Sequence[NewEvent]) -> int:
        """One delivery per event and endpoint of its organisation subscribed to its type (and
        not disabled); returns how many."""
        ...

    async def claim_due(
        self, *, worker: str, limit: int, now: datetime, lease_seconds: float
    ) -> Sequence[PendingDelivery]:
        """Up to ``limit`` pending deliveries due at ``now``, oldest first, leased to ``worker``
        until ``now + lease_seconds`` (another worker skips them until then)."""
        ...

    async def record_attempts(
        self, results: Sequence[AttemptResult], *, disable_after_seconds: float
    ) -> Sequence[WebhookEndpointId]:
        """Keeps each attempt, moves its delivery (delivered, due again at ``retry_at``, or
        given up), clears an endpoint's failing streak on success, starts one on failure, and
        disables an endpoint whose streak is older than ``disable_after_seconds``; returns the
        endpoints disabled now."""
        ...

    async def attempts(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        limit: int,
    ) -> Sequence[Attempt]:
        """The latest first."""
        ...

    async def replay(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        since: datetime,
        until: datetime,
        now: datetime,
    ) -> int:
        """Every delivery to the endpoint of an event that occurred in [since, until) becomes
        due again at ``now`` (the same event ids: receivers deduplicate); returns how many."""
        ...

    async def backlog(self) -> CallbackBacklog: ...


@dataclass(frozen=True, kw_only=True)
class CallbackBacklog:
    pending: int
    failed: int


@dataclass(frozen=True, kw_only=True)
class CallbackResponse:
    """What the receiver answered; ``status_code`` None when it did not (timeout, refused)."""

    status_code: int | None
    retry_after: str | None = None
    error: str | None = None


class CallbackSender(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> CallbackResponse: ...

    async def close(self) -> None: ...
