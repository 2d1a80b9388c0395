"""The template a send names, as single and bulk sends alike require it: known and approved."""

from __future__ import annotations

from mindo_core.domain.accounts import BusinessAccountId
from mindo_core.domain.errors import TemplateNotApproved, TemplateNotFound
from mindo_core.domain.templates import StoredTemplate
from mindo_core.ports.templates import TemplateStore

__all__ = ["DEFAULT_LANGUAGE", "approved_template"]

# The language a send means when it names none.
DEFAULT_LANGUAGE = "es"


async def approved_template(
    templates: TemplateStore, business_account_id: BusinessAccountId, name: str, language: str
) -> StoredTemplate:
    """The account's template ``name`` in ``language``; ``TemplateNotFound`` when there is
    none, ``TemplateNotApproved`` when Meta has not approved it (or no longer does)."""
    template = await templates.find_template(business_account_id, name, language)
    if template is None:
        raise TemplateNotFound(name, language)
    if not template.is_approved:
        raise TemplateNotApproved(name)
    return template
