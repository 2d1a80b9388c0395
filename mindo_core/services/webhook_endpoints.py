"""An organisation's status-callback endpoints: register one (its secret shown once), list,
remove, rotate the secret with an overlap, list the attempts, replay a time range.

A URL is checked before anything is stored (``callbacks.endpoint_url``); the secret is stored
encrypted with the access tokens' cipher and never logged.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mindo_core.callbacks.endpoint_url import checked_events, checked_url
from mindo_core.callbacks.model import Attempt, NewEndpoint, WebhookEndpoint, WebhookEndpointId
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import InvalidRequest, WebhookEndpointNotFound
from mindo_core.ports.callbacks import CallbackOutbox, WebhookEndpointStore
from mindo_core.ports.secrets import TokenCipher

__all__ = ["ROTATION_OVERLAP", "EndpointWithSecret", "WebhookEndpoints"]

# After a rotation the previous secret signs too, for this long: receivers switch in between.
ROTATION_OVERLAP = timedelta(hours=24)
SECRET_PREFIX = "whsec_"
MAX_ATTEMPTS_LISTED = 100
REPLAY_FROM_FIELD = "from"


@dataclass(frozen=True, kw_only=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str = field(repr=False)


class WebhookEndpoints:
    def __init__(
        self,
        *,
        endpoints: WebhookEndpointStore,
        outbox: CallbackOutbox,
        cipher: TokenCipher,
        clock: Clock,
        allow_private: bool = False,
    ) -> None:
        self._endpoints = endpoints
        self._outbox = outbox
        self._cipher = cipher
        self._clock = clock
        self._allow_private = allow_private

    async def add(
        self, organisation_id: OrganisationId, url: str, events: Sequence[str] = ()
    ) -> EndpointWithSecret:
        checked = checked_url(url, allow_private=self._allow_private)
        wanted = checked_events(events)
        secret = new_secret()
        endpoint = await self._endpoints.add_endpoint(
            NewEndpoint(
                organisation_id=organisation_id,
                url=checked,
                events=wanted,
                secret_ciphertext=self._cipher.encrypt(secret),
                created_at=self._clock.now(),
            )
        )
        return EndpointWithSecret(endpoint=endpoint, secret=secret)

    async def list(self, organisation_id: OrganisationId) -> Sequence[WebhookEndpoint]:
        return await self._endpoints.list_endpoints(organisation_id)

    async def get(
        self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
    ) -> WebhookEndpoint:
        found = await self._endpoints.get_endpoint(organisation_id, endpoint_id)
        if found is None:
            raise WebhookEndpointNotFound(endpoint_id)
        return found

    async def remove(self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId) -> None:
        if not await self._endpoints.remove_endpoint(organisation_id, endpoint_id):
            raise WebhookEndpointNotFound(endpoint_id)

    async def rotate_secret(
        self, organisation_id: OrganisationId, endpoint_id: WebhookEndpointId
    ) -> EndpointWithSecret:
        secret = new_secret()
        endpoint = await self._endpoints.rotate_secret(
            organisation_id,
            endpoint_id,
            secret_ciphertext=self._cipher.encrypt(secret),
            previous_valid_until=self._clock.now() + ROTATION_OVERLAP,
        )
        if endpoint is None:
            raise WebhookEndpointNotFound(endpoint_id)
        return EndpointWithSecret(endpoint=endpoint, secret=secret)

    async def attempts(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        limit: int = MAX_ATTEMPTS_LISTED,
    ) -> Sequence[Attempt]:
        """The latest first, at most ``MAX_ATTEMPTS_LISTED``."""
        await self.get(organisation_id, endpoint_id)
        bounded = min(max(limit, 1), MAX_ATTEMPTS_LISTED)
        return await self._outbox.attempts(organisation_id, endpoint_id, limit=bounded)

    async def replay(
        self,
        organisation_id: OrganisationId,
        endpoint_id: WebhookEndpointId,
        *,
        since: datetime,
        until: datetime,
    ) -> int:
        """The endpoint's events that occurred in [since, until) are sent again (same ids);
        how many."""
        if since >= until:
            raise InvalidRequest.for_field(REPLAY_FROM_FIELD, "must be before 'to'")
        await self.get(organisation_id, endpoint_id)
        return await self._outbox.replay(
            organisation_id, endpoint_id, since=since, until=until, now=self._clock.now()
        )


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)
