"""What the operator CLI reads and does beyond the other use cases: an organisation's accounts,
numbers and templates, and revoking a key by its listed prefix without naming its organisation.

The stores have no way to list organisations, so a key is looked for in every organisation that
has a connected account (the ones ``list_business_accounts`` reaches); a whole key is found by
its hash in any organisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mindo_core.access.api_keys import (
    DISPLAY_PREFIX_LENGTH,
    KEY_PREFIX,
    ApiKey,
    display_prefix,
    hash_key,
    is_well_formed,
)
from mindo_core.domain.accounts import BusinessAccount, Organisation, OrganisationId, PhoneNumber
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import InvalidRequest, NotFound, OrganisationNotFound
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.api_keys import ApiKeyStore
from mindo_core.ports.organisations import OrganisationStore


@dataclass(frozen=True, kw_only=True)
class OwnedAccount:
    organisation: Organisation
    business_account: BusinessAccount


@dataclass(frozen=True, kw_only=True)
class OwnedKey:
    organisation: Organisation
    api_key: ApiKey


async def organisation_named(organisations: OrganisationStore, name: str) -> Organisation:
    organisation = await organisations.find_organisation_by_name(name)
    if organisation is None:
        raise OrganisationNotFound(name)
    return organisation


async def accounts_of(
    organisation_name: str | None, *, organisations: OrganisationStore, accounts: AccountStore
) -> Sequence[OwnedAccount]:
    """The accounts of one organisation, or of every organisation when no name is given."""
    if organisation_name is not None:
        organisation = await organisation_named(organisations, organisation_name)
        found = await accounts.list_business_accounts(organisation.id)
        return [OwnedAccount(organisation=organisation, business_account=a) for a in found]
    owners: dict[OrganisationId, Organisation] = {}
    owned: list[OwnedAccount] = []
    for account in await accounts.list_business_accounts():
        owner = owners.get(account.organisation_id)
        if owner is None:
            owner = await _organisation(organisations, account.organisation_id)
            owners[owner.id] = owner
        owned.append(OwnedAccount(organisation=owner, business_account=account))
    return owned


async def phone_numbers_of(
    organisation_name: str, *, organisations: OrganisationStore, accounts: AccountStore
) -> Sequence[PhoneNumber]:
    """Every number of every account the organisation connected."""
    numbers: list[PhoneNumber] = []
    owned_accounts = await accounts_of(
        organisation_name, organisations=organisations, accounts=accounts
    )
    for owned in owned_accounts:
        numbers.extend(await accounts.list_phone_numbers(owned.business_account.id))
    return numbers


async def revoke_key(
    key_or_prefix: str,
    organisation_name: str | None,
    *,
    organisations: OrganisationStore,
    accounts: AccountStore,
    api_keys: ApiKeyStore,
    clock: Clock,
) -> OwnedKey:
    """Revokes the one active key that is ``key_or_prefix`` (a whole key) or whose listed
    prefix it is. Anything less than the whole listed prefix is refused: a short prefix
    would revoke whichever key happened to match it."""
    found = await find_active_key(
        key_or_prefix,
        organisation_name,
        organisations=organisations,
        accounts=accounts,
        api_keys=api_keys,
    )
    await api_keys.revoke_api_key(found.api_key.id, clock.now())
    return found


async def find_active_key(
    key_or_prefix: str,
    organisation_name: str | None,
    *,
    organisations: OrganisationStore,
    accounts: AccountStore,
    api_keys: ApiKeyStore,
) -> OwnedKey:
    text = key_or_prefix.strip().rstrip(".…")
    if is_well_formed(text):
        candidates = await _keys_with_hash(
            hash_key(text), organisation_name, organisations=organisations, api_keys=api_keys
        )
    elif len(text) == DISPLAY_PREFIX_LENGTH and text.startswith(KEY_PREFIX):
        candidates = await _keys_with_prefix(
            text,
            organisation_name,
            organisations=organisations,
            accounts=accounts,
            api_keys=api_keys,
        )
    else:
        raise InvalidRequest.for_field(
            "KEY_PREFIX",
            f"expected the {DISPLAY_PREFIX_LENGTH}-character prefix that "
            "`mindo keys list` shows (like mindo_AbC123) or the whole key",
        )
    return _the_active_one(candidates, text, organisation_name)


async def _keys_with_hash(
    key_hash: str,
    organisation_name: str | None,
    *,
    organisations: OrganisationStore,
    api_keys: ApiKeyStore,
) -> Sequence[OwnedKey]:
    key = await api_keys.find_api_key_by_hash(key_hash)
    if key is None:
        return []
    owner = await _organisation(organisations, key.organisation_id)
    if organisation_name is not None and owner.name != organisation_name:
        await organisation_named(organisations, organisation_name)  # an unknown name says so
        return []
    return [OwnedKey(organisation=owner, api_key=key)]


async def _keys_with_prefix(
    prefix: str,
    organisation_name: str | None,
    *,
    organisations: OrganisationStore,
    accounts: AccountStore,
    api_keys: ApiKeyStore,
) -> Sequence[OwnedKey]:
    if organisation_name is not None:
        searched: Sequence[Organisation] = [
            await organisation_named(organisations, organisation_name)
        ]
    else:
        owned = await accounts_of(None, organisations=organisations, accounts=accounts)
        # Each organisation once, in the order its first account was found.
        searched = list({o.organisation.id: o.organisation for o in owned}.values())
    return [
        OwnedKey(organisation=organisation, api_key=key)
        for organisation in searched
        for key in await api_keys.list_api_keys(organisation.id)
        if key.display_prefix == prefix
    ]


def _the_active_one(
    candidates: Sequence[OwnedKey], text: str, organisation_name: str | None
) -> OwnedKey:
    active = [c for c in candidates if c.api_key.revoked_at is None]
    shown = display_prefix(text)
    if len(active) == 1:
        return active[0]
    if len(active) > 1:
        owners = ", ".join(sorted({c.organisation.name for c in active}))
        raise InvalidRequest.for_field(
            "KEY_PREFIX",
            f"{len(active)} active keys start with {shown} (organisations: {owners}); "
            "give the whole key, or --org NAME",
        )
    if candidates:
        revoked_at = candidates[0].api_key.revoked_at
        raise NotFound(f"Key {shown} was already revoked ({revoked_at:%Y-%m-%d %H:%M} UTC)")
    where = (
        f"organisation '{organisation_name}'"
        if organisation_name is not None
        else "any organisation with a connected account (for another one, add --org NAME)"
    )
    raise NotFound(f"No key {shown} in {where}")


async def _organisation(
    organisations: OrganisationStore, organisation_id: OrganisationId
) -> Organisation:
    organisation = await organisations.get_organisation(organisation_id)
    if organisation is None:  # a row that references a missing organisation: a broken database
        raise NotFound(f"Organisation #{organisation_id} not found")
    return organisation
