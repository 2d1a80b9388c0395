"""Revoking a key by the prefix a listing shows, without naming its organisation.

A whole key is found by its hash in any organisation. A prefix is looked for in the named
organisation, or else in every organisation that has a connected account: the ones an
operator has set up to send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mindo_core.access import api_keys
from mindo_core.access.api_keys import ApiKey
from mindo_core.domain.accounts import Organisation
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import InvalidRequest, NotFound
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.api_keys import ApiKeyStore
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.services.operator_queries import OperatorQueries


@dataclass(frozen=True, kw_only=True)
class OwnedKey:
    organisation: Organisation
    api_key: ApiKey


class KeyRevoker:
    def __init__(
        self,
        *,
        organisations: OrganisationStore,
        api_keys: ApiKeyStore,
        accounts: AccountStore,
        clock: Clock,
    ) -> None:
        self._queries = OperatorQueries(organisations=organisations, accounts=accounts)
        self._api_keys = api_keys
        self._clock = clock

    async def revoke(self, key_or_prefix: str, organisation_name: str | None) -> OwnedKey:
        """Revokes the one active key that is ``key_or_prefix`` (a whole key) or whose listed
        prefix it is. Anything less than the whole listed prefix is refused: a short prefix
        would revoke whichever key happened to match it."""
        found = await self.find_active(key_or_prefix, organisation_name)
        await self._api_keys.revoke_api_key(found.api_key.id, self._clock.now())
        return found

    async def find_active(self, key_or_prefix: str, organisation_name: str | None) -> OwnedKey:
        text = key_or_prefix.strip().rstrip(".…")
        if api_keys.is_well_formed(text):
            candidates = await self._keys_with_hash(api_keys.hash_key(text), organisation_name)
        elif len(text) == api_keys.DISPLAY_PREFIX_LENGTH and text.startswith(api_keys.KEY_PREFIX):
            candidates = await self._keys_with_prefix(text, organisation_name)
        else:
            raise InvalidRequest.for_field(
                "KEY_PREFIX",
                f"expected the {api_keys.DISPLAY_PREFIX_LENGTH}-character prefix that "
                "`mindo keys list` shows (like mindo_AbC123) or the whole key",
            )
        return _the_active_one(candidates, text, organisation_name)

    async def _keys_with_hash(
        self, key_hash: str, organisation_name: str | None
    ) -> Sequence[OwnedKey]:
        key = await self._api_keys.find_api_key_by_hash(key_hash)
        if key is None:
            return []
        owner = await self._queries.organisation(key.organisation_id)
        if organisation_name is not None and owner.name != organisation_name:
            await self._queries.organisation_named(organisation_name)  # an unknown name says so
            return []
        return [OwnedKey(organisation=owner, api_key=key)]

    async def _keys_with_prefix(
        self, prefix: str, organisation_name: str | None
    ) -> Sequence[OwnedKey]:
        if organisation_name is not None:
            organisations = [await self._queries.organisation_named(organisation_name)]
        else:
            owned = await self._queries.accounts_of(None)
            organisations = list({o.organisation.id: o.organisation for o in owned}.values())
        return [
            OwnedKey(organisation=organisation, api_key=key)
            for organisation in organisations
            for key in await self._api_keys.list_api_keys(organisation.id)
            if key.display_prefix == prefix
        ]


def _the_active_one(
    candidates: Sequence[OwnedKey], text: str, organisation_name: str | None
) -> OwnedKey:
    active = [c for c in candidates if c.api_key.revoked_at is None]
    shown = api_keys.display_prefix(text)
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
