"""The templates Mindo knows per account: listed as last read from Meta, refreshed from Meta,
and given Mindo's own variable defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mindo_core.domain.accounts import BusinessAccount
from mindo_core.domain.errors import NotFound
from mindo_core.domain.templates import StoredTemplate
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.templates import TemplateStore


@dataclass(frozen=True, kw_only=True)
class SyncedTemplates:
    templates: Sequence[StoredTemplate]
    # (name, language) of the templates Mindo did not know before this sync, sorted.
    added: Sequence[tuple[str, str]]


class TemplateCatalogue:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        meta: MetaGateway,
        cipher: TokenCipher,
    ) -> None:
        self._accounts = accounts
        self._templates = templates
        self._meta = meta
        self._cipher = cipher

    async def list(self, account: BusinessAccount) -> Sequence[StoredTemplate]:
        return await self._templates.list_templates(account.id)

    async def sync(self, account: BusinessAccount) -> SyncedTemplates:
        """Reads every page of the account's templates from Meta, then stores them: a refusal
        (``MetaError``, ``MetaUnavailable``) leaves the account as it was."""
        before = {(t.name, t.language) for t in await self.list(account)}
        encrypted = await self._accounts.encrypted_token(account.id)
        if encrypted is None:
            raise NotFound(f"Business account '{account.waba_id}' has no access token")
        infos = await self._meta.list_templates(
            waba_id=account.waba_id, access_token=self._cipher.decrypt(encrypted)
        )
        stored = [await self._templates.upsert_template(account.id, t) for t in infos]
        added = sorted((t.name, t.language) for t in stored if (t.name, t.language) not in before)
        return SyncedTemplates(templates=stored, added=added)

    async def set_variable_defaults(
        self, template: StoredTemplate, defaults: Mapping[str, str]
    ) -> StoredTemplate:
        return await self._templates.set_variable_defaults(template, defaults)
