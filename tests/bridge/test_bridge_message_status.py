"""GET /api/v1/meta-templates/messages/{message_id}/: the documented body, 404, the wamid path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2

from .fake_mindo import GOOD_KEY, MESSAGE_READ, WAMID, FakeMindo, message_status

MESSAGES = "/api/v1/meta-templates/messages/"
# The documentation's curl, verbatim: the wamid, "=" included, then a trailing "/".
DOCUMENTED_PATH = (
    "/api/v1/meta-templates/messages/wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=/"
)

Answer = tuple[int, Any]
Get = Callable[..., Awaitable[Answer]]


@pytest.fixture
def get(http: aiohttp.ClientSession) -> Get:
    async def request(path: str, *, key: str | None = GOOD_KEY) -> Answer:
        headers = {"X-API-Key": key} if key is not None else {}
        async with http.get(path, headers=headers) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json()

    return request


# The documentation's example.
DOCUMENTED_BODY: dict[str, Any] = {
    "id": 123,
    "template": {"id": 45, "name": "welcome_message", "language": "es", "category": "MARKETING"},
    "recipient": {"phone": "+5491112345678", "contact_name": "Juan Perez", "contact_id": 789},
    "variables_used": {"name": "Juan Perez", "code": "ABC123"},
    "delivery_status": {
        "current": "read",
        "sent_at": "2025-11-16T21:30:00Z",
        "delivered_at": "2025-11-16T21:30:05Z",
        "read_at": "2025-11-16T21:31:00Z",
        "failed_at": None,
        "error_code": None,
        "error_message": None,
    },
    "meta_message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "was_successful": True,
    "error_message": None,
    "sent_at": "2025-11-16T21:30:00Z",
}


async def test_the_documented_example_answers_the_documented_body_in_order(
    get: Get, fake: FakeMindo
) -> None:
    status, body = await get(DOCUMENTED_PATH)

    assert status == 200
    assert body == DOCUMENTED_BODY
    assert list(body) == list(DOCUMENTED_BODY)
    for name in ("template", "recipient", "delivery_status"):
        assert list(body[name]) == list(DOCUMENTED_BODY[name]), name
    call = fake.only("GetMessage")
    assert call.request == mindo_pb2.GetMessageRequest(message_id=WAMID)
    assert call.metadata["x-api-key"] == GOOD_KEY


@pytest.mark.parametrize(
    ("written", "wamid"),
    [
        pytest.param("wamid.AB+c/d==/", "wamid.AB+c/d==", id="plus, slash and equals"),
        pytest.param("wamid.AB%2Bc%2Fd%3D%3D/", "wamid.AB+c/d==", id="percent-encoded"),
        pytest.param("wamid.a/b/c/", "wamid.a/b/c", id="several slashes"),
        pytest.param("wamid.AB+c/d==", "wamid.AB+c/d==", id="no trailing slash"),
    ],
)
async def test_everything_up_to_the_final_slash_is_the_wamid(
    get: Get, fake: FakeMindo, written: str, wamid: str
) -> None:
    fake.messages[wamid] = message_status(meta_message_id=wamid)

    status, body = await get(MESSAGES + written)

    assert status == 200
    assert body["meta_message_id"] == wamid
    assert fake.only("GetMessage").request == mindo_pb2.GetMessageRequest(message_id=wamid)


async def test_a_failed_message_carries_its_time_code_and_reason(get: Get, fake: FakeMindo) -> None:
    failed = mindo_pb2.DeliveryStatus(
        current="failed",
        sent_at=message_status().sent_at,
        failed_at=MESSAGE_READ,
        error_code=131026,
        error_message="Message undeliverable",
    )
    fake.messages[WAMID] = message_status(delivery_status=failed)

    _status, body = await get(DOCUMENTED_PATH)

    assert body["delivery_status"] == {
        "current": "failed",
        "sent_at": "2025-11-16T21:30:00Z",
        "delivered_at": None,
        "read_at": None,
        "failed_at": "2025-11-16T21:31:00Z",
        "error_code": 131026,
        "error_message": "Message undeliverable",
    }


async def test_an_error_code_of_zero_is_still_a_code(get: Get, fake: FakeMindo) -> None:
    # error_code is optional in the proto: set to 0 is not the same as unset.
    fake.messages[WAMID] = message_status(
        delivery_status=mindo_pb2.DeliveryStatus(current="failed", error_code=0)
    )

    _status, body = await get(DOCUMENTED_PATH)

    assert body["delivery_status"]["error_code"] == 0


async def test_a_send_meta_refused_has_its_error_and_no_times(get: Get, fake: FakeMindo) -> None:
    fake.messages[WAMID] = message_status(
        was_successful=False,
        error_message="(#131047) Re-engagement message",
        delivery_status=mindo_pb2.DeliveryStatus(),
        sent_at=None,
    )

    _status, body = await get(DOCUMENTED_PATH)

    assert body["was_successful"] is False
    assert body["error_message"] == "(#131047) Re-engagement message"
    assert body["sent_at"] is None
    assert body["delivery_status"] == dict.fromkeys(DOCUMENTED_BODY["delivery_status"])


async def test_an_unknown_or_foreign_message_is_a_coded_404(get: Get) -> None:
    status, body = await get(f"{MESSAGES}wamid.SOMEONE-ELSES=/")

    assert status == 404
    assert body == {
        "error": "Message 'wamid.SOMEONE-ELSES=' no encontrado",
        "code": "message_not_found",
    }


async def test_no_key_is_the_documented_401_without_any_call(get: Get, fake: FakeMindo) -> None:
    status, body = await get(DOCUMENTED_PATH, key=None)

    assert status == 401
    assert body == {"error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)"}
    assert fake.received == []


async def test_an_unknown_key_is_the_services_401(get: Get) -> None:
    assert await get(DOCUMENTED_PATH, key="mindo_zzzzzzzzzzzzzzzzzzzzzzzz") == (
        401,
        {"error": "API Key expirada"},
    )


async def test_a_key_without_the_read_scope_is_a_403(get: Get, fake: FakeMindo) -> None:
    fake.missing_scopes.add("read")

    status, body = await get(DOCUMENTED_PATH)

    assert (status, body) == (403, {"error": "API Key no tiene acceso a este recurso"})


async def test_a_wrong_method_is_a_405(http: aiohttp.ClientSession) -> None:
    async with http.post(DOCUMENTED_PATH) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET"


async def test_the_operation_is_documented_at_the_plain_path(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/openapi.json") as response:
        paths = (await response.json())["paths"]

    operation = paths[MESSAGES + "{message_id}/"]["get"]
    assert operation["operationId"] == "getMessage"
    example = operation["responses"]["200"]["content"]["application/json"]["examples"]
    assert example["Read"]["value"] == DOCUMENTED_BODY
    assert not [path for path in paths if ":" in path]
