"""Parsing Meta's template definitions, and the variables each one asks clients for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from mindo_core.domain.errors import InvalidRequest
from mindo_core.domain.templates import StoredTemplate
from mindo_core.templating.model import (
    ComponentKind,
    MalformedTemplate,
    VariableSpec,
    VariableType,
    parse_template,
)
from tests.template_specs import stored_template


def stored(
    components: Sequence[Mapping[str, Any]],
    *,
    parameter_format: str = "POSITIONAL",
    category: str = "MARKETING",
    defaults: Mapping[str, str] | None = None,
) -> StoredTemplate:
    return stored_template(
        components, parameter_format=parameter_format, category=category, defaults=defaults
    )


def variable(
    name: str,
    type_: VariableType,
    position: int,
    component: ComponentKind,
    *,
    required: bool = True,
) -> VariableSpec:
    return VariableSpec(
        name=name, type=type_, position=position, is_required=required, component=component
    )


def variables_of(components: Sequence[Mapping[str, Any]], **kwargs: Any) -> list[VariableSpec]:
    return list(parse_template(stored(components, **kwargs)).variables())


# -- keys -----------------------------------------------------------------------------------------


def test_positional_body_keys_are_numbers_and_the_text_header_key_is_header_1() -> None:
    found = variables_of(
        [
            {"type": "HEADER", "format": "TEXT", "text": "Hola {{1}}"},
            {"type": "BODY", "text": "Tu pedido {{2}} esta {{1}}."},
        ]
    )

    assert found == [
        variable("header_1", "TEXT", 1, "HEADER"),
        variable("1", "TEXT", 1, "BODY"),
        variable("2", "TEXT", 2, "BODY"),
    ]


def test_named_keys_are_the_parameter_names_in_text_order() -> None:
    found = variables_of(
        [
            {"type": "header", "format": "text", "text": "Hola {{first_name}}"},
            {"type": "body", "text": "Pedido {{order_id}} {{ status }}, {{order_id}}"},
        ],
        parameter_format="named",
    )

    assert found == [
        variable("first_name", "TEXT", 1, "HEADER"),
        variable("order_id", "TEXT", 1, "BODY"),
        variable("status", "TEXT", 2, "BODY"),
    ]


def test_an_empty_parameter_format_means_positional() -> None:
    spec = parse_template(stored([{"type": "BODY", "text": "{{1}}"}], parameter_format=""))

    assert spec.parameter_format == "POSITIONAL"


@pytest.mark.parametrize(("media", "key"), [("IMAGE", "header_image"), ("VIDEO", "header_video")])
def test_a_media_header_asks_for_one_link_or_id(media: VariableType, key: str) -> None:
    found = variables_of([{"type": "HEADER", "format": media}, {"type": "BODY", "text": "Hi"}])

    assert found == [variable(key, media, 1, "HEADER")]


def test_a_document_header_also_takes_an_optional_filename() -> None:
    found = variables_of([{"type": "HEADER", "format": "DOCUMENT"}])

    assert found == [
        variable("header_document", "DOCUMENT", 1, "HEADER"),
        variable("header_document_filename", "DOCUMENT", 2, "HEADER", required=False),
    ]


def test_a_location_header_needs_coordinates_and_may_take_a_name_and_address() -> None:
    found = variables_of([{"type": "HEADER", "format": "LOCATION"}])

    assert found == [
        variable("header_latitude", "LOCATION", 1, "HEADER"),
        variable("header_longitude", "LOCATION", 2, "HEADER"),
        variable("header_location_name", "LOCATION", 3, "HEADER", required=False),
        variable("header_location_address", "LOCATION", 4, "HEADER", required=False),
    ]


def test_static_header_and_footer_ask_for_nothing() -> None:
    found = variables_of(
        [
            {"type": "HEADER", "format": "TEXT", "text": "Novedades"},
            {"type": "BODY", "text": "Sin variables"},
            {"type": "FOOTER", "text": "Mindo"},
        ]
    )

    assert found == []


def test_buttons_are_keyed_by_their_index_and_only_some_take_a_value() -> None:
    found = variables_of(
        [
            {"type": "BODY", "text": "Hola"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "Ver", "url": "https://x.example/{{1}}"},
                    {"type": "URL", "text": "Web", "url": "https://x.example/"},
                    {"type": "QUICK_REPLY", "text": "Stop"},
                    {"type": "COPY_CODE", "example": "SAVE20"},
                    {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550001111"},
                    {"type": "FLOW", "text": "Abrir"},
                ],
            },
        ]
    )

    assert found == [
        variable("button_0", "TEXT", 1, "BUTTON"),
        variable("button_2", "TEXT", 3, "BUTTON", required=False),
        variable("button_3", "TEXT", 4, "BUTTON"),
    ]


def test_an_otp_button_is_optional_when_the_body_has_one_variable_to_reuse() -> None:
    spec = parse_template(
        stored(
            [
                {"type": "BODY", "text": "*{{1}}* es tu codigo."},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
            ],
            category="AUTHENTICATION",
        )
    )

    assert spec.variables()[-1] == variable("button_0", "TEXT", 1, "BUTTON", required=False)
    assert spec.otp_code_key == "1"


def test_an_otp_button_is_required_when_the_body_has_no_single_variable() -> None:
    found = variables_of(
        [
            {"type": "BODY", "text": "Hola {{1}}, tu codigo es {{2}}."},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "ONE_TAP"}]},
        ],
        category="AUTHENTICATION",
    )

    assert found[-1] == variable("button_0", "TEXT", 1, "BUTTON")


def test_an_authentication_templates_url_button_with_a_variable_is_an_otp_button() -> None:
    url = "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}"
    spec = parse_template(
        stored(
            [
                {"type": "BODY", "text": "*{{1}}* es tu codigo."},
                {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Copiar", "url": url}]},
            ],
            category="authentication",
        )
    )

    assert spec.buttons[0].kind == "OTP"


def test_a_non_blank_default_makes_a_variable_optional() -> None:
    found = variables_of(
        [
            {"type": "BODY", "text": "{{1}} {{2}} {{3}}"},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "URL", "text": "V", "url": "https://x/{{1}}"}],
            },
        ],
        defaults={"2": "dos", "3": "  ", "button_0": "inicio"},
    )

    assert [(v.name, v.is_required) for v in found] == [
        ("1", True),
        ("2", False),
        ("3", True),
        ("button_0", False),
    ]


def test_a_specs_variables_are_worked_out_once_and_do_not_affect_equality() -> None:
    definition = stored(
        [
            {"type": "HEADER", "format": "TEXT", "text": "Hola {{1}}"},
            {"type": "BODY", "text": "{{1}}"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Si"}]},
        ]
    )
    spec = parse_template(definition)

    assert spec.variables() is spec.variables()
    assert spec.variable_keys() == {"header_1", "1"}
    assert spec.button_keys() == {"button_0"}
    assert spec == parse_template(definition)
    assert "_variables" not in repr(spec)


def test_components_that_take_no_variables_are_tolerated() -> None:
    found = variables_of([{"type": "BODY", "text": "{{1}}"}, {"type": "CAROUSEL", "cards": []}])

    assert [v.name for v in found] == ["1"]


# -- malformed definitions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("components", "parameter_format", "problem"),
    [
        (["BODY"], "POSITIONAL", "component 0 is not an object with a string 'type'"),
        ([{"text": "x"}], "POSITIONAL", "component 0 is not an object with a string 'type'"),
        (
            [{"type": "BODY", "text": "a"}, {"type": "body", "text": "b"}],
            "POSITIONAL",
            "more than one BODY component",
        ),
        ([{"type": "BODY"}], "POSITIONAL", "its BODY has no 'text' string"),
        (
            [{"type": "BODY", "text": "Hola {{name}}"}],
            "POSITIONAL",
            "BODY has named placeholders but parameter_format is POSITIONAL",
        ),
        (
            [{"type": "BODY", "text": "{{1}} y {{3}}"}],
            "POSITIONAL",
            "BODY placeholders are [1, 3], not numbered 1 to 2",
        ),
        (
            [{"type": "BODY", "text": "Hola {{first name}}"}],
            "NAMED",
            "BODY placeholder {{first name}} is not a parameter name",
        ),
        ([{"type": "BODY", "text": "x"}], "FANCY", "parameter_format 'FANCY' is neither"),
        (
            [{"type": "HEADER", "format": "STICKER"}],
            "POSITIONAL",
            "HEADER format 'STICKER' is not supported",
        ),
        ([{"type": "BUTTONS", "buttons": "none"}], "POSITIONAL", "no 'buttons' list"),
        ([{"type": "BUTTONS", "buttons": [{}]}], "POSITIONAL", "button 0 is not an object"),
        ([{"type": "BUTTONS", "buttons": [{"type": "URL"}]}], "POSITIONAL", "no 'url' string"),
        (
            [{"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x/{{1}}/{{2}}"}]}],
            "POSITIONAL",
            "URL button 0 has 2 variables; URL buttons support only 1",
        ),
        (
            [
                {"type": "HEADER", "format": "TEXT", "text": "{{name}}"},
                {"type": "BODY", "text": "{{name}}"},
            ],
            "NAMED",
            "variable key 'name' would name two different values",
        ),
    ],
)
def test_a_malformed_definition_is_refused_with_its_problem(
    components: list[Any], parameter_format: str, problem: str
) -> None:
    with pytest.raises(MalformedTemplate) as caught:
        parse_template(stored(components, parameter_format=parameter_format))

    assert problem in caught.value.message
    assert caught.value.message.startswith("Template 'sample' (es) has a malformed definition: ")
    assert isinstance(caught.value, InvalidRequest)
    assert caught.value.code == "invalid_request"
