"""The service's errors become the documented HTTP bodies, through one table."""

from __future__ import annotations

import aiohttp
import grpc
import pytest

from mindo_grpc.status_details import ErrorDetails
from rest_bridge import start_bridge

from .conftest import SEND_PATH, Post
from .fake_mindo import GOOD_KEY, FakeMindo

Status = grpc.StatusCode

TEMPLATE_NOT_APPROVED = "Template 'welcome_message' no tiene estado APPROVED"
TEMPLATE_NOT_FOUND = (
    "Template 'welcome_message' (language: es) no encontrado en este business account"
)
NUMBER_NOT_FOUND = "Numero de WhatsApp con ID '813497231850626' no encontrado"


def failure(status: grpc.StatusCode, message: str, code: str, **extra: object) -> ErrorDetails:
    return ErrorDetails(status=status, message=message, code=code, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "http_status", "body"),
    [
        (
            failure(Status.FAILED_PRECONDITION, TEMPLATE_NOT_APPROVED, "template_not_approved"),
            400,
            {"error": TEMPLATE_NOT_APPROVED},
        ),
        (
            failure(Status.NOT_FOUND, TEMPLATE_NOT_FOUND, "template_not_found"),
            404,
            {"error": TEMPLATE_NOT_FOUND},
        ),
        (
            failure(Status.NOT_FOUND, NUMBER_NOT_FOUND, "phone_number_not_found"),
            404,
            {"error": NUMBER_NOT_FOUND},
        ),
        (
            failure(
                Status.UNAUTHENTICATED,
                "Este endpoint requiere autenticacion con API Key (header X-API-Key)",
                "api_key_missing",
            ),
            401,
            {"error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)"},
        ),
        (
            failure(Status.UNAUTHENTICATED, "API Key expirada", "api_key_expired"),
            401,
            {"error": "API Key expirada"},
        ),
        (
            failure(
                Status.PERMISSION_DENIED,
                "API Key no tiene acceso a este recurso",
                "api_key_forbidden",
            ),
            403,
            {"error": "API Key no tiene acceso a este recurso"},
        ),
    ],
    ids=lambda value: value.code if isinstance(value, ErrorDetails) else None,
)
async def test_documented_errors_keep_their_documented_bodies_verbatim(
    post: Post,
    fake: FakeMindo,
    valid_body: dict[str, object],
    error: ErrorDetails,
    http_status: int,
    body: dict[str, object],
) -> None:
    fake.send_error = error
    status, _headers, answer = await post(valid_body)

    assert (status, answer) == (http_status, body)


async def test_a_phone_the_service_refuses_is_a_field_error_on_recipient_phone(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.send_error = failure(
        Status.INVALID_ARGUMENT,
        "recipient_phone: not a valid phone number",
        "invalid_phone_number",
        field_errors={"recipient_phone": ["Enter a valid phone number."]},
    )
    status, _headers, body = await post(valid_body)

    assert status == 400
    assert body == {"recipient_phone": ["Enter a valid phone number."]}


async def test_variable_field_errors_nest_like_drf(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.send_error = failure(
        Status.INVALID_ARGUMENT,
        "bad variables",
        "invalid_request",
        field_errors={
            "variables.code": ["Too long."],
            "language": ["Unknown language."],
            "variables.v1.2": ["Keys may hold dots."],
        },
    )
    _status, _headers, body = await post(valid_body)

    assert body == {
        "language": ["Unknown language."],
        "variables": {"code": ["Too long."], "v1.2": ["Keys may hold dots."]},
    }
    assert list(body) == ["language", "variables"], "declaration order, as DRF"


@pytest.mark.parametrize(
    "field_errors",
    [
        {},
        {"recipients": ["Not part of this request."]},
        {"recipient_phone": ["Bad."], "scope": ["Unknown scope."]},
    ],
)
async def test_input_errors_not_about_request_fields_carry_a_code(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], field_errors: dict[str, list[str]]
) -> None:
    fake.send_error = failure(
        Status.INVALID_ARGUMENT, "Cannot send that", "invalid_request", field_errors=field_errors
    )
    status, _headers, body = await post(valid_body)

    expected: dict[str, object] = {"error": "Cannot send that", "code": "invalid_request"}
    if field_errors:
        expected["fields"] = field_errors
    assert (status, body) == (400, expected)


async def test_template_parameter_errors_carry_metas_code_and_the_fields(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.send_error = failure(
        Status.INVALID_ARGUMENT,
        "(#132000) Number of parameters does not match the expected number of params",
        "template_parameters",
        metadata={"meta_code": "132000"},
        field_errors={"variables.code": ["This variable is required by the template."]},
    )
    status, _headers, body = await post(valid_body)

    assert status == 400
    assert body == {
        "error": "(#132000) Number of parameters does not match the expected number of params",
        "code": "template_parameters",
        "meta_code": 132000,
        "fields": {"variables.code": ["This variable is required by the template."]},
    }


@pytest.mark.parametrize(("seconds", "header"), [(2.2, "3"), (3.0, "3"), (0.2, "1")])
async def test_rate_limits_say_when_to_retry_in_whole_seconds(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], seconds: float, header: str
) -> None:
    fake.send_error = failure(
        Status.RESOURCE_EXHAUSTED,
        "Too many requests; retry after 2 s",
        "rate_limited",
        retry_after_seconds=seconds,
    )
    status, headers, body = await post(valid_body)

    assert status == 429
    assert headers["Retry-After"] == header
    assert body == {"error": "Too many requests; retry after 2 s", "code": "rate_limited"}


async def test_a_meta_error_is_a_bad_gateway_with_metas_code(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.send_error = failure(
        Status.UNAVAILABLE,
        "(#131000) Something went wrong",
        "meta_error",
        metadata={"meta_code": "131000"},
    )
    status, _headers, body = await post(valid_body)

    assert status == 502
    assert body == {
        "error": "(#131000) Something went wrong",
        "code": "meta_error",
        "meta_code": 131000,
    }


async def test_meta_unavailable_is_503_with_its_code(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.send_error = failure(Status.UNAVAILABLE, "Meta unavailable: timeout", "meta_unavailable")
    status, _headers, body = await post(valid_body)

    assert status == 503
    assert body == {"error": "Meta unavailable: timeout", "code": "meta_unavailable"}


@pytest.mark.parametrize(
    ("status", "http_status"),
    [
        (Status.NOT_FOUND, 404),
        (Status.ALREADY_EXISTS, 409),
        (Status.INVALID_ARGUMENT, 400),
        (Status.PERMISSION_DENIED, 403),
        (Status.UNAVAILABLE, 503),
    ],
)
async def test_unknown_codes_fall_back_on_the_grpc_status(
    post: Post,
    fake: FakeMindo,
    valid_body: dict[str, object],
    status: grpc.StatusCode,
    http_status: int,
) -> None:
    fake.send_error = failure(status, "Something new", "brand_new_code")
    answered, _headers, body = await post(valid_body)

    assert answered == http_status
    assert body == {"error": "Something new", "code": "brand_new_code"}


@pytest.mark.parametrize(
    ("status", "http_status", "code"),
    [
        (Status.NOT_FOUND, 404, "not_found"),
        (Status.RESOURCE_EXHAUSTED, 429, "rate_limited"),
        (Status.UNAUTHENTICATED, 401, "unauthenticated"),
    ],
)
async def test_a_bare_status_is_named_after_the_status(
    post: Post,
    fake: FakeMindo,
    valid_body: dict[str, object],
    status: grpc.StatusCode,
    http_status: int,
    code: str,
) -> None:
    fake.bare_send_status = status
    answered, _headers, body = await post(valid_body)

    assert answered == http_status
    assert body == {"error": "boom: secret internals", "code": code}


@pytest.mark.parametrize("status", [Status.INTERNAL, Status.UNKNOWN, Status.DATA_LOSS])
async def test_server_failures_are_a_plain_500_that_leaks_nothing(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], status: grpc.StatusCode
) -> None:
    fake.bare_send_status = status
    answered, _headers, body = await post(valid_body)

    assert answered == 500
    assert body == {"error": "Internal error", "code": "internal"}


async def test_a_bare_unavailable_is_service_unavailable(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.bare_send_status = Status.UNAVAILABLE
    status, _headers, body = await post(valid_body)

    assert status == 503
    assert body == {"error": "Service unavailable", "code": "service_unavailable"}


async def test_a_service_that_is_down_is_503_json(
    dead_target: str, valid_body: dict[str, object]
) -> None:
    bridge = await start_bridge(dead_target, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(base_url=bridge.url) as http:
            headers = {"X-API-Key": GOOD_KEY}
            async with http.post(SEND_PATH, json=valid_body, headers=headers) as sent:
                sent_status, sent_body = sent.status, await sent.json()
            async with http.post(SEND_PATH, json=[], headers=headers) as invalid:
                invalid_status, invalid_body = invalid.status, await invalid.json()
    finally:
        await bridge.stop()

    down = {"error": "Service unavailable", "code": "service_unavailable"}
    assert (sent_status, sent_body) == (503, down)
    assert (invalid_status, invalid_body) == (503, down), "the key could not be checked"


async def test_a_service_that_never_answers_is_a_gateway_timeout(
    grpc_target: str, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.hang = True
    bridge = await start_bridge(grpc_target, "127.0.0.1", 0, rpc_timeout_seconds=0.05)
    try:
        async with aiohttp.ClientSession(base_url=bridge.url) as http:
            headers = {"X-API-Key": GOOD_KEY}
            async with http.post(SEND_PATH, json=valid_body, headers=headers) as sent:
                status, body = sent.status, await sent.json()
    finally:
        await bridge.stop()

    assert (status, body) == (504, {"error": "Upstream timeout", "code": "upstream_timeout"})
