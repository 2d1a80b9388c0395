"""What a template expects in a send, read once from its components in Meta's GET shape."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mindo_sandbox.config import TemplateConfig

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")

MEDIA_FORMATS = frozenset({"IMAGE", "VIDEO", "DOCUMENT", "GIF"})
URL_LIMIT = 2000
OTP_LIMIT = 15

# Parameter type accepted by each button type, and whether the send must carry it. None: the
# button takes no parameter; "*": the sandbox does not check this button's parameters.
_BUTTON_RULES: dict[str, tuple[str, str | None, bool]] = {
    "URL": ("url", "text", False),  # required only when the URL has a variable
    "QUICK_REPLY": ("quick_reply", "payload", False),
    "COPY_CODE": ("copy_code", "coupon_code", True),
    "OTP": ("url", "text", True),
    "FLOW": ("flow", "action", False),
    "CATALOG": ("catalog", "action", False),
    "MPM": ("mpm", "action", False),
    "PHONE_NUMBER": ("phone_number", None, False),
}


@dataclass(frozen=True, kw_only=True)
class HeaderSpec:
    format: str
    text: str
    slots: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ButtonSpec:
    index: int
    type: str
    sub_type: str
    param_type: str | None
    required: bool
    # The longest text parameter: what is left of the 2000-character URL, or an OTP's 15.
    text_limit: int


@dataclass(frozen=True, kw_only=True)
class TemplateSpec:
    template: TemplateConfig
    named: bool
    header: HeaderSpec | None
    body_slots: tuple[str, ...]
    # Meta allows longer body parameters when the body is the template's only component.
    body_only: bool
    buttons: tuple[ButtonSpec, ...]

    @classmethod
    def of(cls, template: TemplateConfig) -> TemplateSpec:
        by_type = {str(c.get("type", "")).upper(): c for c in template.components}
        body = by_type.get("BODY", {})
        return cls(
            template=template,
            named=template.parameter_format == "NAMED",
            header=_header(by_type.get("HEADER")),
            body_slots=slots_in(str(body.get("text", ""))),
            body_only=set(by_type) <= {"BODY"},
            buttons=_buttons(by_type.get("BUTTONS")),
        )


def slots_in(text: str) -> tuple[str, ...]:
    """The distinct placeholders of ``text``, in order of first appearance."""
    return tuple(dict.fromkeys(_PLACEHOLDER.findall(text)))


def _header(component: Mapping[str, Any] | None) -> HeaderSpec | None:
    if component is None:
        return None
    text = str(component.get("text", ""))
    return HeaderSpec(
        format=str(component.get("format", "TEXT")).upper(), text=text, slots=slots_in(text)
    )


def _buttons(component: Mapping[str, Any] | None) -> tuple[ButtonSpec, ...]:
    if component is None:
        return ()
    buttons: Sequence[Any] = component.get("buttons", [])
    return tuple(_button(i, b) for i, b in enumerate(buttons) if isinstance(b, Mapping))


def _button(index: int, button: Mapping[str, Any]) -> ButtonSpec:
    kind = str(button.get("type", "")).upper()
    url = str(button.get("url", ""))
    sub_type, param_type, required = _BUTTON_RULES.get(kind, (kind.lower(), "*", False))
    if kind == "URL":
        required = bool(slots_in(url))
        param_type = "text" if required else None
    return ButtonSpec(
        index=index,
        type=kind,
        sub_type=sub_type,
        param_type=param_type,
        required=required,
        text_limit=OTP_LIMIT if kind == "OTP" else URL_LIMIT - len(_PLACEHOLDER.sub("", url)),
    )
