"""The operator's queries over the in-memory store: finding a key to revoke, listing accounts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mindo_core.adapters.memory.stores import memory_stores
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import InvalidRequest, NotFound, OrganisationNotFound
from mindo_core.ports.stores import Stores
from mindo_core.services.issue_api_key import ApiKeyAdmin
from mindo_core.services.operator_queries import OperatorQueries
from mindo_core.services.revoke_key import KeyRevoker

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# Two keys that share the twelve characters a listing shows.
TWIN_A = "mindo_AbC123" + "a" * 18
TWIN_B = "mindo_AbC123" + "b" * 18


@pytest.fixture
def stores() -> Stores:
    return memory_stores()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def revoker(stores: Stores, clock: FixedClock) -> KeyRevoker:
    return KeyRevoker(
        organisations=stores.organisations,
        api_keys=stores.api_keys,
        accounts=stores.accounts,
        clock=clock,
    )


@pytest.fixture
def queries(stores: Stores) -> OperatorQueries:
    return OperatorQueries(organisations=stores.organisations, accounts=stores.accounts)


@pytest.fixture
def keys(stores: Stores, clock: FixedClock) -> ApiKeyAdmin:
    return ApiKeyAdmin(api_keys=stores.api_keys, organisations=stores.organisations, clock=clock)


async def organisation_with_account(stores: Stores, name: str, waba_id: str) -> None:
    organisation = await stores.organisations.create_organisation(name)
    await stores.accounts.upsert_business_account(
        organisation_id=organisation.id, waba_id=waba_id, name=name, encrypted_access_token=b"x"
    )


async def test_a_listed_prefix_finds_the_key_in_any_organisation_with_an_account(
    stores: Stores, revoker: KeyRevoker, keys: ApiKeyAdmin
) -> None:
    await organisation_with_account(stores, "Acme", "1")
    await organisation_with_account(stores, "Globex", "2")
    issued = await keys.issue("Globex", name="web")

    revoked = await revoker.revoke(issued.api_key.display_prefix, None)

    assert revoked.organisation.name == "Globex"
    assert revoked.api_key.id == issued.api_key.id
    [stored] = await keys.list("Globex")
    assert stored.revoked_at == NOW


async def test_the_prefix_may_be_pasted_with_the_ellipsis_of_a_listing(
    stores: Stores, revoker: KeyRevoker, keys: ApiKeyAdmin
) -> None:
    await organisation_with_account(stores, "Acme", "1")
    issued = await keys.issue("Acme")

    revoked = await revoker.revoke(f"{issued.api_key.display_prefix}…", None)

    assert revoked.api_key.id == issued.api_key.id


async def test_a_whole_key_is_found_by_its_hash_even_without_an_account(
    stores: Stores, revoker: KeyRevoker, keys: ApiKeyAdmin
) -> None:
    await stores.organisations.create_organisation("NoAccount")
    issued = await keys.issue("NoAccount")

    revoked = await revoker.revoke(issued.plaintext, None)

    assert revoked.organisation.name == "NoAccount"


async def test_a_prefix_alone_cannot_reach_an_organisation_without_an_account(
    stores: Stores, revoker: KeyRevoker, keys: ApiKeyAdmin
) -> None:
    await stores.organisations.create_organisation("NoAccount")
    issued = await keys.issue("NoAccount")
    prefix = issued.api_key.display_prefix

    with pytest.raises(NotFound, match="add --org NAME"):
        await revoker.revoke(prefix, None)
    assert (await revoker.revoke(prefix, "NoAccount")).api_key.id == issued.api_key.id


async def test_two_active_keys_behind_one_prefix_are_not_guessed_between(
    stores: Stores, revoker: KeyRevoker, keys: ApiKeyAdmin
) -> None:
    await organisation_with_account(stores, "Acme", "1")
    await organisation_with_account(stores, "Globex", "2")
    await keys.issue("Acme", plaintext=TWIN_A)
    await keys.issue("Globex", plaintext=TWIN_B)

    with pytest.raises(InvalidRequest, match=r"2 active keys .* \(organisations: Acme, Globex\)"):
        await revoker.revoke("mindo_AbC123", None)
    assert (await revoker.revoke("mindo_AbC123", "Acme")).organisation.name == "Acme"
    assert (await revoker.revoke(TWIN_B, None)).organisation.name == "Globex"


async def test_a_revoked_key_is_reported_as_already_revoked(
    stores: Stores, revoker: KeyRevoker, keys: ApiKeyAdmin
) -> None:
    await organisation_with_account(stores, "Acme", "1")
    issued = await keys.issue("Acme")
    await revoker.revoke(issued.plaintext, None)

    with pytest.raises(NotFound, match="was already revoked \\(2025-03-01 12:00 UTC\\)"):
        await revoker.revoke(issued.api_key.display_prefix, "Acme")


async def test_a_whole_key_of_another_organisation_is_not_found_in_the_named_one(
    stores: Stores, revoker: KeyRevoker, keys: ApiKeyAdmin
) -> None:
    await organisation_with_account(stores, "Acme", "1")
    await organisation_with_account(stores, "Globex", "2")
    issued = await keys.issue("Globex")

    with pytest.raises(NotFound, match="in organisation 'Acme'"):
        await revoker.revoke(issued.plaintext, "Acme")
    with pytest.raises(OrganisationNotFound):
        await revoker.revoke(issued.plaintext, "Nobody")
    assert [k.revoked_at for k in await keys.list("Globex")] == [None]


@pytest.mark.parametrize("text", ["", "mindo_", "mindo_AbC12", "mindo_AbC1234", "AbC123xyzabc"])
async def test_less_or_more_than_the_listed_prefix_is_refused(
    revoker: KeyRevoker, text: str
) -> None:
    with pytest.raises(InvalidRequest, match="12-character prefix"):
        await revoker.revoke(text, None)


async def test_accounts_are_listed_with_their_organisation(
    stores: Stores, queries: OperatorQueries
) -> None:
    await organisation_with_account(stores, "Acme", "1")
    await organisation_with_account(stores, "Globex", "2")
    await stores.organisations.create_organisation("Idle")

    everyone = await queries.accounts_of(None)
    idle = await queries.accounts_of("Idle")

    assert [(o.organisation.name, o.business_account.waba_id) for o in everyone] == [
        ("Acme", "1"),
        ("Globex", "2"),
    ]
    assert idle == []
    assert await queries.phone_numbers_of("Idle") == []
    with pytest.raises(OrganisationNotFound):
        await queries.accounts_of("Nobody")
