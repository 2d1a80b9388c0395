"""Template variables: the keys clients use, and their resolution into Meta's send payload.

The contract (what ``variables`` and ``button_variables`` of a send request may contain)
========================================================================================

``variables`` (header and body):

* NAMED templates: a body or text-header placeholder ``{{first_name}}`` has the key
  ``"first_name"``. Meta keeps names unique across header and body.
* POSITIONAL templates: body ``{{1}}``, ``{{2}}``, … have the keys ``"1"``, ``"2"``, …; a text
  header's ``{{1}}`` has the key ``"header_1"``.
* Media header: ``"header_image"``, ``"header_video"`` or ``"header_document"``, whose value is an
  https URL (sent as ``{"link": …}``) or a Meta media id, digits only (sent as ``{"id": …}``).
  A document header also takes an optional ``"header_document_filename"``.
* Location header: ``"header_latitude"`` and ``"header_longitude"`` (required, decimal degrees,
  within ±90 and ±180), ``"header_location_name"`` and ``"header_location_address"`` (optional).

``button_variables``, keyed ``"button_<index>"`` with the button's 0-based position in the
template's BUTTONS component:

* URL button whose URL has ``{{1}}``: the suffix, required; a URL button without a variable
  takes no value.
* QUICK_REPLY: an optional payload (at most 256 characters), sent only when given.
* COPY_CODE: the coupon code, required, at most 15 letters and digits.
* OTP (authentication templates; Meta also lists these as URL buttons with a variable): the
  one-time code, at most 15 letters and digits. When absent, the body's single variable is
  reused, because Meta wants the same code in the body and in the button.
* PHONE_NUMBER and any other button take no value.

Rules that apply to every key:

* A key the template does not have is refused (the error lists the valid keys).
* A missing key takes its default from the template's ``variable_defaults`` (keyed like the
  request); without a default, a required key is an error. A key given with an empty or
  blank value is refused, not defaulted: Meta never receives an empty parameter.
* Values are sent exactly as given. Meta's rules (meta-cloud-api.md §1.5) are checked before
  anything is sent; every problem of one request is reported together in one
  ``TemplateParameterError`` whose ``field_errors`` are keyed ``"variables.<key>"`` or
  ``"button_variables.<key>"`` and whose ``meta_code`` is the code Meta would have answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mindo_core.domain.errors import TemplateParameterError
from mindo_core.templating.model import (
    FILENAME_KEY,
    LATITUDE_KEY,
    LOCATION_ADDRESS_KEY,
    LOCATION_NAME_KEY,
    LONGITUDE_KEY,
    ButtonSpec,
    LocationHeader,
    MediaHeader,
    TemplateSpec,
    TextHeader,
    TextParameter,
)
from mindo_core.templating.rules import (
    BODY_ONLY_TEXT_MAX,
    BODY_TEXT_MAX,
    HEADER_TEXT_MAX,
    MISSING_PARAMETER,
    PARAMETER_COUNT_MISMATCH,
    Problem,
    code_problems,
    coordinate,
    media_reference,
    most_significant_code,
    payload_problems,
    text_problems,
    url_problems,
)

Component = dict[str, Any]


VARIABLES = "variables"


BUTTON_VARIABLES = "button_variables"


@dataclass(frozen=True, kw_only=True)
class ResolvedTemplate:
    """Meta's ``template.components`` for one send, and the values it carries."""

    components: list[Component]
    # Keyed by the client's keys (buttons as "button_N"), defaults and reused OTP codes included.
    variables_used: dict[str, str]


def resolve_reporting_problems(
    spec: TemplateSpec, variables: Mapping[str, str], button_variables: Mapping[str, str]
) -> ResolvedTemplate:
    resolution = _Resolution(spec, {VARIABLES: variables, BUTTON_VARIABLES: button_variables})
    resolution.refuse_unknown_keys()
    header = resolution.header()
    body = resolution.body()
    buttons = resolution.buttons()
    resolution.raise_problems()
    components = [c for c in (header, body) if c is not None] + buttons
    return ResolvedTemplate(components=components, variables_used=resolution.used)


class _Resolution:
    """The state of one ``resolve`` call: the inputs, the values used, the problems found."""

    def __init__(self, spec: TemplateSpec, given: Mapping[str, Mapping[str, str]]) -> None:
        self.spec = spec
        self.given = given
        self.variables = {v.name: v for v in spec.variables()}
        self.used: dict[str, str] = {}
        self.problems: dict[str, list[Problem]] = {}

    # -- collecting ---------------------------------------------------------------------------

    def report(self, key: str, problems: Problem | list[Problem]) -> None:
        field_key = f"{self._field_of(key)}.{key}"
        found = problems if isinstance(problems, list) else [problems]
        if found:
            self.problems.setdefault(field_key, []).extend(found)

    def raise_problems(self) -> None:
        if not self.problems:
            return
        field_errors = {
            field_key: [f"{_key_of(field_key)!r} {p.reason}" for p in problems]
            for field_key, problems in self.problems.items()
        }
        summary = "; ".join(message for messages in field_errors.values() for message in messages)
        raise TemplateParameterError(
            f"Template '{self.spec.name}' ({self.spec.language}) cannot be sent: {summary}",
            meta_code=most_significant_code(p for ps in self.problems.values() for p in ps),
            field_errors=field_errors,
        )

    def _field_of(self, key: str) -> str:
        variable = self.variables.get(key)
        if variable is None:
            return BUTTON_VARIABLES if key.startswith("button_") else VARIABLES
        return BUTTON_VARIABLES if variable.component == "BUTTON" else VARIABLES

    # -- values -------------------------------------------------------------------------------

    def refuse_unknown_keys(self) -> None:
        valid = {VARIABLES: self.spec.variable_keys(), BUTTON_VARIABLES: self.spec.button_keys()}
        for field, values in self.given.items():
            for key in sorted(set(values) - valid[field]):
                reason = _unknown_key_reason(self.spec, field, key, valid[field])
                problem = Problem(meta_code=PARAMETER_COUNT_MISMATCH, reason=reason)
                self.problems.setdefault(f"{field}.{key}", []).append(problem)

    def value(self, key: str) -> str | None:
        """The value to send for ``key``: the client's, else its default, else None."""
        given = self.given[self._field_of(key)]
        if key in given:
            if not given[key].strip():
                self.report(key, _EMPTY)
                return None
            self.used[key] = given[key]
            return given[key]
        default = self.spec.default_for(key)
        if default is not None:
            self.used[key] = default
            return default
        if self.variables[key].is_required:
            self.report(key, _MISSING)
        return None

    # -- components ---------------------------------------------------------------------------

    def header(self) -> Component | None:
        header = self.spec.header
        if isinstance(header, TextHeader):
            limit = HEADER_TEXT_MAX
            return self._text_component("header", header.parameters, limit, "header text parameter")
        if isinstance(header, MediaHeader):
            return self._media_header(header)
        if isinstance(header, LocationHeader):
            return self._location_header()
        return None

    def body(self) -> Component | None:
        if self.spec.body is None:
            return None
        limit = BODY_ONLY_TEXT_MAX if self.spec.body_is_only_component else BODY_TEXT_MAX
        return self._text_component("body", self.spec.body.parameters, limit, "body text parameter")

    def buttons(self) -> list[Component]:
        components = (self._button(button) for button in self.spec.buttons if button.takes_value)
        return [c for c in components if c is not None]

    def _text_component(
        self, kind: str, parameters: tuple[TextParameter, ...], limit: int, what: str
    ) -> Component | None:
        sent = []
        for parameter in parameters:
            value = self.value(parameter.key)
            if value is not None:
                self.report(parameter.key, text_problems(value, max_length=limit, what=what))
                sent.append(self._text_parameter(parameter, value))
        return {"type": kind, "parameters": sent} if sent else None

    def _text_parameter(self, parameter: TextParameter, value: str) -> dict[str, str]:
        if self.spec.parameter_format == "NAMED":
            return {"type": "text", "parameter_name": parameter.meta_name, "text": value}
        return {"type": "text", "text": value}

    def _media_header(self, header: MediaHeader) -> Component | None:
        value = self.value(header.key)
        if value is None:
            return None
        reference = media_reference(value)
        if isinstance(reference, Problem):
            self.report(header.key, reference)
            return None
        filename = self.value(FILENAME_KEY) if header.format == "DOCUMENT" else None
        if filename is not None:
            reference["filename"] = filename
        kind = header.format.lower()
        return {"type": "header", "parameters": [{"type": kind, kind: reference}]}

    def _location_header(self) -> Component | None:
        latitude = self._coordinate(LATITUDE_KEY, 90, "latitude")
        longitude = self._coordinate(LONGITUDE_KEY, 180, "longitude")
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        for key, meta_name in ((LOCATION_NAME_KEY, "name"), (LOCATION_ADDRESS_KEY, "address")):
            if (value := self.value(key)) is not None:
                location[meta_name] = value
        if latitude is None or longitude is None:
            return None
        return {"type": "header", "parameters": [{"type": "location", "location": location}]}

    def _coordinate(self, key: str, limit: float, what: str) -> float | None:
        value = self.value(key)
        if value is None:
            return None
        number = coordinate(value, limit=limit, what=what)
        if isinstance(number, Problem):
            self.report(key, number)
            return None
        return number

    def _button(self, button: ButtonSpec) -> Component | None:
        if button.kind == "OTP":
            return self._otp_button(button)
        value = self.value(button.key)
        if value is None:
            return None
        if button.kind == "QUICK_REPLY":
            self.report(button.key, payload_problems(value))
            return button_component(button, "quick_reply", {"type": "payload", "payload": value})
        if button.kind == "COPY_CODE":
            self.report(button.key, code_problems(value, what="coupon code"))
            return button_component(
                button, "copy_code", {"type": "coupon_code", "coupon_code": value}
            )
        self.report(button.key, url_problems(button.url or "", value))
        return button_component(button, "url", {"type": "text", "text": value})

    def _otp_button(self, button: ButtonSpec) -> Component | None:
        value = self.value(button.key)
        code_key = self.spec.otp_code_key
        if value is None and code_key is not None and code_key in self.used:
            value = self.used[code_key]
            self.used[button.key] = value
            problems = code_problems(value, what="one-time code")
            self.report(code_key, [_as_otp_of(button, p) for p in problems])
        elif value is not None:
            self.report(button.key, code_problems(value, what="one-time code"))
        if value is None:
            return None
        return button_component(button, "url", {"type": "text", "text": value})


_MISSING = Problem(
    meta_code=MISSING_PARAMETER, reason="is required by the template and has no default"
)


_EMPTY = Problem(
    meta_code=MISSING_PARAMETER,
    reason="is empty; Meta never receives an empty parameter (defaults apply only to absent keys)",
)


def button_component(button: ButtonSpec, sub_type: str, parameter: dict[str, str]) -> Component:
    return {
        "type": "button",
        "sub_type": sub_type,
        "index": str(button.index),
        "parameters": [parameter],
    }


def _as_otp_of(button: ButtonSpec, problem: Problem) -> Problem:
    reason = f"(also the one-time code of button {button.index}) {problem.reason}"
    return Problem(meta_code=problem.meta_code, reason=reason)


def _key_of(field_key: str) -> str:
    return field_key.split(".", 1)[1]


def _unknown_key_reason(spec: TemplateSpec, field: str, key: str, valid: frozenset[str]) -> str:
    button = next((b for b in spec.buttons if b.key == key), None)
    if field == BUTTON_VARIABLES and button is not None:
        return f"is a {button.meta_type} button without a variable; it takes no value"
    hint = ""
    if field == VARIABLES and spec.parameter_format == "NAMED" and key.isdigit():
        hint = " (this template uses named parameters, not numbers)"
    if not valid:
        return f"is not a variable of template '{spec.name}', which takes no {field}{hint}"
    listing = ", ".join(sorted(valid))
    return f"is not a variable of template '{spec.name}'{hint}; valid keys: {listing}"


# -- the accepting path of CompiledTemplate -------------------------------------------------------
# One step per component that takes values. ``accepts`` records the values the component uses
# and says whether _Resolution would accept them: its conditions mirror _Resolution's exactly,
# from the accepting side, and anything it is not sure of is left to _Resolution. ``build``
# makes the component from accepted values, as _Resolution would (None: not sent).
