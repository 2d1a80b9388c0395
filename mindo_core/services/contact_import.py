"""Importing an organisation's contacts, and reading its contact lists.

The rows are checked and merged by ``contacts.imports`` before anything is stored, then stored
in one transaction: an import lands whole or not at all. ``max_contacts`` bounds one import
(the REST bridge asks for fewer per request; the CLI imports a file whole).
"""

from __future__ import annotations

from collections.abc import Sequence

from mindo_core.contacts.imports import (
    MAX_CONTACTS_PER_IMPORT,
    ContactInput,
    ImportReport,
    contact_list_name,
    prepare_import,
)
from mindo_core.contacts.model import ContactList
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import Clock
from mindo_core.ports.contacts import ContactDirectory

__all__ = ["ContactImport"]


class ContactImport:
    def __init__(
        self,
        *,
        directory: ContactDirectory,
        clock: Clock,
        max_contacts: int = MAX_CONTACTS_PER_IMPORT,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._max_contacts = max_contacts

    async def import_contacts(
        self,
        organisation_id: OrganisationId,
        rows: Sequence[ContactInput],
        *,
        list_name: str | None = None,
    ) -> ImportReport:
        name = contact_list_name(list_name)
        prepared = prepare_import(rows, max_contacts=self._max_contacts)
        return await self._directory.import_contacts(
            organisation_id,
            prepared.entries,
            list_name=name,
            merged=prepared.merged,
            at=self._clock.now(),
        )

    async def lists(self, organisation_id: OrganisationId) -> Sequence[ContactList]:
        return await self._directory.contact_lists(organisation_id)
