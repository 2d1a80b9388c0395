"""The idempotency-key store, held to one contract in memory, on SQLite and on PostgreSQL: a key
is claimed once per organisation (even by racing claims), settled once, released only while
pending, and replaced once expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from mindo_core.adapters.sql import open_stores
from mindo_core.ports.idempotency import IdempotencyRecord, NewIdempotencyKey, SettledKey
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, Tenant, tenant

DAY = timedelta(hours=24)
KEY = "a" * 64
FINGERPRINT = "f" * 64


def new_key(
    owner: Tenant, *, key_hash: str = KEY, fingerprint: str = FINGERPRINT
) -> NewIdempotencyKey:
    return NewIdempotencyKey(
        organisation_id=owner.organisation.id,
        key_hash=key_hash,
        fingerprint=fingerprint,
        created_at=T0,
    )


async def claim(stores: Stores, key: NewIdempotencyKey) -> IdempotencyRecord | None:
    return await stores.idempotency.claim_key(key, expired_at_or_before=key.created_at - DAY)


SENT = SettledKey(outcome="sent", settled_at=T0 + timedelta(seconds=1), wamid="wamid.1", sent_at=T0)


async def test_the_first_claim_wins_and_later_ones_read_its_record(stores: Stores) -> None:
    acme = await tenant(stores)

    assert await claim(stores, new_key(acme)) is None
    again = await claim(stores, new_key(acme, fingerprint="b" * 64))

    assert again is not None
    assert (again.outcome, again.fingerprint, again.created_at) == ("pending", FINGERPRINT, T0)


async def test_a_settled_key_answers_with_its_outcome_and_settles_only_once(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    await claim(stores, new_key(acme))

    await stores.idempotency.settle_key(acme.organisation.id, KEY, SENT)
    await stores.idempotency.settle_key(
        acme.organisation.id, KEY, SettledKey(outcome="unknown", settled_at=T0 + DAY / 2)
    )
    found = await claim(stores, new_key(acme))

    assert found is not None
    assert (found.outcome, found.wamid, found.sent_at) == ("sent", "wamid.1", T0)
    assert found.settled_at == T0 + timedelta(seconds=1)


async def test_an_accepted_bulk_keeps_its_answer(stores: Stores) -> None:
    acme = await tenant(stores)
    await claim(stores, new_key(acme))
    accepted = SettledKey(outcome="accepted", settled_at=T0, answer='{"bulk_id": "b-1"}')

    await stores.idempotency.settle_key(acme.organisation.id, KEY, accepted)
    found = await claim(stores, new_key(acme))

    assert found is not None
    assert (found.outcome, found.answer) == ("accepted", '{"bulk_id": "b-1"}')


async def test_a_refusal_keeps_metas_code_and_message(stores: Stores) -> None:
    acme = await tenant(stores)
    await claim(stores, new_key(acme))
    refused = SettledKey(
        outcome="refused", settled_at=T0, error_code=131026, error_message="Undeliverable"
    )

    await stores.idempotency.settle_key(acme.organisation.id, KEY, refused)
    found = await claim(stores, new_key(acme))

    assert found is not None
    assert (found.outcome, found.error_code, found.error_message) == (
        "refused",
        131026,
        "Undeliverable",
    )


async def test_keys_belong_to_their_organisation(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")

    assert await claim(stores, new_key(acme)) is None
    assert await claim(stores, new_key(other)) is None


async def test_a_released_key_can_be_claimed_again_but_a_settled_one_is_not_released(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    await claim(stores, new_key(acme))
    await stores.idempotency.release_key(acme.organisation.id, KEY)
    assert await claim(stores, new_key(acme)) is None

    await stores.idempotency.settle_key(acme.organisation.id, KEY, SENT)
    await stores.idempotency.release_key(acme.organisation.id, KEY)

    found = await claim(stores, new_key(acme))
    assert found is not None
    assert found.outcome == "sent"


async def test_an_expired_key_is_replaced_by_a_new_claim(stores: Stores) -> None:
    acme = await tenant(stores)
    await claim(stores, new_key(acme))
    await stores.idempotency.settle_key(acme.organisation.id, KEY, SENT)
    later = NewIdempotencyKey(
        organisation_id=acme.organisation.id,
        key_hash=KEY,
        fingerprint="c" * 64,
        created_at=T0 + DAY,
    )

    assert await claim(stores, later) is None
    found = await claim(stores, later)
    assert found is not None
    assert (found.outcome, found.fingerprint) == ("pending", "c" * 64)


async def test_purging_deletes_keys_created_at_or_before_the_time(stores: Stores) -> None:
    acme = await tenant(stores)
    await claim(stores, new_key(acme, key_hash="1" * 64))
    hour_later = NewIdempotencyKey(
        organisation_id=acme.organisation.id,
        key_hash="2" * 64,
        fingerprint=FINGERPRINT,
        created_at=T0 + timedelta(hours=1),
    )
    await claim(stores, hour_later)

    assert await stores.idempotency.purge_keys(created_at_or_before=T0) == 1
    assert await claim(stores, new_key(acme, key_hash="1" * 64)) is None


async def test_racing_claims_from_separate_connections_make_exactly_one_winner(
    stores: Stores, store_url: str | None
) -> None:
    acme = await tenant(stores)
    # Another process's stores over the same database (the memory store is one process).
    others = [stores] * 7 if store_url is None else [await open_stores(store_url) for _ in range(7)]
    try:
        outcomes = await asyncio.gather(*(claim(s, new_key(acme)) for s in [stores, *others]))
    finally:
        if store_url is not None:
            for opened in others:
                await opened.close()

    assert sum(outcome is None for outcome in outcomes) == 1
