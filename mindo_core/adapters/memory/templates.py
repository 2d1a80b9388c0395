"""``InMemoryTemplates``: the ``TemplateStore`` port over the shared ``Tables``."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace

from mindo_core.adapters.memory.tables import Tables
from mindo_core.domain.accounts import BusinessAccountId
from mindo_core.domain.errors import TemplateNotFound
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.ports.meta import TemplateInfo


class InMemoryTemplates:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def upsert_template(
        self, business_account_id: BusinessAccountId, info: TemplateInfo
    ) -> StoredTemplate:
        existing = await self.find_template(business_account_id, info.name, info.language)
        template = StoredTemplate(
            id=TemplateId(self._tables.next_id()) if existing is None else existing.id,
            business_account_id=business_account_id,
            meta_template_id=info.meta_template_id,
            name=info.name,
            language=info.language,
            status=info.status,
            category=info.category,
            parameter_format=info.parameter_format,
            components=tuple(copy.deepcopy(dict(c)) for c in info.components),
            # Meta's fields are refreshed; the defaults are Mindo's and survive.
            variable_defaults={} if existing is None else existing.variable_defaults,
        )
        self._tables.templates[template.id] = template
        return template

    async def set_variable_defaults(
        self, template: StoredTemplate, defaults: Mapping[str, str]
    ) -> StoredTemplate:
        stored = self._tables.templates.get(template.id)
        if stored is None:
            raise TemplateNotFound(template.name, template.language)
        updated = replace(stored, variable_defaults=dict(defaults))
        self._tables.templates[updated.id] = updated
        return updated

    async def find_template(
        self, business_account_id: BusinessAccountId, name: str, language: str
    ) -> StoredTemplate | None:
        key = (business_account_id, name, language)
        found = (
            t
            for t in self._tables.templates.values()
            if (t.business_account_id, t.name, t.language) == key
        )
        return next(found, None)

    async def list_templates(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[StoredTemplate]:
        templates = self._tables.templates.values()
        mine = [t for t in templates if t.business_account_id == business_account_id]
        return sorted(mine, key=lambda t: (t.name, t.language))

    async def get_template(self, template_id: TemplateId) -> StoredTemplate | None:
        return self._tables.templates.get(template_id)

    async def set_template_status(self, template_id: TemplateId, status: str) -> StoredTemplate:
        stored = self._tables.templates.get(template_id)
        if stored is None:
            raise TemplateNotFound(f"#{template_id}", "?")
        updated = replace(stored, status=status)
        self._tables.templates[template_id] = updated
        return updated
