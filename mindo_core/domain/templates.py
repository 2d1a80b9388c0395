"""A template as stored: Meta's definition kept as Meta returns it, plus Mindo's own settings.

Parsing the components into the typed model and resolving variables is ``templating``'s job; the
stores only keep and return this record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NewType

from mindo_core.domain.accounts import BusinessAccountId

TemplateId = NewType("TemplateId", int)

JsonObject = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class StoredTemplate:
    id: TemplateId
    business_account_id: BusinessAccountId
    meta_template_id: str
    name: str
    language: str
    status: str
    category: str
    parameter_format: str
    components: Sequence[JsonObject]
    # Mindo-side default per variable key (see docs/api.md, "Template variables"): a variable with a
    # default is optional; Meta still never receives an empty parameter.
    variable_defaults: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_approved(self) -> bool:
        return self.status.upper() == "APPROVED"

    @property
    def is_marketing(self) -> bool:
        """Marketing templates are never sent to a contact who opted out."""
        return self.category.upper() == "MARKETING"
