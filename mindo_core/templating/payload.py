"""Meta's send payload for a template message, from a resolved template."""

from __future__ import annotations

import copy
from typing import Any

from mindo_core.domain.errors import InvalidRequest
from mindo_core.templating.resolution import ResolvedTemplate
from mindo_core.templating.rules import (
    CALLBACK_DATA_MAX,
)


def build_send_payload(
    resolved: ResolvedTemplate,
    *,
    to: str,
    name: str,
    language: str,
    biz_opaque_callback_data: str | None = None,
) -> dict[str, Any]:
    """Meta's ``POST /{phone_number_id}/messages`` body for a template message."""
    template: dict[str, Any] = {
        "name": name,
        "language": {"code": language, "policy": "deterministic"},
    }
    if resolved.components:
        template["components"] = copy.deepcopy(resolved.components)
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
    }
    if biz_opaque_callback_data:
        if len(biz_opaque_callback_data) > CALLBACK_DATA_MAX:
            raise InvalidRequest.for_field(
                "biz_opaque_callback_data",
                f"is {len(biz_opaque_callback_data)} characters long; at most {CALLBACK_DATA_MAX}",
            )
        payload["biz_opaque_callback_data"] = biz_opaque_callback_data
    return payload
