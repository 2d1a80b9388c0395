"""Templates as the store keeps them, for tests that build their own: one approved template of
the given components, parsed or not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mindo_core.domain.accounts import BusinessAccountId
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.templating.model import TemplateSpec, parse_template


def stored_template(
    components: Sequence[Mapping[str, Any]],
    *,
    name: str = "sample",
    parameter_format: str = "POSITIONAL",
    category: str = "MARKETING",
    defaults: Mapping[str, str] | None = None,
) -> StoredTemplate:
    return StoredTemplate(
        id=TemplateId(1),
        business_account_id=BusinessAccountId(1),
        meta_template_id="1001",
        name=name,
        language="es",
        status="APPROVED",
        category=category,
        parameter_format=parameter_format,
        components=components,
        variable_defaults=defaults or {},
    )


def template_spec(
    components: Sequence[Mapping[str, Any]],
    *,
    name: str = "sample",
    parameter_format: str = "POSITIONAL",
    category: str = "MARKETING",
    defaults: Mapping[str, str] | None = None,
) -> TemplateSpec:
    return parse_template(
        stored_template(
            components,
            name=name,
            parameter_format=parameter_format,
            category=category,
            defaults=defaults,
        )
    )
