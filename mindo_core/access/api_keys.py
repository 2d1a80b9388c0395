"""API keys: the documented format (``mindo_`` + 24 characters), hashing and scope checks.

A key is 24 random characters from a 62-letter alphabet (about 143 bits), so a plain SHA-256
is the right hash: a slow password hash buys nothing against a key nobody can guess, and would
cost every request. Only the hash is stored; a lookup goes by hash and the final comparison is
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NewType

from mindo_core.domain.accounts import OrganisationId

ApiKeyId = NewType("ApiKeyId", int)
Scope = Literal["send", "read"]
ALL_SCOPES: frozenset[Scope] = frozenset({"send", "read"})

KEY_PREFIX = "mindo_"
KEY_BODY_LENGTH = 24
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 6
_ALPHABET = string.ascii_letters + string.digits
_KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9]{{{KEY_BODY_LENGTH}}}$")


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    id: ApiKeyId
    organisation_id: OrganisationId
    name: str
    display_prefix: str
    key_hash: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_usable_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


def generate_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(KEY_BODY_LENGTH))


def is_well_formed(key: str) -> bool:
    return _KEY_PATTERN.fullmatch(key) is not None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key that may be shown in listings: enough to recognise, never to use."""
    return key[:DISPLAY_PREFIX_LENGTH]


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)
