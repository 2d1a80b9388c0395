"""Meta's send payload for a template message, from a resolved template.

The payload holds a copy of the resolved components, made by ``_json_copy`` (dicts and lists
of JSON values only) rather than ``copy.deepcopy``: the same result at a tenth of the cost, and
the deep copy was 5% of a bulk worker's CPU (``bench/cluster_throughput``).
"""

from __future__ import annotations

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
        template["components"] = _json_copy(resolved.components)
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


def _json_copy(value: Any) -> Any:
    """``value`` (JSON: dicts, lists and immutable scalars) copied down to its scalars."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value
