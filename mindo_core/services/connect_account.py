"""Connect a WhatsApp Business Account: pull its numbers and templates from Meta and keep them.

The access token is encrypted before it is stored and used only to call Meta.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mindo_core.domain.accounts import BusinessAccount, PhoneNumber
from mindo_core.domain.errors import OrganisationNotFound
from mindo_core.domain.templates import StoredTemplate
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.templates import TemplateStore


@dataclass(frozen=True, kw_only=True)
class ConnectedAccount:
    business_account: BusinessAccount
    phone_numbers: Sequence[PhoneNumber]
    templates: Sequence[StoredTemplate]


class AccountConnector:
    def __init__(
        self,
        *,
        organisations: OrganisationStore,
        accounts: AccountStore,
        templates: TemplateStore,
        meta: MetaGateway,
        cipher: TokenCipher,
    ) -> None:
        self._organisations = organisations
        self._accounts = accounts
        self._templates = templates
        self._meta = meta
        self._cipher = cipher

    async def connect(
        self, organisation_name: str, *, waba_id: str, access_token: str, name: str = ""
    ) -> ConnectedAccount:
        """Reads everything from Meta before writing, so a refused token stores nothing."""
        organisation = await self._organisations.find_organisation_by_name(organisation_name)
        if organisation is None:
            raise OrganisationNotFound(organisation_name)
        numbers = await self._meta.list_phone_numbers(waba_id=waba_id, access_token=access_token)
        templates = await self._meta.list_templates(waba_id=waba_id, access_token=access_token)
        account = await self._accounts.upsert_business_account(
            organisation_id=organisation.id,
            waba_id=waba_id,
            name=name or waba_id,
            encrypted_access_token=self._cipher.encrypt(access_token),
        )
        stored_numbers = [await self._accounts.upsert_phone_number(account.id, n) for n in numbers]
        stored_templates = [await self._templates.upsert_template(account.id, t) for t in templates]
        return ConnectedAccount(
            business_account=account, phone_numbers=stored_numbers, templates=stored_templates
        )
