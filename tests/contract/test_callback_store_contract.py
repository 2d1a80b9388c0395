"""What every status-callback store promises (memory, a SQLite file, PostgreSQL): endpoints are
the organisation's own; each event goes to each endpoint subscribed to its type, is claimed by
one worker at a time (a lease), and moves as its attempts say (delivered, due again, given up);
a day of failures disables the endpoint; attempts are listed; a time range is replayed. On SQL,
webhook statuses and engine outcomes put their events in the outbox with the change."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mindo_core.callbacks.model import (
    EVENT_TYPES,
    AttemptResult,
    NewEndpoint,
    NewEvent,
    PendingDelivery,
    WebhookEndpoint,
)
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, Tenant, sent_message, tenant
from tests.contract.test_bulk_store_contract import accept, create
from tests.contract.test_contact_store_contract import ANA, inbound
from tests.contract.test_delivery_store_contract import apply, status
from tests.contract.test_unknown_recipients_contract import RESEND, SETTLED, scene

LEASE = 30.0
DAY = 86400.0


async def endpoint(
    stores: Stores,
    organisation_id: OrganisationId,
    *,
    events: frozenset[str] = frozenset(EVENT_TYPES),
    url: str = "https://example.com/hook",
) -> WebhookEndpoint:
    return await stores.webhook_endpoints.add_endpoint(
        NewEndpoint(
            organisation_id=organisation_id,
            url=url,
            events=frozenset(e for e in EVENT_TYPES if e in events),
            secret_ciphertext=b"cipher-1",
            created_at=T0,
        )
    )


def event(
    organisation_id: OrganisationId, event_type: str = "message.delivered", seconds: int = 0
) -> NewEvent:
    return NewEvent(
        organisation_id=organisation_id,
        type=next(t for t in EVENT_TYPES if t == event_type),
        occurred_at=T0 + timedelta(seconds=seconds),
        data={"wamid": f"wamid.{seconds}", "status": "delivered"},
    )


async def claim(stores: Stores, seconds: float = 10, worker: str = "w1") -> list[PendingDelivery]:
    return list(
        await stores.callback_outbox.claim_due(
            worker=worker, limit=100, now=T0 + timedelta(seconds=seconds), lease_seconds=LEASE
        )
    )


def result(
    delivery: PendingDelivery,
    *,
    delivered: bool,
    seconds: float = 10,
    code: int | None = 200,
    retry_in: float | None = None,
) -> AttemptResult:
    at = T0 + timedelta(seconds=seconds)
    return AttemptResult(
        delivery_id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        at=at,
        status_code=code,
        error=None if delivered else "HTTP 500",
        delivered=delivered,
        retry_at=None if retry_in is None else at + timedelta(seconds=retry_in),
        duration_ms=3,
    )


async def record(stores: Stores, *results: AttemptResult, disable_after: float = DAY) -> list[int]:
    return list(
        await stores.callback_outbox.record_attempts(
            list(results), disable_after_seconds=disable_after
        )
    )


# -- endpoints ---------------------------------------------------------------------------------


async def test_an_endpoint_is_listed_only_to_its_organisation(stores: Stores) -> None:
    mine = await tenant(stores)
    other = await tenant(stores, "globex", "2")
    added = await endpoint(stores, mine.organisation.id, events=frozenset({"message.read"}))

    assert await stores.webhook_endpoints.list_endpoints(mine.organisation.id) == [added]
    assert await stores.webhook_endpoints.list_endpoints(other.organisation.id) == []
    assert await stores.webhook_endpoints.get_endpoint(other.organisation.id, added.id) is None
    assert not await stores.webhook_endpoints.remove_endpoint(other.organisation.id, added.id)
    assert added.events == frozenset({"message.read"})
    assert (added.url, added.created_at, added.disabled_at) == (
        "https://example.com/hook",
        T0,
        None,
    )


async def test_claims_find_nothing_without_endpoints_and_an_endpoint_added_at_once(
    stores: Stores,
) -> None:
    """An idle service's claims skip the database while no endpoint is enabled; one added
    in this process is claimed for in the same second."""
    owner = await tenant(stores)
    assert await claim(stores) == []
    await endpoint(stores, owner.organisation.id)
    await stores.callback_outbox.enqueue([event(owner.organisation.id)])

    assert len(await claim(stores)) == 1


async def test_a_removed_endpoint_takes_its_deliveries_with_it(stores: Stores) -> None:
    owner = await tenant(stores)
    added = await endpoint(stores, owner.organisation.id)
    await stores.callback_outbox.enqueue([event(owner.organisation.id)])
    (delivery,) = await claim(stores)
    await record(stores, result(delivery, delivered=False, code=500, retry_in=1))

    assert await stores.webhook_endpoints.remove_endpoint(owner.organisation.id, added.id)

    assert await stores.webhook_endpoints.list_endpoints(owner.organisation.id) == []
    assert await claim(stores, seconds=3600) == []
    assert (await stores.callback_outbox.backlog()).pending == 0


async def test_a_rotated_secret_signs_with_the_previous_one_until_it_expires(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    added = await endpoint(stores, owner.organisation.id)
    until = T0 + timedelta(hours=1)

    rotated = await stores.webhook_endpoints.rotate_secret(
        owner.organisation.id, added.id, secret_ciphertext=b"cipher-2", previous_valid_until=until
    )

    assert rotated is not None
    assert rotated.previous_secret_expires_at == until
    await stores.callback_outbox.enqueue([event(owner.organisation.id)])
    (during,) = await claim(stores, seconds=60)
    assert during.secret_ciphertexts == (b"cipher-2", b"cipher-1")
    await record(stores, result(during, delivered=False, code=503, seconds=60, retry_in=3600))
    (after,) = await claim(stores, seconds=2 * 3600)
    assert after.secret_ciphertexts == (b"cipher-2",)


# -- the outbox --------------------------------------------------------------------------------


async def test_an_event_goes_to_each_endpoint_subscribed_to_its_type(stores: Stores) -> None:
    owner = await tenant(stores)
    other = await tenant(stores, "globex", "2")
    everything = await endpoint(stores, owner.organisation.id)
    reads = await endpoint(stores, owner.organisation.id, events=frozenset({"message.read"}))
    await endpoint(stores, other.organisation.id)

    written = await stores.callback_outbox.enqueue([event(owner.organisation.id)])

    claimed = await claim(stores)
    assert written == 1
    assert [d.endpoint_id for d in claimed] == [everything.id]
    assert reads.id not in {d.endpoint_id for d in claimed}
    body = json.loads(claimed[0].body)
    assert body["type"] == "message.delivered"
    assert body["id"] == claimed[0].event_id
    assert body["data"] == {"wamid": "wamid.0", "status": "delivered"}
    assert body["created_at"] == "2025-03-01T12:00:00Z"


async def test_a_claimed_delivery_is_leased_to_one_worker(stores: Stores) -> None:
    owner = await tenant(stores)
    await endpoint(stores, owner.organisation.id)
    await stores.callback_outbox.enqueue([event(owner.organisation.id, seconds=s) for s in (1, 2)])

    first = await claim(stores, worker="w1")
    second = await claim(stores, worker="w2")
    after_lease = await claim(stores, seconds=10 + LEASE + 1, worker="w2")

    assert len(first) == 2
    assert second == []
    assert {d.id for d in after_lease} == {d.id for d in first}


async def test_attempts_move_deliveries_and_are_listed_newest_first(stores: Stores) -> None:
    owner = await tenant(stores)
    added = await endpoint(stores, owner.organisation.id)
    await stores.callback_outbox.enqueue([event(owner.organisation.id, seconds=s) for s in (1, 2)])
    one, two = await claim(stores)

    await record(
        stores,
        result(one, delivered=True, code=204),
        result(two, delivered=False, code=500, retry_in=5),
    )

    assert await claim(stores, seconds=12) == []
    (again,) = await claim(stores, seconds=16)
    assert (again.id, again.attempts) == (two.id, 1)
    await record(stores, result(again, delivered=False, code=404, seconds=16))
    assert await claim(stores, seconds=3600) == []
    backlog = await stores.callback_outbox.backlog()
    assert (backlog.pending, backlog.failed) == (0, 1)
    listed = await stores.callback_outbox.attempts(owner.organisation.id, added.id, limit=10)
    assert [(a.status_code, a.delivered) for a in listed] == [
        (404, False),
        (500, False),
        (204, True),
    ]
    assert listed[0].event_id == two.event_id
    other = await tenant(stores, "globex", "2")
    assert not await stores.callback_outbox.attempts(other.organisation.id, added.id, limit=10)


async def test_an_endpoint_failing_for_a_day_is_disabled_and_a_success_resets_it(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    added = await endpoint(stores, owner.organisation.id)
    await stores.callback_outbox.enqueue([event(owner.organisation.id)])
    (delivery,) = await claim(stores)
    await record(stores, result(delivery, delivered=False, code=500, retry_in=1))
    failing = await stores.webhook_endpoints.get_endpoint(owner.organisation.id, added.id)
    assert failing is not None
    assert failing.failing_since == T0 + timedelta(seconds=10)

    (again,) = await claim(stores, seconds=DAY + 20)
    disabled = await record(
        stores, result(again, delivered=False, code=500, seconds=DAY + 20, retry_in=1)
    )

    assert disabled == [added.id]
    shown = await stores.webhook_endpoints.get_endpoint(owner.organisation.id, added.id)
    assert shown is not None
    assert shown.disabled_at == T0 + timedelta(seconds=DAY + 20)
    assert shown.disabled_reason
    assert await claim(stores, seconds=DAY + 60) == []
    assert await stores.callback_outbox.enqueue([event(owner.organisation.id)]) == 0


async def test_a_success_ends_a_failing_streak(stores: Stores) -> None:
    owner = await tenant(stores)
    added = await endpoint(stores, owner.organisation.id)
    await stores.callback_outbox.enqueue([event(owner.organisation.id)])
    (delivery,) = await claim(stores)
    await record(stores, result(delivery, delivered=False, code=500, retry_in=1))
    (again,) = await claim(stores, seconds=20)

    await record(stores, result(again, delivered=True, seconds=20))

    shown = await stores.webhook_endpoints.get_endpoint(owner.organisation.id, added.id)
    assert shown is not None
    assert shown.failing_since is None


async def test_a_time_range_is_replayed_with_the_same_event_ids(stores: Stores) -> None:
    owner = await tenant(stores)
    added = await endpoint(stores, owner.organisation.id)
    await stores.callback_outbox.enqueue(
        [event(owner.organisation.id, seconds=s) for s in (0, 100, 200)]
    )
    first = await claim(stores, seconds=300)
    await record(stores, *(result(d, delivered=True, seconds=300) for d in first))

    replayed = await stores.callback_outbox.replay(
        owner.organisation.id,
        added.id,
        since=T0 + timedelta(seconds=50),
        until=T0 + timedelta(seconds=200),
        now=T0 + timedelta(seconds=400),
    )

    assert replayed == 1
    (again,) = await claim(stores, seconds=400)
    assert again.event_id == next(d.event_id for d in first if b"wamid.100" in d.body)
    other = await tenant(stores, "globex", "2")
    assert (
        await stores.callback_outbox.replay(
            other.organisation.id, added.id, since=T0, until=T0 + timedelta(days=1), now=T0
        )
        == 0
    )


# -- events written with the changes (SQL) -----------------------------------------------------


@pytest.fixture
async def subscribed(stores: Stores, store_url: str | None) -> Tenant:
    """A tenant with an endpoint for every event, on a store that writes events (SQL)."""
    if store_url is None:
        pytest.skip("the memory stores write no events with their changes")
    owner = await tenant(stores)
    await endpoint(stores, owner.organisation.id)
    return owner


async def test_single_sends_webhook_statuses_and_engine_outcomes_write_their_events(
    stores: Stores, subscribed: Tenant
) -> None:
    owner = subscribed
    await stores.messages.add_message(sent_message(owner, "wamid.A"))
    bulk = await create(stores, owner, 2)
    claimed = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=2, now=T0)
    await stores.bulks.record_outcomes([accept(c, f"wamid.R{c.position}") for c in claimed])

    await apply(stores, status("wamid.A", "delivered", 5), status("wamid.R0", "read", 9))
    await apply(stores, status("wamid.A", "delivered", 5))  # a repeat: no event
    await stores.bulks.finish_bulk(bulk.id, T0 + timedelta(hours=2))

    bodies = [json.loads(d.body) for d in await claim(stores, seconds=DAY)]
    messages = sorted(
        (b["type"], b["data"]["wamid"]) for b in bodies if b["type"].startswith("message.")
    )
    assert messages == [
        ("message.delivered", "wamid.A"),
        ("message.read", "wamid.R0"),
        ("message.sent", "wamid.A"),
        ("message.sent", "wamid.R0"),
        ("message.sent", "wamid.R1"),
    ]
    read = next(b for b in bodies if b["type"] == "message.read")
    assert read["data"]["bulk_send_id"] == bulk.id
    assert read["data"]["phone"].startswith("+")
    statuses = [b["data"]["status"] for b in bodies if b["type"] == "bulk.status_changed"]
    assert statuses[0] == "PROCESSING"
    assert statuses[-1] == "COMPLETED"


async def test_inbound_messages_and_opt_outs_write_their_events(
    stores: Stores, subscribed: Tenant
) -> None:
    messages = [inbound("wamid.I1", text="Hola"), inbound("wamid.S", 5, text="STOP")]

    await stores.contacts.record_inbound(
        messages, received_at=T0 + timedelta(hours=1), opt_changes={"wamid.S": "opt_out"}
    )
    await stores.contacts.record_inbound(messages, received_at=T0 + timedelta(hours=1))

    bodies = [json.loads(d.body) for d in await claim(stores, seconds=DAY)]
    received = sorted(b["data"]["wamid"] for b in bodies if b["type"] == "message.received")
    assert received == ["wamid.I1", "wamid.S"]
    (opted_out,) = [b for b in bodies if b["type"] == "contact.opted_out"]
    assert opted_out["data"] == {"phone": ANA, "opted_out_at": "2025-03-01T12:00:05Z"}


async def test_a_recipient_settled_unknown_after_a_crash_is_reported_failed_with_why(
    stores: Stores, subscribed: Tenant
) -> None:
    owner = subscribed
    bulk = await create(stores, owner, 2)
    claimed = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=2, now=T0)
    await stores.bulks.mark_calls_started([c.message_id for c in claimed], worker="w", at=T0)
    await stores.bulks.record_outcomes([accept(claimed[0], "wamid.R0")])

    # The worker died with the second one's call in flight.
    settled = await stores.bulks.settle_in_flight(
        policy="mark_unconfirmed", now=T0 + timedelta(minutes=1)
    )

    assert settled == 1
    bodies = [json.loads(d.body) for d in await claim(stores, seconds=DAY)]
    (failed,) = [b for b in bodies if b["type"] == "message.failed"]
    assert failed["data"]["position"] == claimed[1].position
    assert failed["data"]["status"] == "failed"
    assert failed["data"]["error_message"].startswith("Outcome unknown")


async def test_a_scheduled_bulk_starting_at_its_time_is_a_status_change(
    stores: Stores, subscribed: Tenant
) -> None:
    owner = subscribed
    bulk = await create(stores, owner, 2, send_at=T0 + timedelta(minutes=5))

    await stores.bulks.start_scheduled(T0 + timedelta(minutes=5))

    bodies = [json.loads(d.body) for d in await claim(stores, seconds=DAY)]
    changes = [b["data"] for b in bodies if b["type"] == "bulk.status_changed"]
    assert [(c["id"], c["status"]) for c in changes] == [(bulk.id, "QUEUED")]


async def test_a_finished_bulk_sending_an_unknown_again_says_it_is_processing_again(
    stores: Stores, subscribed: Tenant
) -> None:
    bulk, _ = await scene(stores, subscribed)
    await stores.bulks.finish_bulk(bulk.id, T0 + timedelta(seconds=2))

    await stores.unknown_recipients.settle_unknown(subscribed.organisation.id, RESEND, now=SETTLED)

    bodies = [json.loads(d.body) for d in await claim(stores, seconds=DAY)]
    statuses = [b["data"]["status"] for b in bodies if b["type"] == "bulk.status_changed"]
    assert statuses[-2:] == ["PARTIAL", "PROCESSING"]
