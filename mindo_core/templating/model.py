"""A template's definition, parsed from Meta's JSON into a typed model, and the variables it needs.

The input is ``StoredTemplate.components`` exactly as ``GET /{waba_id}/message_templates`` returns
it. Component ``type`` and header ``format`` are read case-insensitively. Components Mindo does not
fill (for example ``CAROUSEL``) and button types it does not know (``FLOW``, ``CATALOG``, …) take
no variables; they are kept out of the way so that the template can still be listed. The keys a
client uses for each variable are described in ``mindo_core.templating.resolution``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal, cast

from mindo_core.domain.errors import InvalidRequest
from mindo_core.domain.templates import StoredTemplate

__all__ = [
    "FILENAME_KEY",
    "LATITUDE_KEY",
    "LOCATION_ADDRESS_KEY",
    "LOCATION_NAME_KEY",
    "LONGITUDE_KEY",
    "Body",
    "ButtonKind",
    "ButtonSpec",
    "ComponentKind",
    "LocationHeader",
    "MalformedTemplate",
    "MediaHeader",
    "ParameterFormat",
    "TemplateSpec",
    "TextHeader",
    "TextParameter",
    "VariableSpec",
    "VariableType",
    "parse_template",
]

ParameterFormat = Literal["NAMED", "POSITIONAL"]
VariableType = Literal["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"]
ComponentKind = Literal["HEADER", "BODY", "BUTTON"]
MediaFormat = Literal["IMAGE", "VIDEO", "DOCUMENT"]
ButtonKind = Literal["URL", "QUICK_REPLY", "COPY_CODE", "OTP", "PHONE_NUMBER", "OTHER"]

FILENAME_KEY = "header_document_filename"
LATITUDE_KEY = "header_latitude"
LONGITUDE_KEY = "header_longitude"
LOCATION_NAME_KEY = "header_location_name"
LOCATION_ADDRESS_KEY = "header_location_address"

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_POSITIONAL_NAME = re.compile(r"[0-9]+")
_NAMED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MEDIA_FORMATS: tuple[MediaFormat, ...] = ("IMAGE", "VIDEO", "DOCUMENT")
_KNOWN_BUTTONS: tuple[ButtonKind, ...] = ("URL", "QUICK_REPLY", "COPY_CODE", "OTP", "PHONE_NUMBER")


class MalformedTemplate(InvalidRequest):
    """The stored definition cannot be read: it did not come from Meta in the expected shape."""

    def __init__(self, template: str, language: str, problem: str) -> None:
        super().__init__(
            f"Template '{template}' ({language}) has a malformed definition: {problem}"
        )
        self.problem = problem


@dataclass(frozen=True, kw_only=True)
class VariableSpec:
    """One value a client can give: what the business-accounts listing shows per template."""

    name: str
    type: VariableType
    position: int
    is_required: bool
    component: ComponentKind


@dataclass(frozen=True, kw_only=True)
class TextParameter:
    """A ``{{…}}`` placeholder: ``key`` is the client's key, ``meta_name`` what Meta calls it."""

    key: str
    meta_name: str


@dataclass(frozen=True, kw_only=True)
class TextHeader:
    text: str
    parameters: tuple[TextParameter, ...]


@dataclass(frozen=True, kw_only=True)
class MediaHeader:
    format: MediaFormat

    @property
    def key(self) -> str:
        return f"header_{self.format.lower()}"


@dataclass(frozen=True, kw_only=True)
class LocationHeader:
    """A location header: its latitude, longitude, name and address come with each send."""


Header = TextHeader | MediaHeader | LocationHeader


@dataclass(frozen=True, kw_only=True)
class Body:
    text: str
    parameters: tuple[TextParameter, ...]


@dataclass(frozen=True, kw_only=True)
class ButtonSpec:
    index: int
    kind: ButtonKind
    meta_type: str
    text: str = ""
    # URL buttons: the URL with its one variable written "{{1}}", if it has one.
    url: str | None = None

    @property
    def key(self) -> str:
        return f"button_{self.index}"

    @property
    def takes_value(self) -> bool:
        if self.kind == "URL":
            return self.url is not None and "{{1}}" in self.url
        return self.kind in ("QUICK_REPLY", "COPY_CODE", "OTP")


@dataclass(frozen=True, kw_only=True)
class TemplateSpec:
    name: str
    language: str
    category: str
    parameter_format: ParameterFormat
    header: Header | None
    body: Body | None
    footer: str | None
    buttons: tuple[ButtonSpec, ...]
    # Only non-blank defaults: a blank one could never be sent.
    defaults: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Meta allows a longer body parameter when the body is the template's only component.
    body_is_only_component: bool = False

    @property
    def otp_code_key(self) -> str | None:
        """The body variable an OTP button reuses when the client gives it no value of its own."""
        if self.body is not None and len(self.body.parameters) == 1:
            return self.body.parameters[0].key
        return None

    def default_for(self, key: str) -> str | None:
        return self.defaults.get(key)

    def variables(self) -> tuple[VariableSpec, ...]:
        """Every variable, header first, then body, then buttons, each in its own order."""
        return self._variables

    def variable_keys(self) -> frozenset[str]:
        return self._variable_keys

    def button_keys(self) -> frozenset[str]:
        return self._button_keys

    # Worked out once per spec: resolving a bulk send asks for them for every recipient. A
    # cached_property writes the instance's __dict__ directly, which a frozen dataclass allows;
    # the values are not fields, so equality and repr ignore them.
    @cached_property
    def _variables(self) -> tuple[VariableSpec, ...]:
        return (*self._header_variables(), *self._body_variables(), *self._button_variables())

    @cached_property
    def _variable_keys(self) -> frozenset[str]:
        return frozenset(v.name for v in self.variables() if v.component != "BUTTON")

    @cached_property
    def _button_keys(self) -> frozenset[str]:
        return frozenset(v.name for v in self.variables() if v.component == "BUTTON")

    def _variable(
        self,
        name: str,
        type_: VariableType,
        position: int,
        component: ComponentKind,
        *,
        needed: bool,
    ) -> VariableSpec:
        required = needed and self.default_for(name) is None
        return VariableSpec(
            name=name, type=type_, position=position, is_required=required, component=component
        )

    def _header_variables(self) -> list[VariableSpec]:
        header = self.header
        if isinstance(header, TextHeader):
            return self._text_variables(header.parameters, "HEADER")
        if isinstance(header, MediaHeader):
            media = [self._variable(header.key, header.format, 1, "HEADER", needed=True)]
            if header.format == "DOCUMENT":
                media.append(self._variable(FILENAME_KEY, "DOCUMENT", 2, "HEADER", needed=False))
            return media
        if isinstance(header, LocationHeader):
            keys = (LATITUDE_KEY, LONGITUDE_KEY, LOCATION_NAME_KEY, LOCATION_ADDRESS_KEY)
            return [
                self._variable(key, "LOCATION", position, "HEADER", needed=position <= 2)
                for position, key in enumerate(keys, start=1)
            ]
        return []

    def _body_variables(self) -> list[VariableSpec]:
        return [] if self.body is None else self._text_variables(self.body.parameters, "BODY")

    def _text_variables(
        self, parameters: Sequence[TextParameter], component: ComponentKind
    ) -> list[VariableSpec]:
        return [
            self._variable(p.key, "TEXT", position, component, needed=True)
            for position, p in enumerate(parameters, start=1)
        ]

    def _button_variables(self) -> list[VariableSpec]:
        return [
            self._variable(b.key, "TEXT", b.index + 1, "BUTTON", needed=self._button_needs(b))
            for b in self.buttons
            if b.takes_value
        ]

    def _button_needs(self, button: ButtonSpec) -> bool:
        if button.kind == "QUICK_REPLY":
            return False
        if button.kind == "OTP":
            return self.otp_code_key is None
        return True


class _Malformed(Exception):
    """Raised inside parsing; ``parse_template`` names the template in the public error."""


def parse_template(stored: StoredTemplate) -> TemplateSpec:
    """Read Meta's definition; raise ``MalformedTemplate`` if it is not in Meta's shape."""
    try:
        spec = _parse(stored)
        _check_unique_keys(spec)
    except _Malformed as problem:
        raise MalformedTemplate(stored.name, stored.language, str(problem)) from None
    return spec


def _parse(stored: StoredTemplate) -> TemplateSpec:
    parameter_format = _parameter_format(stored.parameter_format)
    components = _components_by_type(stored.components)
    category = (stored.category or "").upper()
    header = components.get("HEADER")
    body = components.get("BODY")
    footer = components.get("FOOTER")
    buttons = components.get("BUTTONS")
    return TemplateSpec(
        name=stored.name,
        language=stored.language,
        category=category,
        parameter_format=parameter_format,
        header=None if header is None else _header(header, parameter_format),
        body=None if body is None else _body(body, parameter_format),
        footer=None if footer is None else _text_of(footer, "FOOTER"),
        buttons=() if buttons is None else _buttons(buttons, category),
        defaults=MappingProxyType({k: v for k, v in stored.variable_defaults.items() if v.strip()}),
        body_is_only_component=body is not None and len(stored.components) == 1,
    )


def _parameter_format(raw: str | None) -> ParameterFormat:
    value = (raw or "POSITIONAL").upper()
    if value not in ("NAMED", "POSITIONAL"):
        raise _Malformed(f"parameter_format {raw!r} is neither NAMED nor POSITIONAL")
    return cast(ParameterFormat, value)


def _components_by_type(components: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for position, component in enumerate(components):
        if not isinstance(component, Mapping) or not isinstance(component.get("type"), str):
            raise _Malformed(f"component {position} is not an object with a string 'type'")
        kind = component["type"].upper()
        if kind in found:
            raise _Malformed(f"it has more than one {kind} component")
        found[kind] = component
    return found


def _text_of(component: Mapping[str, Any], kind: str) -> str:
    text = component.get("text")
    if not isinstance(text, str):
        raise _Malformed(f"its {kind} has no 'text' string")
    return text


def _header(component: Mapping[str, Any], parameter_format: ParameterFormat) -> Header:
    header_format = str(component.get("format", "TEXT")).upper()
    if header_format == "TEXT":
        text = _text_of(component, "HEADER")
        names = _placeholders(text, parameter_format, "HEADER")
        prefix = "header_" if parameter_format == "POSITIONAL" else ""
        parameters = tuple(TextParameter(key=prefix + n, meta_name=n) for n in names)
        return TextHeader(text=text, parameters=parameters)
    if header_format in _MEDIA_FORMATS:
        return MediaHeader(format=header_format)
    if header_format == "LOCATION":
        return LocationHeader()
    raise _Malformed(
        f"HEADER format {header_format!r} is not supported (TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION)"
    )


def _body(component: Mapping[str, Any], parameter_format: ParameterFormat) -> Body:
    text = _text_of(component, "BODY")
    names = _placeholders(text, parameter_format, "BODY")
    return Body(text=text, parameters=tuple(TextParameter(key=n, meta_name=n) for n in names))


def _placeholders(text: str, parameter_format: ParameterFormat, where: str) -> tuple[str, ...]:
    """The distinct placeholder names of ``text``: positional in number order, named as written."""
    names = tuple(dict.fromkeys(name.strip() for name in _PLACEHOLDER.findall(text)))
    if parameter_format == "NAMED":
        bad = [n for n in names if not _NAMED_NAME.fullmatch(n)]
        if bad:
            raise _Malformed(f"{where} placeholder {{{{{bad[0]}}}}} is not a parameter name")
        return names
    if any(not _POSITIONAL_NAME.fullmatch(n) for n in names):
        raise _Malformed(f"{where} has named placeholders but parameter_format is POSITIONAL")
    numbers = sorted(int(n) for n in names)
    if numbers != list(range(1, len(numbers) + 1)):
        raise _Malformed(f"{where} placeholders are {numbers}, not numbered 1 to {len(numbers)}")
    return tuple(str(n) for n in numbers)


def _buttons(component: Mapping[str, Any], category: str) -> tuple[ButtonSpec, ...]:
    buttons = component.get("buttons")
    if not isinstance(buttons, Sequence) or isinstance(buttons, str):
        raise _Malformed("its BUTTONS component has no 'buttons' list")
    return tuple(_button(index, button, category) for index, button in enumerate(buttons))


def _button(index: int, button: Any, category: str) -> ButtonSpec:
    if not isinstance(button, Mapping) or not isinstance(button.get("type"), str):
        raise _Malformed(f"button {index} is not an object with a string 'type'")
    meta_type = button["type"].upper()
    text = button.get("text")
    text = text if isinstance(text, str) else ""
    if meta_type != "URL":
        kind = cast(ButtonKind, meta_type) if meta_type in _KNOWN_BUTTONS else "OTHER"
        return ButtonSpec(index=index, kind=kind, meta_type=meta_type, text=text)
    url = _button_url(index, button.get("url"))
    # Meta returns an authentication template's copy-code / one-tap button as a URL button.
    otp = category == "AUTHENTICATION" and "{{1}}" in url
    kind_: ButtonKind = "OTP" if otp else "URL"
    return ButtonSpec(index=index, kind=kind_, meta_type=meta_type, text=text, url=url)


def _button_url(index: int, url: Any) -> str:
    if not isinstance(url, str):
        raise _Malformed(f"URL button {index} has no 'url' string")
    count = len(_PLACEHOLDER.findall(url))
    if count > 1:
        raise _Malformed(f"URL button {index} has {count} variables; URL buttons support only 1")
    return _PLACEHOLDER.sub("{{1}}", url)


def _check_unique_keys(spec: TemplateSpec) -> None:
    counts = Counter(v.name for v in spec.variables() if v.component != "BUTTON")
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise _Malformed(f"variable key {repeated[0]!r} would name two different values")
