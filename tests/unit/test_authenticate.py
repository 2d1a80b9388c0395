"""API keys: the documented refusals, in the documented order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.access.api_keys import ApiKey
from mindo_core.adapters.memory import memory_stores
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import ApiKeyExpired, ApiKeyMissing, PermissionDenied
from mindo_core.ports.stores import Stores
from mindo_core.services.authenticate import Authenticator
from mindo_core.services.issue_api_key import ApiKeyAdmin

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def key_admin(stores: Stores, clock: FixedClock) -> ApiKeyAdmin:
    return ApiKeyAdmin(api_keys=stores.api_keys, organisations=stores.organisations, clock=clock)


def authenticator_over(stores: Stores, clock: FixedClock) -> Authenticator:
    return Authenticator(api_keys=stores.api_keys, organisations=stores.organisations, clock=clock)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def stores() -> Stores:
    stores = memory_stores()
    await stores.organisations.create_organisation("Acme")
    return stores


async def test_a_valid_key_identifies_its_organisation(stores: Stores, clock: FixedClock) -> None:
    issued = await key_admin(stores, clock).issue("Acme", name="prod")
    principal = await authenticator_over(stores, clock).authenticate(issued.plaintext, "send")
    assert principal.organisation.name == "Acme"
    assert principal.api_key.name == "prod"


@pytest.mark.parametrize("raw", [None, "", "   "])
async def test_no_key_is_the_documented_missing_key_error(
    stores: Stores, clock: FixedClock, raw: str | None
) -> None:
    with pytest.raises(ApiKeyMissing) as refused:
        await authenticator_over(stores, clock).authenticate(raw, "send")
    assert refused.value.message == (
        "Este endpoint requiere autenticacion con API Key (header X-API-Key)"
    )


@pytest.mark.parametrize("raw", ["mindo_" + "x" * 24, "not-a-key", "mindo_short"])
async def test_unknown_or_malformed_keys_answer_like_expired_ones(
    stores: Stores, clock: FixedClock, raw: str
) -> None:
    with pytest.raises(ApiKeyExpired) as refused:
        await authenticator_over(stores, clock).authenticate(raw, "send")
    assert refused.value.message == "API Key expirada"


async def test_an_expired_key_is_refused_once_its_time_is_up(
    stores: Stores, clock: FixedClock
) -> None:
    issued = await key_admin(stores, clock).issue("Acme", expires_in=timedelta(days=30))
    authenticator = authenticator_over(stores, clock)
    await authenticator.authenticate(issued.plaintext, "send")
    clock.advance(timedelta(days=30).total_seconds())
    with pytest.raises(ApiKeyExpired):
        await authenticator.authenticate(issued.plaintext, "send")


async def test_a_revoked_key_is_refused(stores: Stores, clock: FixedClock) -> None:
    admin = key_admin(stores, clock)
    issued = await admin.issue("Acme")
    await admin.revoke("Acme", issued.api_key.display_prefix)
    with pytest.raises(ApiKeyExpired):
        await authenticator_over(stores, clock).authenticate(issued.plaintext, "send")


async def test_a_key_without_the_scope_is_forbidden(stores: Stores, clock: FixedClock) -> None:
    issued = await key_admin(stores, clock).issue("Acme", scopes=frozenset({"read"}))
    with pytest.raises(PermissionDenied) as refused:
        await authenticator_over(stores, clock).authenticate(issued.plaintext, "send")
    assert refused.value.message == "API Key no tiene acceso a este recurso"


async def test_only_the_hash_of_a_key_is_stored(stores: Stores, clock: FixedClock) -> None:
    issued = await key_admin(stores, clock).issue("Acme")
    stored = issued.api_key
    assert issued.plaintext not in repr(stored)
    assert stored.key_hash != issued.plaintext
    assert issued.plaintext.startswith(stored.display_prefix)
    assert len(issued.plaintext) == len("mindo_") + 24


# -- the principal, kept for a second ---------------------------------------------------------


class CountingKeys:
    """The key store, counting its lookups."""

    def __init__(self, stores: Stores) -> None:
        self._keys = stores.api_keys
        self.lookups = 0

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        self.lookups += 1
        return await self._keys.find_api_key_by_hash(key_hash)


async def test_a_keys_principal_is_read_once_a_second_at_most(
    stores: Stores, clock: FixedClock
) -> None:
    issued = await key_admin(stores, clock).issue("Acme")
    keys = CountingKeys(stores)
    authenticator = Authenticator(api_keys=keys, organisations=stores.organisations, clock=clock)  # type: ignore[arg-type]

    for _ in range(50):
        await authenticator.authenticate(issued.plaintext, "send")
    clock.advance(1.0)
    await authenticator.authenticate(issued.plaintext, "send")

    assert keys.lookups == 2


async def test_a_revocation_is_honoured_within_a_second(stores: Stores, clock: FixedClock) -> None:
    admin = key_admin(stores, clock)
    issued = await admin.issue("Acme")
    authenticator = authenticator_over(stores, clock)
    await authenticator.authenticate(issued.plaintext, "send")

    await admin.revoke("Acme", issued.api_key.display_prefix)
    clock.advance(1.0)

    with pytest.raises(ApiKeyExpired):
        await authenticator.authenticate(issued.plaintext, "send")


async def test_an_expiry_is_honoured_at_once_even_for_a_principal_just_read(
    stores: Stores, clock: FixedClock
) -> None:
    issued = await key_admin(stores, clock).issue("Acme", expires_in=timedelta(seconds=0.5))
    authenticator = authenticator_over(stores, clock)
    await authenticator.authenticate(issued.plaintext, "send")

    clock.advance(0.5)

    with pytest.raises(ApiKeyExpired):
        await authenticator.authenticate(issued.plaintext, "send")
