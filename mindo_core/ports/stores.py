"""Every store port at once: what one database adapter implements."""

from __future__ import annotations

from typing import Protocol

from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.api_keys import ApiKeyStore
from mindo_core.ports.messages import MessageStore
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.ports.templates import TemplateStore


class Store(OrganisationStore, ApiKeyStore, AccountStore, TemplateStore, MessageStore, Protocol):
    """All stores at once; one adapter implements them over one database."""

    async def close(self) -> None: ...
