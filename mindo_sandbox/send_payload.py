"""The envelope of a send request, checked as Meta checks it (meta-cloud-api.md §1.1, §1.5)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mindo_sandbox.graph_errors import GraphError

# Meta accepts "+", spaces and dashes in ``to`` (and parentheses, as in "+1 (408) 555-1234").
_PHONE_SHAPE = re.compile(r"\+?[\d\s\-()]+")
_NON_DIGITS = re.compile(r"\D")
_MIN_DIGITS, _MAX_DIGITS = 7, 15
_MAX_CALLBACK_DATA = 512


@dataclass(frozen=True, kw_only=True)
class SendRequest:
    """The parts of a well-formed template send that the sandbox acts on."""

    to: str
    wa_id: str
    template_name: str
    language: str
    components: Any


def read_send_request(payload: Any) -> SendRequest:
    if not isinstance(payload, Mapping):
        raise GraphError(100, "The request body must be a JSON object.")
    _check_product(payload)
    to = _recipient(payload)
    _check_type(payload)
    _check_optional_fields(payload)
    template = _template(payload)
    return SendRequest(
        to=to,
        wa_id=_NON_DIGITS.sub("", to),
        template_name=_template_name(template),
        language=_language(template),
        components=template.get("components", []),
    )


def _required(data: Mapping[str, Any], key: str, path: str) -> Any:
    value = data.get(key)
    if value is None or value == "":
        raise GraphError(131008, f"The parameter {path} is required.")
    return value


def _check_product(payload: Mapping[str, Any]) -> None:
    if _required(payload, "messaging_product", "messaging_product") != "whatsapp":
        raise GraphError(100, "Param messaging_product must be 'whatsapp'.")
    if payload.get("recipient_type", "individual") != "individual":
        raise GraphError(100, "Param recipient_type must be 'individual'.")


def _recipient(payload: Mapping[str, Any]) -> str:
    to = _required(payload, "to", "to")
    if not isinstance(to, str):
        raise GraphError(100, "Param to must be a string.")
    digits = len(_NON_DIGITS.sub("", to))
    if not _PHONE_SHAPE.fullmatch(to) or not _MIN_DIGITS <= digits <= _MAX_DIGITS:
        raise GraphError(131009, f"Recipient phone number '{to}' is not a valid phone number.")
    return to


def _check_type(payload: Mapping[str, Any]) -> None:
    kind = _required(payload, "type", "type")
    if kind != "template":
        raise GraphError(131051, f"Message type '{kind}' is not supported by the sandbox.")


def _check_optional_fields(payload: Mapping[str, Any]) -> None:
    callback_data = payload.get("biz_opaque_callback_data")
    if callback_data is not None and not isinstance(callback_data, str):
        raise GraphError(100, "Param biz_opaque_callback_data must be a string.")
    if callback_data is not None and len(callback_data) > _MAX_CALLBACK_DATA:
        raise GraphError(
            100, f"Param biz_opaque_callback_data must be at most {_MAX_CALLBACK_DATA} characters."
        )
    context = payload.get("context")
    if context is not None and not (
        isinstance(context, Mapping) and isinstance(context.get("message_id"), str)
    ):
        raise GraphError(131009, "Param context must be an object with a message_id.")


def _template(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    template = _required(payload, "template", "template")
    if not isinstance(template, Mapping):
        raise GraphError(131009, "Param template must be an object.")
    return template


def _template_name(template: Mapping[str, Any]) -> str:
    name = _required(template, "name", "template.name")
    if not isinstance(name, str):
        raise GraphError(131009, "Param template.name must be a string.")
    return name


def _language(template: Mapping[str, Any]) -> str:
    language = _required(template, "language", "template.language")
    if not isinstance(language, Mapping):
        raise GraphError(131009, "Param template.language must be an object with a code.")
    code = _required(language, "code", "template.language.code")
    if not isinstance(code, str):
        raise GraphError(131009, "Param template.language.code must be a string.")
    if language.get("policy", "deterministic") != "deterministic":
        raise GraphError(131009, "Param template.language.policy must be 'deterministic'.")
    return code
