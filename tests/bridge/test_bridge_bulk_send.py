"""POST /api/v1/meta-templates/send-bulk/: the documented 202, the gRPC request, every refusal."""

from __future__ import annotations

import gzip
import json
from typing import Any

import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from mindo_grpc.status_details import ErrorDetails
from tests.bridge.documented_bodies import DOCUMENTED_ACCEPTED

from .conftest import Post
from .fake_mindo import GOOD_KEY, FakeMindo, accepted_reply

BULK_PATH = "/api/v1/meta-templates/send-bulk/"
EMPTY = {"error": "recipients es requerido y no puede estar vacio"}


def documented_body() -> dict[str, Any]:
    """The Send bulk page's request example."""
    return {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "language": "es",
        "recipients": [
            {
                "phone": "+5491112345678",
                "variables": {"name": "Juan Perez", "code": "ABC123"},
                "button_variables": {"button_0": "ABC-123"},
            },
            {
                "phone": "+5491187654321",
                "variables": {"name": "Maria Garcia", "code": "DEF456"},
                "button_variables": {"button_0": "DEF-456"},
            },
            {
                "phone": "+5491199887766",
                "variables": {"name": "Carlos Lopez", "code": "GHI789"},
                "button_variables": {"button_0": "GHI-789"},
            },
        ],
    }


@pytest.fixture
def post_bulk(post: Post) -> Post:
    async def send(body: object = None, **options: Any) -> Any:
        return await post(body, path=options.pop("path", BULK_PATH), **options)

    return send


def sent_request(fake: FakeMindo) -> mindo_pb2.SendBulkRequest:
    request = fake.only("SendBulk").request
    assert isinstance(request, mindo_pb2.SendBulkRequest)
    return request


async def test_an_accepted_bulk_answers_202_with_every_documented_field_in_order(
    post_bulk: Post,
) -> None:
    status, _headers, body = await post_bulk(documented_body())

    assert status == 202
    assert list(body) == [
        "bulk_send_id",
        "task_id",
        "status",
        "template_name",
        "total_recipients",
        "unique_recipients",
        "estimated_time_minutes",
        "created_at",
        "whatsapp_phone_number",
        "quota_info",
    ]
    assert body == DOCUMENTED_ACCEPTED
    assert list(body["whatsapp_phone_number"]) == [
        "id",
        "phone_number_id",
        "display_phone_number",
        "verified_name",
        "quality_rating",
        "messaging_limit_tier",
    ]
    assert list(body["quota_info"]) == [
        "can_send",
        "quota_needed",
        "quota_available",
        "quota_total",
        "tier",
    ]


async def test_an_unlimited_tier_shows_null_quota_numbers(post_bulk: Post, fake: FakeMindo) -> None:
    fake.bulk_reply = accepted_reply(
        quota_info=mindo_pb2.QuotaInfo(
            can_send=True, quota_needed=3, quota_available=-1, quota_total=-1, tier="TIER_UNLIMITED"
        )
    )
    _status, _headers, body = await post_bulk(documented_body())

    assert body["quota_info"] == {
        "can_send": True,
        "quota_needed": 3,
        "quota_available": None,
        "quota_total": None,
        "tier": "TIER_UNLIMITED",
    }


async def test_an_exhausted_quota_still_shows_zero_available(
    post_bulk: Post, fake: FakeMindo
) -> None:
    fake.bulk_reply = accepted_reply(
        quota_info=mindo_pb2.QuotaInfo(
            can_send=False, quota_needed=3, quota_available=0, quota_total=250, tier="TIER_250"
        )
    )
    _status, _headers, body = await post_bulk(documented_body())

    assert body["quota_info"]["quota_available"] == 0
    assert body["quota_info"]["can_send"] is False


async def test_the_service_receives_every_recipient_with_the_key(
    post_bulk: Post, fake: FakeMindo
) -> None:
    await post_bulk(documented_body())

    call = fake.only("SendBulk")
    assert call.metadata["x-api-key"] == GOOD_KEY
    assert call.request == mindo_pb2.SendBulkRequest(
        phone_number_id="813497231850626",
        template_name="welcome_message",
        language="es",
        recipients=documented_body()["recipients"],
    )
    assert fake.methods() == ["SendBulk"], "a valid body needs no separate key check"


async def test_language_defaults_to_es_pacing_to_the_services_default_and_maps_to_empty(
    post_bulk: Post, fake: FakeMindo
) -> None:
    minimal = {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "recipients": [{"phone": "+5491112345678"}],
    }
    status, _headers, _body = await post_bulk(minimal)

    assert status == 202
    request = sent_request(fake)
    assert request.HasField("language")
    assert request.language == "es"
    assert request.pacing == ""
    assert request.recipients[0] == mindo_pb2.BulkRecipient(phone="+5491112345678")


@pytest.mark.parametrize(
    ("pacing", "sent"), [("max", "max"), ("tier", "tier"), (25, "25"), (0.5, "0.5"), ("7", "7")]
)
async def test_pacing_is_passed_on_as_text(
    post_bulk: Post, fake: FakeMindo, pacing: object, sent: str
) -> None:
    status, _headers, _body = await post_bulk(documented_body() | {"pacing": pacing})

    assert status == 202
    assert sent_request(fake).pacing == sent


async def test_numbers_become_text_and_phones_are_trimmed_like_drf(
    post_bulk: Post, fake: FakeMindo
) -> None:
    body = documented_body() | {
        "recipients": [
            {"phone": 5491112345678, "variables": {"1": 42, "2": 1.5}},
            {"phone": "  +5491187654321 ", "variables": {"name": "  spaced  "}},
        ]
    }
    status, _headers, _body = await post_bulk(body)

    assert status == 202
    assert list(sent_request(fake).recipients) == [
        mindo_pb2.BulkRecipient(phone="5491112345678", variables={"1": "42", "2": "1.5"}),
        mindo_pb2.BulkRecipient(phone="+5491187654321", variables={"name": "  spaced  "}),
    ]


async def test_text_beyond_ascii_and_long_values_arrive_intact(
    post_bulk: Post, fake: FakeMindo
) -> None:
    recipient: dict[str, Any] = {
        "phone": "+5491112345678",
        "variables": {"nombre": "José Ñandú 🎉", "long": "x" * 20_000, "empty": ""},
        "button_variables": {"button_0": "ABC-123"},
    }
    status, _headers, _body = await post_bulk(documented_body() | {"recipients": [recipient]})

    assert status == 202
    assert sent_request(fake).recipients[0] == mindo_pb2.BulkRecipient(**recipient)


async def test_the_documented_validation_example(post_bulk: Post, fake: FakeMindo) -> None:
    body = {"template_name": "welcome_message"}
    status, _headers, answer = await post_bulk(body)

    assert status == 400
    assert answer == {
        "phone_number_id": ["This field is required."],
        "recipients": ["This field is required."],
    }
    assert "SendBulk" not in fake.methods()


async def test_an_empty_list_answers_the_documented_body(post_bulk: Post, fake: FakeMindo) -> None:
    status, _headers, body = await post_bulk(documented_body() | {"recipients": []})

    assert status == 400
    assert body == EMPTY
    assert "SendBulk" not in fake.methods()


async def test_other_field_errors_come_before_the_empty_list(post_bulk: Post) -> None:
    body = documented_body() | {"recipients": [], "template_name": ""}
    status, _headers, answer = await post_bulk(body)

    assert status == 400
    assert answer == {"template_name": ["This field may not be blank."]}


@pytest.mark.parametrize(
    ("recipients", "detail"),
    [
        (None, ["This field may not be null."]),
        ({"phone": "+1"}, {"non_field_errors": ['Expected a list of items but got type "dict".']}),
        ("+5491112345678", {"non_field_errors": ['Expected a list of items but got type "str".']}),
        (
            [{"phone": "+5491112345678"}, {"variables": {"name": "x"}}],
            [{}, {"phone": ["This field is required."]}],
        ),
        (
            [None, "+5491112345678", {"phone": "+1"}],
            [
                ["This field may not be null."],
                {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
                {},
            ],
        ),
        (
            [{"phone": "  ", "variables": {"name": True}, "button_variables": []}],
            [
                {
                    "phone": ["This field may not be blank."],
                    "variables": {"name": ["Not a valid string."]},
                    "button_variables": ['Expected a dictionary of items but got type "list".'],
                }
            ],
        ),
        (
            [{"phone": "+1" * 40}, {"phone": "+1", "variables": {"k": "\ud800", "n": "\x00"}}],
            [
                {"phone": ["Ensure this field has no more than 64 characters."]},
                {
                    "variables": {
                        "k": ["Surrogate characters are not allowed: U+D800."],
                        "n": ["Null characters are not allowed."],
                    }
                },
            ],
        ),
        (
            [{"phone": "+1", "variables": {str(n): "v" for n in range(101)}}],
            [{"variables": ["Ensure this field has no more than 100 elements."]}],
        ),
    ],
    ids=[
        "null",
        "object",
        "string",
        "missing phone",
        "null and non-object items",
        "bad fields",
        "sizes and characters",
        "too many variables",
    ],
)
async def test_recipient_errors_are_drf_list_serializer_errors(
    post_bulk: Post, fake: FakeMindo, recipients: object, detail: object
) -> None:
    status, _headers, body = await post_bulk(documented_body() | {"recipients": recipients})

    assert status == 400
    assert body == {"recipients": detail}
    assert "SendBulk" not in fake.methods()


async def test_field_errors_follow_the_declaration_order(post_bulk: Post) -> None:
    body = {"pacing": True, "recipients": [{}], "language": None}
    _status, _headers, answer = await post_bulk(body)

    assert list(answer) == [
        "phone_number_id",
        "template_name",
        "language",
        "recipients",
        "pacing",
    ]
    assert answer["pacing"] == ["Not a valid string."]


async def test_a_bad_key_is_a_401_whatever_the_body(post_bulk: Post, fake: FakeMindo) -> None:
    status, _headers, body = await post_bulk({"recipients": []}, key="mindo_not_a_real_key_at_all")

    assert status == 401
    assert body == {"error": "API Key expirada"}
    assert fake.methods() == ["CheckApiKey"]


async def test_an_empty_list_is_shown_only_to_a_key_that_may_send(
    post_bulk: Post, fake: FakeMindo
) -> None:
    fake.missing_scopes = {"send"}
    status, _headers, body = await post_bulk(documented_body() | {"recipients": []})

    assert status == 403
    assert body == {"error": "API Key no tiene acceso a este recurso"}


async def test_a_missing_key_is_the_documented_401_without_any_call(
    post_bulk: Post, fake: FakeMindo
) -> None:
    status, _headers, body = await post_bulk(documented_body(), key=None)

    assert status == 401
    assert body == {"error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)"}
    assert fake.received == []


async def test_the_path_without_its_trailing_slash_works_too(post_bulk: Post) -> None:
    status, _headers, _body = await post_bulk(documented_body(), path=BULK_PATH.rstrip("/"))

    assert status == 202


async def test_this_route_accepts_bodies_beyond_the_one_mebibyte_of_the_others(
    post_bulk: Post, fake: FakeMindo
) -> None:
    body = documented_body() | {"padding": "x" * (3 * 1024 * 1024)}
    status, _headers, _body = await post_bulk(body)

    assert status == 202
    assert len(sent_request(fake).recipients) == 3


async def test_a_body_over_64_mebibytes_is_too_large(post_bulk: Post, fake: FakeMindo) -> None:
    bomb = gzip.compress(b'{"a": "' + b"0" * (64 * 1024 * 1024) + b'"}', compresslevel=1)
    status, _headers, body = await post_bulk(raw=bomb, headers={"Content-Encoding": "gzip"})

    assert status == 413
    assert body == {"error": "Request body exceeds 67108864 bytes.", "code": "payload_too_large"}
    assert "SendBulk" not in fake.methods()


def failure(status: grpc.StatusCode, message: str, code: str, **extra: object) -> ErrorDetails:
    return ErrorDetails(status=status, message=message, code=code, **extra)  # type: ignore[arg-type]


async def test_invalid_recipients_list_the_services_problems(
    post_bulk: Post, fake: FakeMindo
) -> None:
    problems = [
        {"index": 1, "phone": "12", "reason": "not a valid phone number"},
        {"index": 2, "phone": "+5491199887766", "reason": "variable 'code' is required"},
    ]
    message = "2 of 3 recipients are invalid; nothing was sent. recipients[1] '12': not valid"
    fake.errors["SendBulk"] = failure(
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
        "invalid_recipients",
        metadata={"invalid_count": "2", "total": "3", "problems": json.dumps(problems)},
        field_errors={"recipients.1": ["not a valid phone number"]},
    )
    status, _headers, body = await post_bulk(documented_body())

    assert status == 400
    assert body == {
        "error": message,
        "code": "invalid_recipients",
        "invalid_count": 2,
        "recipients": problems,
    }
    assert list(body) == ["error", "code", "invalid_count", "recipients"]


async def test_invalid_recipients_beyond_the_hundred_listed_are_counted(
    post_bulk: Post, fake: FakeMindo
) -> None:
    listed = [{"index": n, "phone": "x", "reason": "bad"} for n in range(100)]
    fake.errors["SendBulk"] = failure(
        grpc.StatusCode.INVALID_ARGUMENT,
        "250 of 300 recipients are invalid (the first 100 are listed); nothing was sent.",
        "invalid_recipients",
        metadata={"invalid_count": "250", "total": "300", "problems": json.dumps(listed)},
    )
    _status, _headers, body = await post_bulk(documented_body())

    assert body["invalid_count"] == 250
    assert body["recipients"] == listed


@pytest.mark.parametrize(
    ("error", "http_status", "body"),
    [
        (
            failure(grpc.StatusCode.INVALID_ARGUMENT, EMPTY["error"], "empty_recipients"),
            400,
            EMPTY,
        ),
        (
            failure(
                grpc.StatusCode.INVALID_ARGUMENT,
                "recipients: too many",
                "too_many_recipients",
                field_errors={"recipients": ["too many"]},
            ),
            400,
            {"error": "recipients: too many", "code": "too_many_recipients"},
        ),
        (
            failure(
                grpc.StatusCode.INVALID_ARGUMENT,
                "pacing: 'fast' is not 'max', 'tier' or a number of messages per second",
                "invalid_request",
                field_errors={
                    "pacing": ["'fast' is not 'max', 'tier' or a number of messages per second"]
                },
            ),
            400,
            {"pacing": ["'fast' is not 'max', 'tier' or a number of messages per second"]},
        ),
        (
            failure(
                grpc.StatusCode.NOT_FOUND,
                "Template 'welcome_message' (language: es) no encontrado en este business account",
                "template_not_found",
            ),
            404,
            {
                "error": (
                    "Template 'welcome_message' (language: es) no encontrado en este "
                    "business account"
                )
            },
        ),
        (
            failure(
                grpc.StatusCode.NOT_FOUND,
                "Numero de WhatsApp con ID '813497231850626' no encontrado",
                "phone_number_not_found",
            ),
            404,
            {"error": "Numero de WhatsApp con ID '813497231850626' no encontrado"},
        ),
    ],
    ids=["empty", "too many", "pacing", "template not found", "number not found"],
)
async def test_the_services_refusals_become_their_bodies(
    post_bulk: Post, fake: FakeMindo, error: ErrorDetails, http_status: int, body: object
) -> None:
    fake.errors["SendBulk"] = error
    status, _headers, answer = await post_bulk(documented_body())

    assert status == http_status
    assert answer == body
