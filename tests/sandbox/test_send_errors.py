"""Every refused send answers Graph's error envelope with the code, title and status Meta uses."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from mindo_sandbox import PhoneNumberConfig, SandboxConfig, WabaConfig

from .graph_client import (
    DEMO_NUMBER,
    GraphClient,
    assert_graph_error,
    body,
    header,
    order_update,
    template_payload,
    text,
    url_button,
)

OTHER_TOKEN = "other-waba-token"
OTHER_NUMBER = "100000000000001"

MISSING = "(#131008) Required parameter is missing"
INVALID_VALUE = "(#131009) Parameter value is not valid"
INVALID_PARAMETER = "(#100) Invalid parameter"
NOT_FOUND = "(#132001) Template name does not exist in the translation"
COUNT = "(#132000) Number of parameters does not match the expected number of params"
FORMAT = "(#132012) Parameter format does not match format in the created template"
WHITESPACE = "(#132018) Template validation error"
TOO_LONG = "(#132005) Translated text too long"


@pytest.fixture
def config() -> SandboxConfig:
    """The demo account plus another business whose token must not open the demo number."""
    demo = SandboxConfig.demo()
    other = WabaConfig(
        waba_id="200000000000001",
        name="Other business",
        access_tokens=(OTHER_TOKEN,),
        phone_numbers=(
            PhoneNumberConfig(
                id=OTHER_NUMBER, display_phone_number="+1 555-000-0001", verified_name="Other"
            ),
        ),
    )
    return replace(demo, wabas=(*demo.wabas, other))


def changed(payload: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    result = copy.deepcopy(payload)
    change(result)
    return result


def without(*path: str) -> Callable[[dict[str, Any]], Any]:
    def remove(payload: dict[str, Any]) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return remove


def event_with(header_text: str = "Taller", *body_texts: str) -> dict[str, Any]:
    texts = body_texts or ("Ana", "5 de junio", "Mar del Plata")
    return template_payload(
        "class_reminder", [header(text(header_text)), body(*(text(t) for t in texts))]
    )


def order_with(*params: dict[str, Any]) -> dict[str, Any]:
    return template_payload("order_update", [body(*params)])


def welcome_with(*components: dict[str, Any]) -> dict[str, Any]:
    return template_payload("welcome_message", list(components))


WELCOME_BODY = body(text("Ana", "name"), text("A1B2", "code"))

# (case id, payload, HTTP status, code, message, a fragment of error_data.details)
CASES: list[tuple[str, Any, int, int, str, str]] = [
    ("body-not-an-object", ["not", "an", "object"], 400, 100, INVALID_PARAMETER, "JSON object"),
    (
        "no-messaging-product",
        changed(order_update(), without("messaging_product")),
        400,
        131008,
        MISSING,
        "messaging_product",
    ),
    (
        "messaging-product-not-whatsapp",
        {**order_update(), "messaging_product": "sms"},
        400,
        100,
        INVALID_PARAMETER,
        "messaging_product",
    ),
    ("no-to", changed(order_update(), without("to")), 400, 131008, MISSING, "to"),
    ("to-with-letters", order_update(to="54911abc4567"), 400, 131009, INVALID_VALUE, "54911abc"),
    ("to-too-short", order_update(to="12345"), 400, 131009, INVALID_VALUE, "12345"),
    ("to-not-a-string", {**order_update(), "to": 5491123456789}, 400, 100, INVALID_PARAMETER, "to"),
    ("no-type", changed(order_update(), without("type")), 400, 131008, MISSING, "type"),
    (
        "type-not-template",
        {**order_update(), "type": "text"},
        400,
        131051,
        "(#131051) Unsupported message type",
        "text",
    ),
    ("no-template", changed(order_update(), without("template")), 400, 131008, MISSING, "template"),
    (
        "no-template-name",
        changed(order_update(), without("template", "name")),
        400,
        131008,
        MISSING,
        "template.name",
    ),
    (
        "no-language",
        changed(order_update(), without("template", "language")),
        400,
        131008,
        MISSING,
        "template.language",
    ),
    (
        "no-language-code",
        changed(order_update(), without("template", "language", "code")),
        400,
        131008,
        MISSING,
        "template.language.code",
    ),
    (
        "language-as-a-string",
        changed(order_update(), lambda p: p["template"].update(language="es")),
        400,
        131009,
        INVALID_VALUE,
        "language",
    ),
    ("unknown-template", template_payload("no_such_template"), 404, 132001, NOT_FOUND, "no_such"),
    (
        "language-not-approved-for-that-name",
        changed(order_update(), lambda p: p["template"]["language"].update(code="es_AR")),
        404,
        132001,
        NOT_FOUND,
        "es_AR",
    ),
    ("pending-template", template_payload("promo_pending"), 404, 132001, NOT_FOUND, "PENDING"),
    ("rejected-template", template_payload("promo_rejected"), 404, 132001, NOT_FOUND, "REJECTED"),
    (
        "paused-template",
        template_payload("promo_paused"),
        400,
        132015,
        "(#132015) Template is Paused",
        "paused",
    ),
    (
        "disabled-template",
        template_payload("promo_disabled"),
        400,
        132016,
        "(#132016) Template is Disabled",
        "disabled",
    ),
    (
        "positional-body-short-of-a-parameter",
        event_with("Taller", "Ana", "5 de junio"),
        400,
        132000,
        COUNT,
        "body: number of localizable_params (2) does not match the expected number of params (3)",
    ),
    (
        "positional-body-missing",
        template_payload("class_reminder", [header(text("Taller"))]),
        400,
        132000,
        COUNT,
        "body",
    ),
    (
        "named-body-short-of-a-parameter",
        order_with(text("#1234", "order_id")),
        400,
        132000,
        COUNT,
        "(1)",
    ),
    (
        "component-of-an-unknown-type",
        template_payload("order_update", [{"type": "footer", "parameters": []}]),
        400,
        131009,
        INVALID_VALUE,
        "Invalid component type 'footer'",
    ),
    (
        "header-parameter-for-a-template-without-header",
        changed(order_update(), lambda p: p["template"]["components"].append(header(text("x")))),
        400,
        132000,
        COUNT,
        "header",
    ),
    (
        "named-template-given-positional-parameters",
        order_with(text("#1234"), text("en camino")),
        400,
        132012,
        FORMAT,
        "parameter_name is required",
    ),
    (
        "unknown-parameter-name",
        order_with(text("#1234", "order_id"), text("en camino", "state")),
        400,
        132012,
        FORMAT,
        "unknown parameter_name 'state'",
    ),
    (
        "positional-template-given-parameter-names",
        template_payload(
            "class_reminder",
            [header(text("Taller")), body(text("Ana", "a"), text("5", "b"), text("MdP", "c"))],
        ),
        400,
        132012,
        FORMAT,
        "parameter_name is only allowed",
    ),
    (
        "document-header-given-text",
        template_payload("invoice_ready", [header(text("F-0001")), body(text("F-0001"))]),
        400,
        132012,
        FORMAT,
        "header: Format mismatch, expected DOCUMENT, received TEXT",
    ),
    (
        "document-header-missing",
        template_payload("invoice_ready", [body(text("F-0001"))]),
        400,
        132012,
        FORMAT,
        "header: Format mismatch, expected DOCUMENT, received UNKNOWN",
    ),
    (
        "url-button-parameter-missing",
        welcome_with(WELCOME_BODY),
        400,
        132000,
        COUNT,
        "button at index 0 (url)",
    ),
    (
        "url-button-with-two-parameters",
        welcome_with(
            WELCOME_BODY,
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [text("a")] * 2},
        ),
        400,
        132000,
        COUNT,
        "button at index 0 (url)",
    ),
    (
        "button-index-out-of-range",
        welcome_with(WELCOME_BODY, url_button("0", "ana"), url_button("1", "x")),
        400,
        131009,
        INVALID_VALUE,
        "index 1",
    ),
    (
        "button-sub-type-not-the-templates",
        welcome_with(
            WELCOME_BODY,
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": "X"}],
            },
        ),
        400,
        132012,
        FORMAT,
        "quick_reply",
    ),
    (
        "newline-in-body",
        event_with("T", "Ana\nMaria", "5", "MdP"),
        400,
        132018,
        WHITESPACE,
        "new-line/tab",
    ),
    ("tab-in-header", event_with("Taller\tde cocina"), 400, 132018, WHITESPACE, "new-line/tab"),
    (
        "five-spaces",
        event_with("T", "Ana     Maria", "5", "MdP"),
        400,
        132018,
        WHITESPACE,
        "new-line/tab",
    ),
    (
        "newline-in-url-suffix",
        welcome_with(WELCOME_BODY, url_button("0", "ana\n42")),
        400,
        132018,
        WHITESPACE,
        "new-line/tab",
    ),
    (
        "body-parameter-over-1024",
        event_with("T", "a" * 1025, "5", "M"),
        400,
        132005,
        TOO_LONG,
        "1024 limit",
    ),
    (
        "header-parameter-over-60",
        event_with("h" * 61),
        400,
        132005,
        TOO_LONG,
        "header: text parameter of 61 characters exceeds the 60 limit",
    ),
    (
        "empty-text-parameter",
        order_with(text("", "order_id"), text("en camino", "status")),
        400,
        131008,
        MISSING,
        "missing text value",
    ),
    (
        "sender-is-the-recipient",
        order_update(to="+54 9 223 675-0780"),
        400,
        131021,
        "(#131021) Recipient cannot be sender",
        "",
    ),
]


@pytest.mark.parametrize(
    ("payload", "status", "code", "message", "details"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
async def test_a_refused_send_answers_the_graph_error_envelope(
    graph: GraphClient, payload: Any, status: int, code: int, message: str, details: str
) -> None:
    answer = await graph.send(payload)

    assert details in assert_graph_error(answer, status=status, code=code, message=message)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(event_with("Taller", "Ana    Maria", "5", "MdP"), id="four-spaces"),
        pytest.param(event_with("h" * 60), id="header-parameter-of-60"),
        pytest.param(event_with("T", "a" * 1024, "5", "M"), id="body-parameter-of-1024"),
        pytest.param(
            template_payload("demo_tpl_01", [body(text("a" * 5000))]),
            id="body-only-template-takes-longer-parameters",
        ),
    ],
)
async def test_the_limits_themselves_are_allowed(graph: GraphClient, payload: Any) -> None:
    answer = await graph.send(payload)

    assert answer.status == 200, answer.body


async def test_a_request_without_token_is_refused_with_190(graph: GraphClient) -> None:
    answer = await graph.send(order_update(), token=None)

    assert_graph_error(answer, status=401, code=190, message="(#190) Invalid OAuth access token")


async def test_an_unknown_token_is_refused_with_190(graph: GraphClient) -> None:
    answer = await graph.send(order_update(), token="not-a-token")

    details = assert_graph_error(
        answer, status=401, code=190, message="(#190) Invalid OAuth access token"
    )
    assert "not-a-token" not in details


async def test_a_token_of_another_business_gets_a_permission_error(graph: GraphClient) -> None:
    answer = await graph.send(order_update(), token=OTHER_TOKEN)

    details = assert_graph_error(answer, status=403, code=200, message="(#200) Permissions error")
    assert DEMO_NUMBER in details


async def test_a_number_of_the_tokens_own_business_is_usable(graph: GraphClient) -> None:
    answer = await graph.send(order_update(), token=OTHER_TOKEN, phone_number_id=OTHER_NUMBER)

    # The other business has no templates: the token and number pass, the template does not.
    assert_graph_error(answer, status=404, code=132001, message=NOT_FOUND)


async def test_an_unknown_phone_number_is_an_unsupported_post_request(graph: GraphClient) -> None:
    answer = await graph.send(order_update(), phone_number_id="999999999999999")

    details = assert_graph_error(answer, status=400, code=100, message=INVALID_PARAMETER)
    assert details.startswith("Unsupported post request. Object with ID '999999999999999'")
    assert answer.body["error"]["error_subcode"] == 33


async def test_a_refused_send_is_not_accepted_and_uses_no_wamid(graph: GraphClient) -> None:
    answer = await graph.send(event_with("Taller", "Ana"))

    assert "messages" not in answer.body
    assert set(answer.body) == {"error"}
    assert set(answer.body["error"]) == {"message", "type", "code", "error_data", "fbtrace_id"}


async def test_a_non_json_body_is_an_invalid_parameter(graph: GraphClient) -> None:
    url = f"{graph.base_url}/v21.0/{DEMO_NUMBER}/messages"
    answer = await graph.request("POST", url, token="sandbox-demo-token", data=b"to=549")

    assert_graph_error(answer, status=400, code=100, message=INVALID_PARAMETER)


async def test_an_unknown_graph_path_is_an_unsupported_request(graph: GraphClient) -> None:
    answer = await graph.get(f"/v21.0/{DEMO_NUMBER}/messages")

    details = assert_graph_error(answer, status=400, code=100, message=INVALID_PARAMETER)
    assert details == "Unsupported get request."
