"""The callback use cases over the memory stores: registering checks before it stores, the
secret is stored encrypted and shown once; the delivery worker signs, posts, and records what
follows each answer (a fake of our own sender port: no network)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.adapters.memory.stores import memory_stores
from mindo_core.adapters.memory.tables import Tables
from mindo_core.callbacks.model import NewEvent
from mindo_core.callbacks.retry_schedule import RetryPolicy
from mindo_core.callbacks.signing import SIGNATURE_HEADER, verify
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import InvalidRequest, WebhookEndpointNotFound
from mindo_core.ports.callbacks import CallbackResponse
from mindo_core.ports.stores import Stores
from mindo_core.services.callback_delivery import CallbackDelivery, DeliverySettings
from mindo_core.services.webhook_endpoints import WebhookEndpoints
from tests.fakes import ReversingCipher

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


@dataclass
class ScriptedSender:
    """Answers each POST with the next scripted response (the last one repeats)."""

    answers: list[CallbackResponse]
    posts: list[tuple[str, bytes, Mapping[str, str]]] = field(default_factory=list)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> CallbackResponse:
        self.posts.append((url, body, dict(headers)))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    async def close(self) -> None:
        return None


@dataclass
class World:
    tables: Tables
    stores: Stores
    clock: FixedClock
    endpoints: WebhookEndpoints


async def world() -> World:
    tables = Tables()
    stores = memory_stores(tables)
    clock = FixedClock(NOW)
    endpoints = WebhookEndpoints(
        endpoints=stores.webhook_endpoints,
        outbox=stores.callback_outbox,
        cipher=ReversingCipher(),
        clock=clock,
    )
    return World(tables, stores, clock, endpoints)


def worker(w: World, sender: ScriptedSender) -> CallbackDelivery:
    return CallbackDelivery(
        outbox=w.stores.callback_outbox,
        sender=sender,
        cipher=ReversingCipher(),
        clock=w.clock,
        settings=DeliverySettings(retry=RetryPolicy(base_seconds=10, max_seconds=60)),
    )


async def org(w: World) -> OrganisationId:
    return (await w.stores.organisations.create_organisation("acme")).id


def read_event(organisation_id: OrganisationId) -> NewEvent:
    return NewEvent(
        organisation_id=organisation_id,
        type="message.read",
        occurred_at=NOW,
        data={"wamid": "wamid.1", "status": "read"},
    )


async def test_a_registered_endpoint_keeps_its_secret_encrypted_and_shows_it_once() -> None:
    w = await world()
    organisation = await org(w)

    created = await w.endpoints.add(organisation, "https://hooks.example.com/m")

    assert created.secret.startswith("whsec_")
    (entry,) = w.tables.webhook_endpoints.values()
    assert entry.secret == created.secret[::-1].encode()
    assert created.secret not in repr(created)


async def test_a_bad_url_or_event_stores_nothing() -> None:
    w = await world()
    organisation = await org(w)

    for url, events in (("http://127.0.0.1/x", []), ("https://ok.example.com", ["nope"])):
        with pytest.raises(InvalidRequest):
            await w.endpoints.add(organisation, url, events)

    assert w.tables.webhook_endpoints == {}


async def test_another_organisations_endpoint_is_not_found() -> None:
    w = await world()
    organisation = await org(w)
    other = (await w.stores.organisations.create_organisation("globex")).id
    created = await w.endpoints.add(organisation, "https://hooks.example.com/m")

    with pytest.raises(WebhookEndpointNotFound):
        await w.endpoints.remove(other, created.endpoint.id)
    with pytest.raises(WebhookEndpointNotFound):
        await w.endpoints.rotate_secret(other, created.endpoint.id)


async def test_a_delivery_is_signed_with_the_secret_and_recorded_delivered() -> None:
    w = await world()
    organisation = await org(w)
    created = await w.endpoints.add(organisation, "https://hooks.example.com/m")
    await w.stores.callback_outbox.enqueue([read_event(organisation)])
    sender = ScriptedSender([CallbackResponse(status_code=204)])

    assert await worker(w, sender).deliver_due() == 1

    ((url, body, headers),) = sender.posts
    assert url == "https://hooks.example.com/m"
    assert verify(headers[SIGNATURE_HEADER], body, created.secret, now=NOW.timestamp())
    assert json.loads(body)["id"] == headers["Mindo-Event-Id"]
    assert await worker(w, sender).deliver_due() == 0
    (attempt,) = await w.endpoints.attempts(organisation, created.endpoint.id)
    assert (attempt.status_code, attempt.delivered) == (204, True)


async def test_a_500_is_tried_again_later_and_a_404_is_given_up() -> None:
    w = await world()
    organisation = await org(w)
    await w.endpoints.add(organisation, "https://hooks.example.com/m")
    await w.stores.callback_outbox.enqueue([read_event(organisation)])
    sender = ScriptedSender([CallbackResponse(status_code=500), CallbackResponse(status_code=404)])
    delivery = worker(w, sender)

    await delivery.deliver_due()
    assert await delivery.deliver_due() == 0  # not due yet
    w.clock.advance(11)
    assert await delivery.deliver_due() == 1
    w.clock.advance(3600)

    assert await delivery.deliver_due() == 0
    assert (await w.stores.callback_outbox.backlog()).failed == 1


async def test_after_a_rotation_both_secrets_sign_for_a_day() -> None:
    w = await world()
    organisation = await org(w)
    first = await w.endpoints.add(organisation, "https://hooks.example.com/m")
    second = await w.endpoints.rotate_secret(organisation, first.endpoint.id)
    await w.stores.callback_outbox.enqueue([read_event(organisation)])
    sender = ScriptedSender([CallbackResponse(status_code=200)])

    await worker(w, sender).deliver_due()

    ((_, body, headers),) = sender.posts
    for secret in (first.secret, second.secret):
        assert verify(headers[SIGNATURE_HEADER], body, secret, now=NOW.timestamp())
    assert second.endpoint.previous_secret_expires_at == NOW + timedelta(hours=24)


async def test_a_replay_needs_from_before_to() -> None:
    w = await world()
    organisation = await org(w)
    created = await w.endpoints.add(organisation, "https://hooks.example.com/m")

    with pytest.raises(InvalidRequest):
        await w.endpoints.replay(
            organisation,
            created.endpoint.id,
            since=NOW,
            until=NOW,
        )
