"""The components of a template send, checked against the template (meta-cloud-api.md §1.2-1.5).

Within each component the format is checked first (132012), then the number of parameters
(132000), then each value (131008 missing, 131009 invalid, 132018 forbidden whitespace, 132005
too long). The header comes first, then the body, then the buttons.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mindo_sandbox.graph_errors import GraphError
from mindo_sandbox.template_specs import MEDIA_FORMATS, ButtonSpec, HeaderSpec, TemplateSpec

_FORBIDDEN_WHITESPACE = re.compile(r"[\n\r\t]| {5,}")
_FORBIDDEN_WHITESPACE_DETAILS = (
    "Param text cannot have new-line/tab characters or more than 4 consecutive spaces"
)
HEADER_TEXT_LIMIT = 60
BODY_TEXT_LIMIT = 1024
BODY_ONLY_TEXT_LIMIT = 32768
CODE_LIMIT = 15
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]+")


def check_components(spec: TemplateSpec, components: Any) -> None:
    header, body, buttons = _split(components)
    _check_header(spec, header)
    body_limit = BODY_ONLY_TEXT_LIMIT if spec.body_only else BODY_TEXT_LIMIT
    _check_text_params(spec, "body", _params(body, "body"), spec.body_slots, body_limit)
    _check_buttons(spec.buttons, buttons)


# --------------------------------------------------------------------------------------------
# Shape


def _split(
    components: Any,
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None, list[Mapping[str, Any]]]:
    if not isinstance(components, list):
        raise GraphError(131009, "Param template.components must be an array.")
    singles: dict[str, Mapping[str, Any]] = {}
    buttons: list[Mapping[str, Any]] = []
    for component in components:
        kind = _component_type(component)
        if kind == "button":
            buttons.append(component)
        elif kind in singles:
            raise GraphError(131009, f"Component '{kind}' appears more than once.")
        else:
            singles[kind] = component
    return singles.get("header"), singles.get("body"), buttons


def _component_type(component: Any) -> str:
    if not isinstance(component, Mapping):
        raise GraphError(131009, "Each component must be an object.")
    kind = str(component.get("type", "")).lower()
    if kind not in ("header", "body", "button"):
        raise GraphError(131009, f"Invalid component type '{component.get('type')}'.")
    return kind


def _params(component: Mapping[str, Any] | None, where: str) -> Sequence[Mapping[str, Any]]:
    if component is None:
        return ()
    params = component.get("parameters", [])
    if not isinstance(params, list) or not all(isinstance(p, Mapping) for p in params):
        raise GraphError(131009, f"{where}: parameters must be an array of objects.")
    return params


def _count_mismatch(where: str, received: int, expected: int) -> GraphError:
    return GraphError(
        132000,
        f"{where}: number of localizable_params ({received}) does not match the expected "
        f"number of params ({expected})",
    )


# --------------------------------------------------------------------------------------------
# Header and body


def _check_header(spec: TemplateSpec, component: Mapping[str, Any] | None) -> None:
    params = _params(component, "header")
    header = spec.header
    if header is None:
        if params:
            raise _count_mismatch("header", len(params), 0)
    elif header.format == "TEXT":
        _check_text_params(spec, "header", params, header.slots, HEADER_TEXT_LIMIT)
    else:
        _check_rich_header(header, params)


def _check_text_params(
    spec: TemplateSpec,
    where: str,
    params: Sequence[Mapping[str, Any]],
    slots: tuple[str, ...],
    limit: int,
) -> None:
    if spec.named:
        _check_named(where, params, slots)
    elif any("parameter_name" in p for p in params):
        raise GraphError(
            132012, f"{where}: parameter_name is only allowed in templates with named parameters"
        )
    if len(params) != len(slots):
        raise _count_mismatch(where, len(params), len(slots))
    allowed = ("text",) if where == "header" else ("text", "currency", "date_time")
    for param in params:
        _check_value(where, param, allowed, limit)


def _check_named(where: str, params: Sequence[Mapping[str, Any]], slots: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for param in params:
        name = param.get("parameter_name")
        if not isinstance(name, str) or not name:
            raise GraphError(
                132012, f"{where}: parameter_name is required in templates with named parameters"
            )
        if name not in slots:
            raise GraphError(132012, f"{where}: unknown parameter_name '{name}'")
        if name in seen:
            raise GraphError(132012, f"{where}: parameter_name '{name}' is given twice")
        seen.add(name)


def _check_value(
    where: str, param: Mapping[str, Any], allowed: tuple[str, ...], limit: int
) -> None:
    kind = param.get("type")
    if kind is None:
        raise GraphError(131008, f"{where}: the parameter type is required.")
    if kind not in allowed:
        raise GraphError(
            132012, f"{where}: parameter of type '{kind}' where the template expects text"
        )
    if kind == "text":
        check_text(where, param.get("text"), limit)
    else:
        _check_localizable(where, kind, param.get(kind))


def check_text(where: str, text: Any, limit: int) -> str:
    if text is None or text == "":
        raise GraphError(131008, f"{where}: Parameter of type text is missing text value")
    if not isinstance(text, str):
        raise GraphError(131009, f"{where}: Param text must be a string")
    if _FORBIDDEN_WHITESPACE.search(text):
        raise GraphError(132018, _FORBIDDEN_WHITESPACE_DETAILS)
    if len(text) > limit:
        raise GraphError(
            132005, f"{where}: text parameter of {len(text)} characters exceeds the {limit} limit"
        )
    return text


def _check_localizable(where: str, kind: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not value.get("fallback_value"):
        raise GraphError(131008, f"{where}: Parameter of type {kind} is missing fallback_value")
    if kind == "currency" and not (
        isinstance(value.get("code"), str) and isinstance(value.get("amount_1000"), int)
    ):
        raise GraphError(131009, f"{where}: currency needs a code and an integer amount_1000")


def _check_rich_header(header: HeaderSpec, params: Sequence[Mapping[str, Any]]) -> None:
    expected = header.format.lower()
    if not params:
        raise GraphError(
            132012, f"header: Format mismatch, expected {header.format}, received UNKNOWN"
        )
    if len(params) > 1:
        raise _count_mismatch("header", len(params), 1)
    kind = str(params[0].get("type", "UNKNOWN"))
    if kind != expected:
        raise GraphError(
            132012, f"header: Format mismatch, expected {header.format}, received {kind.upper()}"
        )
    if header.format in MEDIA_FORMATS:
        _check_media(kind, params[0].get(kind))
    else:
        _check_location(params[0].get(kind))


def _check_media(kind: str, media: Any) -> None:
    if not isinstance(media, Mapping) or not (media.get("link") or media.get("id")):
        raise GraphError(131008, f"header: Parameter of type {kind} is missing link or id")
    link = media.get("link")
    if link is not None and not (
        isinstance(link, str) and link.startswith(("http://", "https://"))
    ):
        raise GraphError(131009, f"header: {kind} link must be an http(s) URL")


def _check_location(location: Any) -> None:
    if not (
        isinstance(location, Mapping)
        and _is_number(location.get("latitude"))
        and _is_number(location.get("longitude"))
    ):
        raise GraphError(131009, "header: location needs numeric latitude and longitude")


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------------------------
# Buttons


def _check_buttons(specs: tuple[ButtonSpec, ...], components: list[Mapping[str, Any]]) -> None:
    given: dict[int, Mapping[str, Any]] = {}
    for component in components:
        index = _button_index(component, len(specs))
        if index in given:
            raise GraphError(131009, f"buttons: index {index} is given twice")
        given[index] = component
    for spec in specs:
        button = given.get(spec.index)
        if button is not None:
            _check_button(spec, button)
        elif spec.required:
            raise _count_mismatch(f"button at index {spec.index} ({spec.sub_type})", 0, 1)


def _button_index(component: Mapping[str, Any], count: int) -> int:
    if component.get("sub_type") in (None, ""):
        raise GraphError(131008, "The parameter sub_type is required for button components.")
    raw = component.get("index")
    if raw is None or raw == "":
        raise GraphError(131008, "The parameter index is required for button components.")
    index = raw if isinstance(raw, int) and not isinstance(raw, bool) else _digits(raw)
    if index is None or not 0 <= index < count:
        raise GraphError(131009, f"buttons: the template has no button at index {raw}")
    return index


def _digits(raw: Any) -> int | None:
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def _check_button(spec: ButtonSpec, component: Mapping[str, Any]) -> None:
    where = f"button at index {spec.index} ({spec.sub_type})"
    sub_type = str(component.get("sub_type")).lower()
    if sub_type != spec.sub_type:
        raise GraphError(
            132012,
            f"buttons: sub_type '{sub_type}' does not match the template's {spec.type} "
            f"button at index {spec.index}",
        )
    params = _params(component, where)
    if spec.param_type == "*":
        return
    expected = 0 if spec.param_type is None else 1
    if len(params) > expected or (spec.required and not params):
        raise _count_mismatch(where, len(params), expected)
    if params and spec.param_type is not None:
        _check_button_param(spec, where, params[0], spec.param_type)


def _check_button_param(spec: ButtonSpec, where: str, param: Mapping[str, Any], kind: str) -> None:
    if param.get("type") != kind:
        raise GraphError(
            132012, f"{where}: parameter of type '{param.get('type')}' where {kind} is expected"
        )
    value = param.get(kind)
    if kind == "text":
        check_text(where, value, spec.text_limit)
    elif kind == "coupon_code":
        _check_code(where, value)
    elif kind == "payload" and not (isinstance(value, str) and value):
        raise GraphError(131008, f"{where}: Parameter of type payload is missing payload value")
    elif kind == "action" and not isinstance(value, Mapping):
        raise GraphError(131008, f"{where}: Parameter of type action is missing action value")


def _check_code(where: str, value: Any) -> None:
    if value is None or value == "":
        raise GraphError(131008, f"{where}: Parameter of type coupon_code is missing its value")
    if not (isinstance(value, str) and _ALPHANUMERIC.fullmatch(value) and len(value) <= CODE_LIMIT):
        raise GraphError(
            131009, f"{where}: coupon_code must be at most {CODE_LIMIT} letters or digits"
        )
