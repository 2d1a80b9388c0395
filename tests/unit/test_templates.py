"""Resolving a send request's variables into Meta's payload, and Meta's rules checked on the way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mindo_core.domain.errors import InvalidRequest, TemplateParameterError
from mindo_core.templating.compiled import resolve
from mindo_core.templating.model import TemplateSpec
from mindo_core.templating.payload import build_send_payload
from mindo_core.templating.resolution import ResolvedTemplate
from tests.template_specs import template_spec

spec_of = template_spec


def refusal(
    spec: TemplateSpec,
    variables: Mapping[str, str],
    button_variables: Mapping[str, str] | None = None,
) -> TemplateParameterError:
    with pytest.raises(TemplateParameterError) as caught:
        resolve(spec, variables, button_variables or {})
    return caught.value


def body(*parameters: dict[str, str]) -> dict[str, Any]:
    return {"type": "body", "parameters": list(parameters)}


def text(value: str, name: str | None = None) -> dict[str, str]:
    return {"type": "text", "text": value} if name is None else named(name, value)


def named(name: str, value: str) -> dict[str, str]:
    return {"type": "text", "parameter_name": name, "text": value}


# -- the demo templates the service seeds, with the seed page's requests -----------------------

WELCOME_MESSAGE = spec_of(
    [
        {"type": "BODY", "text": "Hola {{name}}, bienvenido. Tu codigo es {{code}}."},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "URL",
                    "text": "Ver mi cuenta",
                    "url": "https://mindo.example/welcome/{{1}}",
                }
            ],
        },
    ],
    name="welcome_message",
    parameter_format="NAMED",
    defaults={"code": "BIENVENIDA", "button_0": "inicio"},
)
VERIFICATION_CODE = spec_of(
    [{"type": "BODY", "text": "Hola {{name}}, tu codigo es {{code}}."}],
    name="verification_code",
    parameter_format="NAMED",
    category="AUTHENTICATION",
)
ORDER_UPDATE = spec_of(
    [{"type": "BODY", "text": "Tu pedido {{order_id}} esta {{status}}."}],
    name="order_update",
    parameter_format="NAMED",
    category="UTILITY",
)
EVENT_REMINDER = spec_of(
    [
        {"type": "HEADER", "format": "TEXT", "text": "Recordatorio: {{1}}"},
        {"type": "BODY", "text": "Hola {{1}}, te esperamos el {{2}} en {{3}}."},
        {"type": "FOOTER", "text": "Mindo"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Confirmo"}]},
    ],
    name="event_reminder",
)


def test_welcome_message_with_every_value_given_sends_exactly_those_values() -> None:
    resolved = resolve(
        WELCOME_MESSAGE, {"name": "Juan Perez", "code": "ABC123"}, {"button_0": "ABC-123"}
    )

    payload = build_send_payload(
        resolved, to="+5491112345678", name="welcome_message", language="es"
    )

    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+5491112345678",
        "type": "template",
        "template": {
            "name": "welcome_message",
            "language": {"code": "es", "policy": "deterministic"},
            "components": [
                body(named("name", "Juan Perez"), named("code", "ABC123")),
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": "ABC-123"}],
                },
            ],
        },
    }
    assert resolved.variables_used == {
        "name": "Juan Perez",
        "code": "ABC123",
        "button_0": "ABC-123",
    }


def test_welcome_message_with_only_a_name_fills_code_and_button_from_defaults() -> None:
    resolved = resolve(WELCOME_MESSAGE, {"name": "Juan Perez"}, {})

    assert resolved == ResolvedTemplate(
        components=[
            body(named("name", "Juan Perez"), named("code", "BIENVENIDA")),
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "inicio"}],
            },
        ],
        variables_used={"name": "Juan Perez", "code": "BIENVENIDA", "button_0": "inicio"},
    )


def test_verification_code_sends_name_and_code_in_the_body() -> None:
    resolved = resolve(VERIFICATION_CODE, {"name": "Juan", "code": "A1B2C3"}, {})

    assert resolved.components == [body(named("name", "Juan"), named("code", "A1B2C3"))]


def test_order_update_sends_order_and_status() -> None:
    resolved = resolve(ORDER_UPDATE, {"order_id": "ORD-001", "status": "In transit"}, {})

    assert resolved.components == [
        body(named("order_id", "ORD-001"), named("status", "In transit"))
    ]


def test_event_reminder_sends_header_and_body_and_no_button_without_a_payload() -> None:
    variables = {"header_1": "Taller", "1": "Ana", "2": "5 de mayo", "3": "Mar del Plata"}

    resolved = resolve(EVENT_REMINDER, variables, {})

    assert resolved.components == [
        {"type": "header", "parameters": [text("Taller")]},
        body(text("Ana"), text("5 de mayo"), text("Mar del Plata")),
    ]
    assert resolved.variables_used == variables


def test_event_reminder_sends_a_quick_reply_payload_when_given() -> None:
    variables = {"header_1": "Taller", "1": "Ana", "2": "5 de mayo", "3": "MdP"}

    resolved = resolve(EVENT_REMINDER, variables, {"button_0": "CONFIRM-42"})

    assert resolved.components[-1] == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "CONFIRM-42"}],
    }
    assert resolved.variables_used["button_0"] == "CONFIRM-42"


def test_welcome_message_without_a_name_is_refused_as_missing() -> None:
    error = refusal(WELCOME_MESSAGE, {"code": "ABC123"})

    assert error.meta_code == 131008
    assert error.field_errors == {
        "variables.name": ["'name' is required by the template and has no default"]
    }
    assert error.message == (
        "Template 'welcome_message' (es) cannot be sent: "
        "'name' is required by the template and has no default"
    )


# -- keys -----------------------------------------------------------------------------------------


def test_an_unknown_variable_is_refused_and_the_valid_keys_are_listed() -> None:
    error = refusal(ORDER_UPDATE, {"order_id": "1", "status": "ok", "customer": "Ana"})

    assert error.meta_code == 132000
    assert error.field_errors == {
        "variables.customer": [
            "'customer' is not a variable of template 'order_update'; valid keys: order_id, status"
        ]
    }


def test_a_number_key_for_a_named_template_says_the_template_is_named() -> None:
    error = refusal(ORDER_UPDATE, {"order_id": "1", "status": "ok", "1": "x"})

    assert (
        "(this template uses named parameters, not numbers)" in error.field_errors["variables.1"][0]
    )


def test_a_button_value_for_a_template_without_buttons_is_refused() -> None:
    error = refusal(ORDER_UPDATE, {"order_id": "1", "status": "ok"}, {"button_0": "x"})

    assert error.field_errors == {
        "button_variables.button_0": [
            "'button_0' is not a variable of template 'order_update', which takes no"
            " button_variables"
        ]
    }


@pytest.mark.parametrize(
    ("button", "kind"),
    [
        ({"type": "URL", "text": "Web", "url": "https://x.example/"}, "URL"),
        ({"type": "PHONE_NUMBER", "text": "Llamar", "phone_number": "+15550001"}, "PHONE_NUMBER"),
    ],
)
def test_a_value_for_a_button_without_a_variable_is_refused(
    button: dict[str, str], kind: str
) -> None:
    spec = spec_of([{"type": "BODY", "text": "Hola"}, {"type": "BUTTONS", "buttons": [button]}])

    error = refusal(spec, {}, {"button_0": "x"})

    assert error.meta_code == 132000
    assert error.field_errors == {
        "button_variables.button_0": [
            f"'button_0' is a {kind} button without a variable; it takes no value"
        ]
    }


def test_an_explicitly_empty_value_is_refused_and_not_replaced_by_its_default() -> None:
    error = refusal(WELCOME_MESSAGE, {"name": "Juan", "code": "   "}, {"button_0": ""})

    assert error.meta_code == 131008
    assert set(error.field_errors) == {"variables.code", "button_variables.button_0"}
    assert (
        "is empty; Meta never receives an empty parameter"
        in error.field_errors["variables.code"][0]
    )


# -- Meta's rules for text parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("linea\nnueva", "a new-line"),
        ("con\ttab", "a tab"),
        ("retorno\r", "a carriage return"),
        ("cinco     espacios", "5 consecutive spaces"),
    ],
)
def test_newlines_tabs_and_five_spaces_are_refused_with_132018(value: str, what: str) -> None:
    error = refusal(ORDER_UPDATE, {"order_id": value, "status": "ok"})

    assert error.meta_code == 132018
    assert error.field_errors["variables.order_id"] == [
        f"'order_id' contains {what}; Meta refuses new-line, tab and carriage-return characters"
        " and more than 4 consecutive spaces in a text parameter"
    ]


def test_four_consecutive_spaces_are_allowed() -> None:
    resolved = resolve(ORDER_UPDATE, {"order_id": "A    B", "status": "ok"}, {})

    assert resolved.variables_used["order_id"] == "A    B"


def test_a_body_parameter_beside_other_components_takes_at_most_1024_characters() -> None:
    resolve(WELCOME_MESSAGE, {"name": "x" * 1024}, {})

    error = refusal(WELCOME_MESSAGE, {"name": "x" * 1025})

    assert error.meta_code == 132005
    assert error.field_errors == {
        "variables.name": [
            "'name' is 1025 characters long; a body text parameter takes at most 1024"
        ]
    }


def test_a_body_that_is_the_only_component_takes_up_to_32768_characters() -> None:
    resolve(ORDER_UPDATE, {"order_id": "x" * 32768, "status": "ok"}, {})

    error = refusal(ORDER_UPDATE, {"order_id": "x" * 32769, "status": "ok"})

    assert error.meta_code == 132005


def test_a_header_text_parameter_takes_at_most_60_characters() -> None:
    variables = {"1": "Ana", "2": "hoy", "3": "aqui"}
    resolve(EVENT_REMINDER, {**variables, "header_1": "h" * 60}, {})

    error = refusal(EVENT_REMINDER, {**variables, "header_1": "h" * 61})

    assert error.meta_code == 132005
    assert list(error.field_errors) == ["variables.header_1"]


def test_a_url_suffix_may_not_make_the_url_longer_than_2000_characters() -> None:
    base = len("https://mindo.example/welcome/")
    resolve(WELCOME_MESSAGE, {"name": "Ana"}, {"button_0": "s" * (2000 - base)})

    error = refusal(WELCOME_MESSAGE, {"name": "Ana"}, {"button_0": "s" * (2001 - base)})

    assert error.meta_code == 132005
    assert error.field_errors == {
        "button_variables.button_0": [
            "'button_0' makes the button's URL 2001 characters long; at most 2000"
        ]
    }


def test_a_url_suffix_is_a_text_parameter_too() -> None:
    error = refusal(WELCOME_MESSAGE, {"name": "Ana"}, {"button_0": "a\nb"})

    assert error.meta_code == 132018


# -- buttons --------------------------------------------------------------------------------------

COUPON = spec_of(
    [
        {"type": "BODY", "text": "Usa tu cupon"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Stop"},
                {"type": "COPY_CODE", "example": "SAVE20"},
            ],
        },
    ]
)


def test_a_copy_code_button_sends_its_coupon_code() -> None:
    resolved = resolve(COUPON, {}, {"button_1": "SAVE20"})

    assert resolved.components == [
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "1",
            "parameters": [{"type": "coupon_code", "coupon_code": "SAVE20"}],
        }
    ]


def test_a_copy_code_button_needs_its_code() -> None:
    error = refusal(COUPON, {}, {})

    assert error.meta_code == 131008
    assert list(error.field_errors) == ["button_variables.button_1"]


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("A" * 16, "is 16 characters long; a coupon code takes at most 15 characters"),
        ("SAVE-20", "must contain only letters and digits (A-Z, a-z, 0-9) to be a coupon code"),
    ],
)
def test_a_coupon_code_is_at_most_15_letters_and_digits(code: str, problem: str) -> None:
    error = refusal(COUPON, {}, {"button_1": code})

    assert error.meta_code == 132012
    assert error.field_errors == {"button_variables.button_1": [f"'button_1' {problem}"]}


def test_a_quick_reply_payload_takes_at_most_256_characters() -> None:
    resolve(COUPON, {}, {"button_0": "p" * 256, "button_1": "OK"})

    error = refusal(COUPON, {}, {"button_0": "p" * 257, "button_1": "OK"})

    assert error.field_errors == {
        "button_variables.button_0": [
            "'button_0' is 257 characters long; a quick-reply payload takes at most 256"
        ]
    }


OTP = spec_of(
    [
        {"type": "BODY", "text": "*{{1}}* es tu codigo de verificacion."},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]},
    ],
    category="AUTHENTICATION",
)


def otp_payload(code: str) -> list[dict[str, Any]]:
    return [
        body(text(code)),
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": code}],
        },
    ]


def test_an_otp_template_sends_the_body_code_in_the_button_too() -> None:
    resolved = resolve(OTP, {"1": "123456"}, {})

    assert resolved.components == otp_payload("123456")
    assert resolved.variables_used == {"1": "123456", "button_0": "123456"}


def test_an_otp_button_may_be_given_its_own_value() -> None:
    resolved = resolve(OTP, {"1": "123456"}, {"button_0": "654321"})

    assert resolved.components[1]["parameters"] == [{"type": "text", "text": "654321"}]


def test_a_reused_otp_longer_than_15_characters_is_reported_on_the_body_variable() -> None:
    error = refusal(OTP, {"1": "1234567890123456"})

    assert error.meta_code == 132012
    assert error.field_errors == {
        "variables.1": [
            "'1' (also the one-time code of button 0) is 16 characters long; a one-time code"
            " takes at most 15 characters"
        ]
    }


def test_an_otp_button_value_longer_than_15_characters_is_refused() -> None:
    error = refusal(OTP, {"1": "123456"}, {"button_0": "x" * 16})

    assert error.meta_code == 132012
    assert list(error.field_errors) == ["button_variables.button_0"]


# -- media and location headers -------------------------------------------------------------------


def media_spec(media: str) -> TemplateSpec:
    return spec_of([{"type": "HEADER", "format": media}, {"type": "BODY", "text": "Hola"}])


@pytest.mark.parametrize(
    ("value", "reference"),
    [
        ("https://cdn.example/promo.jpg", {"link": "https://cdn.example/promo.jpg"}),
        ("1234567890", {"id": "1234567890"}),
    ],
)
def test_a_media_header_takes_an_https_link_or_a_media_id(
    value: str, reference: dict[str, str]
) -> None:
    resolved = resolve(media_spec("IMAGE"), {"header_image": value}, {})

    assert resolved.components == [
        {"type": "header", "parameters": [{"type": "image", "image": reference}]}
    ]


@pytest.mark.parametrize(
    "value", ["http://cdn.example/a.mp4", "cdn.example/a.mp4", "https://", "https://a b/c"]
)
def test_a_media_header_refuses_anything_but_https_links_and_ids(value: str) -> None:
    error = refusal(media_spec("VIDEO"), {"header_video": value})

    assert error.meta_code == 132012
    assert error.field_errors == {
        "variables.header_video": [
            "'header_video' must be an https URL (https://…) or a Meta media id (digits only)"
        ]
    }


def test_a_document_header_sends_its_filename_when_given() -> None:
    variables = {"header_document": "https://x.example/f.pdf", "header_document_filename": "f.pdf"}

    resolved = resolve(media_spec("DOCUMENT"), variables, {})

    document = {"link": "https://x.example/f.pdf", "filename": "f.pdf"}
    assert resolved.components[0]["parameters"] == [{"type": "document", "document": document}]


def test_a_media_header_needs_its_media() -> None:
    error = refusal(media_spec("IMAGE"), {})

    assert error.field_errors == {
        "variables.header_image": ["'header_image' is required by the template and has no default"]
    }


LOCATION = spec_of([{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Aqui"}])


def test_a_location_header_sends_numbers_and_the_optional_name_and_address() -> None:
    variables = {
        "header_latitude": "-38.0055",
        "header_longitude": "-57.5426",
        "header_location_name": "Mindo",
    }

    resolved = resolve(LOCATION, variables, {})

    location = {"latitude": -38.0055, "longitude": -57.5426, "name": "Mindo"}
    assert resolved.components == [
        {"type": "header", "parameters": [{"type": "location", "location": location}]}
    ]


@pytest.mark.parametrize(
    ("latitude", "longitude", "bad"),
    [
        ("91", "0", ["variables.header_latitude"]),
        ("0", "-180.5", ["variables.header_longitude"]),
        ("norte", "1e3", ["variables.header_latitude", "variables.header_longitude"]),
    ],
)
def test_a_location_needs_numeric_coordinates_in_range(
    latitude: str, longitude: str, bad: list[str]
) -> None:
    variables = {"header_latitude": latitude, "header_longitude": longitude}

    error = refusal(LOCATION, variables)

    assert error.meta_code == 132012
    assert sorted(error.field_errors) == bad


# -- one error for everything -------------------------------------------------------------------


def test_every_problem_of_a_request_is_reported_together() -> None:
    variables = {"header_1": "h" * 61, "1": "a\tb", "3": "ok", "extra": "x"}

    error = refusal(EVENT_REMINDER, variables, {"button_0": "p" * 300})

    assert sorted(error.field_errors) == [
        "button_variables.button_0",
        "variables.1",
        "variables.2",
        "variables.extra",
        "variables.header_1",
    ]
    assert error.meta_code == 132000
    for messages in error.field_errors.values():
        for message in messages:
            assert message in error.message


def test_a_missing_value_outranks_a_bad_character() -> None:
    error = refusal(ORDER_UPDATE, {"order_id": "a\nb"})

    assert error.meta_code == 131008


def test_a_template_parameter_error_is_an_invalid_request() -> None:
    error = refusal(ORDER_UPDATE, {})

    assert isinstance(error, InvalidRequest)
    assert error.code == "template_parameters"


# -- the send payload -------------------------------------------------------------------------


def test_the_payload_carries_the_callback_data_when_given() -> None:
    resolved = resolve(ORDER_UPDATE, {"order_id": "1", "status": "ok"}, {})

    payload = build_send_payload(
        resolved,
        to="5491112345678",
        name="order_update",
        language="es",
        biz_opaque_callback_data="bulk-7|row-3",
    )

    assert payload["biz_opaque_callback_data"] == "bulk-7|row-3"


def test_callback_data_longer_than_512_characters_is_refused() -> None:
    resolved = resolve(ORDER_UPDATE, {"order_id": "1", "status": "ok"}, {})

    with pytest.raises(InvalidRequest) as caught:
        build_send_payload(
            resolved,
            to="1",
            name="order_update",
            language="es",
            biz_opaque_callback_data="c" * 513,
        )

    assert caught.value.field_errors == {
        "biz_opaque_callback_data": ["is 513 characters long; at most 512"]
    }


def test_a_template_without_parameters_sends_no_components() -> None:
    resolved = resolve(spec_of([{"type": "BODY", "text": "Hola"}]), {}, {})

    payload = build_send_payload(resolved, to="1", name="hola", language="es_AR")

    assert payload["template"] == {
        "name": "hola",
        "language": {"code": "es_AR", "policy": "deterministic"},
    }
    assert "biz_opaque_callback_data" not in payload


def test_the_payload_does_not_share_its_components_with_the_resolution() -> None:
    resolved = resolve(ORDER_UPDATE, {"order_id": "1", "status": "ok"}, {})

    payload = build_send_payload(resolved, to="1", name="order_update", language="es")
    payload["template"]["components"][0]["parameters"].clear()

    assert len(resolved.components[0]["parameters"]) == 2
