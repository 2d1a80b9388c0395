"""Parameter rules for the component kinds the demo templates do not cover (checked in-process)."""

from __future__ import annotations

from typing import Any

import pytest

from mindo_sandbox import TemplateConfig
from mindo_sandbox.component_checks import check_components
from mindo_sandbox.graph_errors import GraphError
from mindo_sandbox.template_specs import TemplateSpec


def spec(*components: dict[str, Any], named: bool = False) -> TemplateSpec:
    template = TemplateConfig(
        id="1",
        name="t",
        language="es",
        parameter_format="NAMED" if named else "POSITIONAL",
        components=components,
    )
    return TemplateSpec.of(template)


def code_of(template: TemplateSpec, components: list[dict[str, Any]]) -> int | None:
    try:
        check_components(template, components)
    except GraphError as error:
        return error.code
    return None


PRICE = spec({"type": "BODY", "text": "Total {{1}} el {{2}}"}, {"type": "FOOTER", "text": "x"})
CURRENCY = {
    "type": "currency",
    "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": 10},
}
DATE = {"type": "date_time", "date_time": {"fallback_value": "5 de junio"}}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ([CURRENCY, DATE], None),
        ([{"type": "currency", "currency": {"fallback_value": "$10"}}, DATE], 131009),
        ([{"type": "currency"}, DATE], 131008),
        ([{"type": "image", "image": {"link": "https://x/a.png"}}, DATE], 132012),
        ([{"text": "no type"}, DATE], 131008),
    ],
)
def test_body_parameters_may_be_currency_and_date_time(
    params: list[dict[str, Any]], code: int | None
) -> None:
    assert code_of(PRICE, [{"type": "body", "parameters": params}]) == code


LOCATION = spec({"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Aqui"})


@pytest.mark.parametrize(
    ("location", "code"),
    [
        ({"latitude": -38.0, "longitude": -57.5, "name": "Mindo"}, None),
        ({"latitude": "-38.0", "longitude": "-57.5"}, None),
        ({"latitude": -38.0}, 131009),
        ("Mar del Plata", 131009),
    ],
)
def test_a_location_header_needs_coordinates(location: Any, code: int | None) -> None:
    header = {"type": "header", "parameters": [{"type": "location", "location": location}]}

    assert code_of(LOCATION, [header]) == code


IMAGE = spec({"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Hola"})


@pytest.mark.parametrize(
    ("image", "code"),
    [
        ({"link": "https://mindo.example/a.png"}, None),
        ({"id": "1234567890"}, None),
        ({}, 131008),
        ({"link": "ftp://mindo.example/a.png"}, 131009),
    ],
)
def test_a_media_header_needs_a_link_or_an_id(image: dict[str, Any], code: int | None) -> None:
    header = {"type": "header", "parameters": [{"type": "image", "image": image}]}

    assert code_of(IMAGE, [header]) == code


def test_a_media_header_takes_one_parameter() -> None:
    param = {"type": "image", "image": {"id": "1"}}

    assert code_of(IMAGE, [{"type": "header", "parameters": [param, param]}]) == 132000


BUTTONS = spec(
    {"type": "BODY", "text": "Hola"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Stop"},
            {"type": "COPY_CODE", "example": "SAVE20"},
            {"type": "URL", "text": "Web", "url": "https://mindo.example"},
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+5491100000000"},
        ],
    },
)


def button(index: int, sub_type: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {"type": "button", "sub_type": sub_type, "index": str(index), "parameters": list(params)}


def coupon(value: str) -> dict[str, Any]:
    return {"type": "coupon_code", "coupon_code": value}


@pytest.mark.parametrize(
    ("buttons", "code"),
    [
        ([button(1, "copy_code", coupon("SAVE20"))], None),
        (
            [
                button(0, "quick_reply", {"type": "payload", "payload": "STOP"}),
                button(1, "copy_code", coupon("A")),
            ],
            None,
        ),
        ([], 132000),  # the coupon code is required
        ([button(1, "copy_code", coupon("SAVE-20"))], 131009),
        ([button(1, "copy_code", coupon("A" * 16))], 131009),
        ([button(1, "copy_code", {"type": "text", "text": "SAVE20"})], 132012),
        (
            [button(1, "copy_code", coupon("A")), button(2, "url", {"type": "text", "text": "x"})],
            132000,
        ),
        (
            [button(1, "copy_code", coupon("A")), button(0, "quick_reply", {"type": "payload"})],
            131008,
        ),
        ([button(1, "copy_code", coupon("A")), button(1, "copy_code", coupon("B"))], 131009),
        (
            [button(1, "copy_code", coupon("A")), button(3, "phone_number", {"type": "text"})],
            132000,
        ),
        ([{"type": "button", "index": "1", "parameters": [coupon("A")]}], 131008),
        ([{"type": "button", "sub_type": "copy_code", "parameters": [coupon("A")]}], 131008),
        ([button(1, "copy_code", coupon("A")) | {"index": "one"}], 131009),
    ],
)
def test_button_parameters(buttons: list[dict[str, Any]], code: int | None) -> None:
    assert code_of(BUTTONS, buttons) == code


OTP = spec(
    {"type": "BODY", "text": "*{{1}}* es tu codigo."},
    {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar"}]},
)


@pytest.mark.parametrize(
    ("otp", "code"),
    [("482913", None), ("4" * 15, None), ("4" * 16, 132005)],
)
def test_an_authentication_template_takes_its_code_in_the_body_and_the_url_button(
    otp: str, code: int | None
) -> None:
    components = [
        {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
        button(0, "url", {"type": "text", "text": otp}),
    ]

    assert code_of(OTP, components) == code


NAMED_HEADER = spec(
    {"type": "HEADER", "format": "TEXT", "text": "Hola {{first_name}}"},
    {"type": "BODY", "text": "Sin variables"},
    named=True,
)


def test_a_named_template_names_its_header_parameters_too() -> None:
    named = {"type": "text", "text": "Ana", "parameter_name": "first_name"}
    positional = {"type": "text", "text": "Ana"}

    assert code_of(NAMED_HEADER, [{"type": "header", "parameters": [named]}]) is None
    assert code_of(NAMED_HEADER, [{"type": "header", "parameters": [positional]}]) == 132012


def test_a_repeated_placeholder_is_one_parameter() -> None:
    template = spec({"type": "BODY", "text": "{{1}} y {{1}} otra vez, y {{2}}"})

    assert (
        code_of(template, [{"type": "body", "parameters": [{"type": "text", "text": "a"}] * 2}])
        is None
    )


@pytest.mark.parametrize(
    ("components", "code"),
    [
        ("body", 131009),
        ([["body"]], 131009),
        ([{"type": "body", "parameters": "Ana"}], 131009),
        ([{"type": "body"}, {"type": "body"}], 131009),
    ],
)
def test_malformed_components_are_invalid_values(components: Any, code: int) -> None:
    assert code_of(spec({"type": "BODY", "text": "Hola"}), components) == code
