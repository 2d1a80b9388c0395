"""Templates as Meta defines them, plus Mindo's own settings (variable defaults)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mindo_core.domain.accounts import (
    BusinessAccountId,
)
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.ports.meta import TemplateInfo


class TemplateStore(Protocol):
    async def upsert_template(
        self, business_account_id: BusinessAccountId, info: TemplateInfo
    ) -> StoredTemplate:
        """Insert or refresh Meta's fields; Mindo's own settings (defaults) are kept."""
        ...

    async def set_variable_defaults(
        self, template: StoredTemplate, defaults: Mapping[str, str]
    ) -> StoredTemplate: ...

    async def find_template(
        self, business_account_id: BusinessAccountId, name: str, language: str
    ) -> StoredTemplate | None: ...

    async def list_templates(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[StoredTemplate]: ...

    async def get_template(self, template_id: TemplateId) -> StoredTemplate | None:
        """Unscoped: for what already holds the id (a message, a bulk)."""
        ...

    async def set_template_status(self, template_id: TemplateId, status: str) -> StoredTemplate:
        """Meta changed the template's status (a webhook). Raises ``TemplateNotFound``."""
        ...
