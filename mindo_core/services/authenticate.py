"""Who is calling: an API key becomes a ``Principal`` or a documented refusal."""

from __future__ import annotations

from dataclasses import dataclass

from mindo_core.access import api_keys
from mindo_core.access.api_keys import ALL_SCOPES, ApiKey, Scope
from mindo_core.access.request_limits import KeyRateLimiter
from mindo_core.domain.accounts import Organisation
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import ApiKeyExpired, ApiKeyMissing, InvalidRequest, PermissionDenied
from mindo_core.ports.api_keys import ApiKeyStore
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.services.short_lived import ShortLived


@dataclass(frozen=True, kw_only=True)
class Principal:
    organisation: Organisation
    api_key: ApiKey


class Authenticator:
    """Every RPC passes here: the key is checked, then its request rate (if limited)."""

    def __init__(
        self,
        *,
        api_keys: ApiKeyStore,
        organisations: OrganisationStore,
        clock: Clock,
        limiter: KeyRateLimiter | None = None,
    ) -> None:
        self._api_keys = api_keys
        self._organisations = organisations
        self._clock = clock
        self._limiter = limiter
        # By the key's hash: a valid key's principal, re-read at least once a second, so a
        # revocation is honoured within a second; expiry is checked on every request.
        self._principals: ShortLived[str, Principal] = ShortLived(clock)

    async def authenticate(self, raw_key: str | None, scope: Scope | None) -> Principal:
        """Missing key → ApiKeyMissing; unknown, malformed, expired or revoked → ApiKeyExpired
        (alike, so a guess learns nothing); a key without ``scope`` → PermissionDenied. A
        ``scope`` of None asks only whether the key is valid."""
        key = (raw_key or "").strip()
        if not key:
            raise ApiKeyMissing()
        principal = await self._principal_for(key)
        if scope is not None and not principal.api_key.allows(scope):
            raise PermissionDenied()
        if self._limiter is not None:
            self._limiter.admit(principal.api_key.id, self._clock.now().timestamp())
        return principal

    async def require_scope(self, principal: Principal, scope: str) -> None:
        if scope not in ALL_SCOPES:
            raise InvalidRequest.for_field("scope", f"unknown scope {scope!r}")
        if scope not in principal.api_key.scopes:
            raise PermissionDenied()

    async def _principal_for(self, key: str) -> Principal:
        if not api_keys.is_well_formed(key):
            raise ApiKeyExpired()
        key_hash = api_keys.hash_key(key)
        principal = await self._principals.get_or_read(
            key_hash, lambda: self._read_principal(key, key_hash)
        )
        if not principal.api_key.is_usable_at(self._clock.now()):
            self._principals.forget(key_hash)
            raise ApiKeyExpired()
        return principal

    async def _read_principal(self, key: str, key_hash: str) -> Principal:
        stored = await self._api_keys.find_api_key_by_hash(key_hash)
        if stored is None or not api_keys.matches(key, stored.key_hash):
            raise ApiKeyExpired()
        organisation = await self._organisations.get_organisation(stored.organisation_id)
        if organisation is None:
            raise ApiKeyExpired()
        return Principal(organisation=organisation, api_key=stored)
