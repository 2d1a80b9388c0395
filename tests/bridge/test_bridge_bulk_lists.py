"""GET bulk-sends/ and bulk-sends/{id}/messages/: filters, DRF pagination and the item shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from mindo_grpc.status_details import ErrorDetails
from rest_bridge import RunningBridge
from tests.bridge.documented_bodies import DOCUMENTED_ITEM

from .fake_mindo import BULK_ID, GOOD_KEY, FakeMindo, bulk, bulk_message

BULKS = "/api/v1/meta-templates/bulk-sends/"
MESSAGES = f"{BULKS}{BULK_ID}/messages/"

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


def list_request(fake: FakeMindo) -> mindo_pb2.ListBulksRequest:
    request = fake.only("ListBulks").request
    assert isinstance(request, mindo_pb2.ListBulksRequest)
    return request


async def test_the_list_is_drfs_page_of_the_documented_items(get: Get, fake: FakeMindo) -> None:
    status, body = await get(BULKS)

    assert status == 200
    assert body == {"count": 1, "next": None, "previous": None, "results": [DOCUMENTED_ITEM]}
    assert list(body) == ["count", "next", "previous", "results"]
    assert list(body["results"][0]) == list(DOCUMENTED_ITEM)
    assert list_request(fake) == mindo_pb2.ListBulksRequest(page=1, page_size=20)


async def test_filters_reach_the_service_normalised(get: Get, fake: FakeMindo) -> None:
    query = "status=completed&template=45&created_after=2025-11-01&created_before=2025-11-30"
    status, _body = await get(f"{BULKS}?{query}")

    assert status == 200
    assert list_request(fake) == mindo_pb2.ListBulksRequest(
        status="COMPLETED",
        template_id=45,
        created_after="2025-11-01",
        created_before="2025-11-30",
        page=1,
        page_size=20,
    )


async def test_empty_filters_filter_nothing_and_a_repeated_one_counts_by_its_last_value(
    get: Get, fake: FakeMindo
) -> None:
    await get(f"{BULKS}?status=&template=&status=FAILED&created_after=")

    assert list_request(fake) == mindo_pb2.ListBulksRequest(status="FAILED", page=1, page_size=20)


async def test_bad_filters_are_drfs_field_map_in_declaration_order(
    get: Get, fake: FakeMindo
) -> None:
    query = "created_before=yesterday&created_after=2025-13-01&template=abc&status=DONE"
    status, body = await get(f"{BULKS}?{query}")

    assert status == 400
    assert body == {
        "status": ["Select a valid choice. DONE is not one of the available choices."],
        "template": ["Enter a whole number."],
        "created_after": ["Enter a valid date."],
        "created_before": ["Enter a valid date."],
    }
    assert list(body) == ["status", "template", "created_after", "created_before"]
    assert fake.methods() == ["CheckApiKey"]
    assert fake.only("CheckApiKey").request == mindo_pb2.CheckApiKeyRequest(scope="read")


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-3", "Ensure this value is greater than or equal to 1."),
        ("1.5", "Enter a whole number."),
        (str(2**63), "Ensure this value is less than or equal to 9223372036854775807."),
    ],
)
async def test_a_template_id_is_a_positive_integer(get: Get, template: str, problem: str) -> None:
    status, body = await get(f"{BULKS}?template={template}")

    assert status == 400
    assert body == {"template": [problem]}


@pytest.mark.parametrize("day", ["2025-11-1", "20251101", "2025-02-30", "2025-11-01T00:00"])
async def test_a_day_is_written_yyyy_mm_dd(get: Get, day: str) -> None:
    status, body = await get(f"{BULKS}?created_after={day}")

    assert status == 400
    assert body == {"created_after": ["Enter a valid date."]}


async def test_a_bad_key_is_a_401_whatever_the_query(get: Get) -> None:
    status, body = await get(f"{BULKS}?status=DONE", key="mindo_not_a_real_key_at_all")

    assert status == 401
    assert body == {"error": "API Key expirada"}


@pytest.mark.parametrize(
    ("page_size", "sent"), [("50", 50), ("100", 100), ("500", 100), ("0", 20), ("abc", 20)]
)
async def test_page_size_is_lowered_to_100_and_ignored_when_invalid(
    get: Get, fake: FakeMindo, page_size: str, sent: int
) -> None:
    status, _body = await get(f"{BULKS}?page_size={page_size}")

    assert status == 200
    assert list_request(fake).page_size == sent


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.0", str(2**31)])
async def test_a_page_that_cannot_exist_is_drfs_404(get: Get, fake: FakeMindo, page: str) -> None:
    status, body = await get(f"{BULKS}?page={page}")

    assert status == 404
    assert body == {"error": "Invalid page.", "code": "invalid_page"}
    assert fake.methods() == ["CheckApiKey"], "the key is checked first"


async def test_a_page_past_the_last_is_drfs_404(get: Get, fake: FakeMindo) -> None:
    fake.bulk_page = mindo_pb2.ListBulksResponse(count=3, results=[])
    status, body = await get(f"{BULKS}?page=2")

    assert status == 404
    assert body == {"error": "Invalid page.", "code": "invalid_page"}


async def test_the_first_page_of_nothing_is_an_empty_page(get: Get, fake: FakeMindo) -> None:
    fake.bulk_page = mindo_pb2.ListBulksResponse(count=0, results=[])
    status, body = await get(BULKS)

    assert status == 200
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


async def test_next_and_previous_are_absolute_urls_of_the_same_query(
    get: Get, fake: FakeMindo, bridge: RunningBridge
) -> None:
    fake.bulk_page = mindo_pb2.ListBulksResponse(count=45, results=[bulk()] * 20)
    _status, body = await get(f"{BULKS}?status=COMPLETED&page=2&page_size=20")

    assert body["next"] == f"{bridge.url}{BULKS}?page=3&page_size=20&status=COMPLETED"
    assert body["previous"] == f"{bridge.url}{BULKS}?page_size=20&status=COMPLETED"


async def test_the_last_page_has_no_next_and_a_previous_page_number(
    get: Get, fake: FakeMindo, bridge: RunningBridge
) -> None:
    fake.bulk_page = mindo_pb2.ListBulksResponse(count=45, results=[bulk()] * 5)
    _status, body = await get(f"{BULKS.rstrip('/')}?page=3&page_size=20")

    assert body["next"] is None
    assert body["previous"] == f"{bridge.url}{BULKS.rstrip('/')}?page=2&page_size=20"


async def test_the_first_page_links_the_second(
    get: Get, fake: FakeMindo, bridge: RunningBridge
) -> None:
    fake.bulk_page = mindo_pb2.ListBulksResponse(count=21, results=[bulk()] * 20)
    _status, body = await get(BULKS)

    assert body["next"] == f"{bridge.url}{BULKS}?page=2"
    assert body["previous"] is None


async def test_the_services_field_errors_keep_drfs_shape(get: Get, fake: FakeMindo) -> None:
    fake.errors["ListBulks"] = ErrorDetails(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        message="created_after: Date has wrong format. Use YYYY-MM-DD.",
        code="invalid_request",
        field_errors={"created_after": ["Date has wrong format. Use YYYY-MM-DD."]},
    )
    status, body = await get(BULKS)

    assert status == 400
    assert body == {"created_after": ["Date has wrong format. Use YYYY-MM-DD."]}


async def test_a_stopped_bulk_in_the_list_shows_its_stop_reason(get: Get, fake: FakeMindo) -> None:
    fake.bulk_page = mindo_pb2.ListBulksResponse(
        count=1, results=[bulk(status="FAILED", stop_reason="quality rating RED")]
    )
    _status, body = await get(BULKS)

    assert body["results"][0]["stop_reason"] == "quality rating RED"


# mindo-api.md §10, item 1001 of the example.
DOCUMENTED_MESSAGE = {
    "id": 1001,
    "recipient_phone": "+5491112345678",
    "status": "delivered",
    "meta_message_id": "wamid.HBgLNTU0MTE2NzU0Nzg1FQIAERgS...",
    "variables_used": {"name": "Juan Perez", "code": "ABC123"},
    "sent_at": "2025-11-16T21:30:10Z",
    "delivered_at": "2025-11-16T21:30:15Z",
    "read_at": None,
    "error_message": None,
    "resent_at": None,  # Mindo's addition: when the unknown-outcome policy resent it
}


async def test_messages_are_a_page_of_the_documented_items(get: Get, fake: FakeMindo) -> None:
    status, body = await get(MESSAGES)

    assert status == 200
    assert body == {"count": 1, "next": None, "previous": None, "results": [DOCUMENTED_MESSAGE]}
    assert list(body["results"][0]) == list(DOCUMENTED_MESSAGE)
    assert fake.only("ListBulkMessages").request == mindo_pb2.ListBulkMessagesRequest(
        bulk_send_id=BULK_ID, page=1, page_size=20
    )


async def test_a_recipient_not_sent_yet_shows_its_status_and_nulls(
    get: Get, fake: FakeMindo
) -> None:
    waiting = mindo_pb2.BulkMessage(
        id=1002,
        recipient_phone="+5491199887766",
        status="pending",
        variables_used={"name": "Carlos Lopez"},
    )
    failed = bulk_message(
        id=1003,
        status="failed",
        delivered_at=None,
        error_message="(#131026) Message undeliverable",
    )
    fake.message_page = mindo_pb2.ListBulkMessagesResponse(count=2, results=[waiting, failed])
    _status, body = await get(MESSAGES)

    assert body["results"] == [
        {
            "id": 1002,
            "recipient_phone": "+5491199887766",
            "status": "pending",
            "meta_message_id": None,
            "variables_used": {"name": "Carlos Lopez"},
            "sent_at": None,
            "delivered_at": None,
            "read_at": None,
            "error_message": None,
            "resent_at": None,
        },
        DOCUMENTED_MESSAGE
        | {
            "id": 1003,
            "status": "failed",
            "delivered_at": None,
            "error_message": "(#131026) Message undeliverable",
        },
    ]


@pytest.mark.parametrize(
    "status", ["pending", "sending", "sent", "delivered", "read", "failed", "cancelled"]
)
async def test_every_recipient_status_is_a_filter(get: Get, fake: FakeMindo, status: str) -> None:
    await get(f"{MESSAGES}?status={status.upper()}")

    assert fake.only("ListBulkMessages").request.status == status


async def test_the_message_status_filter_is_lowercase(get: Get, fake: FakeMindo) -> None:
    await get(f"{MESSAGES}?status=DELIVERED&page=2&page_size=5")

    assert fake.only("ListBulkMessages").request == mindo_pb2.ListBulkMessagesRequest(
        bulk_send_id=BULK_ID, status="delivered", page=2, page_size=5
    )


async def test_an_unknown_message_status_is_a_field_error(get: Get, fake: FakeMindo) -> None:
    status, body = await get(f"{MESSAGES}?status=queued")

    assert status == 400
    assert body == {
        "status": ["Select a valid choice. queued is not one of the available choices."]
    }
    assert "ListBulkMessages" not in fake.methods()


async def test_messages_of_an_unknown_bulk_are_a_coded_404(get: Get) -> None:
    other = "b4c3d9e0-5f6a-7b8c-9d0e-1f2a3b4c5d6e"
    status, body = await get(f"{BULKS}{other}/messages/")

    assert status == 404
    assert body == {"error": f"Bulk send '{other}' no encontrado", "code": "bulk_not_found"}


async def test_message_pages_link_on_the_messages_path(
    get: Get, fake: FakeMindo, bridge: RunningBridge
) -> None:
    fake.message_page = mindo_pb2.ListBulkMessagesResponse(count=3, results=[bulk_message()])
    _status, body = await get(f"{MESSAGES}?page_size=1&status=read")

    assert body["next"] == f"{bridge.url}{MESSAGES}?page=2&page_size=1&status=read"
