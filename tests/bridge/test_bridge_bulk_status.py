"""GET bulk-sends/{id}/ and POST bulk-sends/{id}/cancel/: the status body, 404, cancelling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from mindo_grpc.status_details import ErrorDetails
from tests.bridge.documented_bodies import DOCUMENTED_DETAIL

from .fake_mindo import BULK_ID, GOOD_KEY, FakeMindo, bulk

BULKS = "/api/v1/meta-templates/bulk-sends/"
DETAIL_PATH = f"{BULKS}{BULK_ID}/"
CANCEL_PATH = f"{DETAIL_PATH}cancel/"

Answer = tuple[int, Any]
Call = Callable[..., Awaitable[Answer]]


@pytest.fixture
def call(http: aiohttp.ClientSession) -> Call:
    async def request(method: str, path: str, *, key: str | None = GOOD_KEY) -> Answer:
        headers = {"X-API-Key": key} if key is not None else {}
        async with http.request(method, path, headers=headers) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json()

    return request


async def test_the_status_is_the_documented_body_in_order(call: Call, fake: FakeMindo) -> None:
    status, body = await call("GET", DETAIL_PATH)

    assert status == 200
    assert body == DOCUMENTED_DETAIL
    assert list(body) == list(DOCUMENTED_DETAIL)
    assert list(body["template"]) == ["id", "template_name", "language", "status"]
    assert list(body["phone_number"]) == ["id", "display_phone_number", "verified_name"]
    call_made = fake.only("GetBulk")
    assert call_made.request == mindo_pb2.GetBulkRequest(bulk_send_id=BULK_ID)
    assert call_made.metadata["x-api-key"] == GOOD_KEY


async def test_a_bulk_not_started_has_null_times(call: Call, fake: FakeMindo) -> None:
    fake.bulks[BULK_ID] = bulk(
        status="QUEUED",
        started_at=None,
        completed_at=None,
        sent_count=0,
        delivered_count=0,
        read_count=0,
        pending_count=3,
        progress_percentage=0.0,
    )
    _status, body = await call("GET", DETAIL_PATH)

    assert body["status"] == "QUEUED"
    assert body["started_at"] is None
    assert body["completed_at"] is None
    assert body["pending_count"] == 3
    assert body["progress_percentage"] == 0.0


async def test_a_sending_bulk_shows_its_re_planned_completion_and_its_original_estimate(
    call: Call, fake: FakeMindo
) -> None:
    completion = Timestamp(seconds=1_763_328_660)  # 2025-11-16T21:31:00Z
    fake.bulks[BULK_ID] = bulk(
        status="PROCESSING",
        completed_at=None,
        pending_count=2,
        estimated_time_minutes=0.9,  # planned again at a resume
        original_estimated_time_minutes=0.4,
        estimated_completion_at=completion,
    )
    _status, body = await call("GET", DETAIL_PATH)

    assert body["estimated_completion_at"] == "2025-11-16T21:31:00Z"
    assert (body["estimated_time_minutes"], body["original_estimated_time_minutes"]) == (0.9, 0.4)


async def test_a_stop_reason_is_added_last_only_when_the_bulk_stopped_early(
    call: Call, fake: FakeMindo
) -> None:
    reason = "Meta refused the template: (#132001) Template name does not exist in the translation"
    fake.bulks[BULK_ID] = bulk(status="FAILED", stop_reason=reason)
    _status, body = await call("GET", DETAIL_PATH)

    assert list(body)[-1] == "stop_reason"
    assert body["stop_reason"] == reason
    assert body["status"] == "FAILED"


async def test_an_unknown_bulk_is_a_coded_404(call: Call) -> None:
    other = "b4c3d9e0-5f6a-7b8c-9d0e-1f2a3b4c5d6e"
    status, body = await call("GET", f"{BULKS}{other}/")

    assert status == 404
    assert body == {"error": f"Bulk send '{other}' no encontrado", "code": "bulk_not_found"}


async def test_the_id_reaches_the_service_as_written(call: Call, fake: FakeMindo) -> None:
    await call("GET", f"{BULKS}not-a-uuid%20at%20all/")

    assert fake.only("GetBulk").request == mindo_pb2.GetBulkRequest(
        bulk_send_id="not-a-uuid at all"
    )


async def test_the_path_without_its_trailing_slash_works_too(call: Call) -> None:
    status, body = await call("GET", DETAIL_PATH.rstrip("/"))

    assert status == 200
    assert body["id"] == BULK_ID


async def test_no_key_is_the_documented_401_without_any_call(call: Call, fake: FakeMindo) -> None:
    status, body = await call("GET", DETAIL_PATH, key=None)

    assert status == 401
    assert body == {"error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)"}
    assert fake.received == []


async def test_cancelling_answers_the_status_body(call: Call, fake: FakeMindo) -> None:
    fake.bulks[BULK_ID] = bulk(status="CANCELLED", pending_count=0)
    status, body = await call("POST", CANCEL_PATH)

    assert status == 200
    assert body == DOCUMENTED_DETAIL | {"status": "CANCELLED"}
    assert fake.only("CancelBulk").request == mindo_pb2.CancelBulkRequest(bulk_send_id=BULK_ID)


async def test_cancelling_a_bulk_that_is_over_is_a_coded_400(call: Call, fake: FakeMindo) -> None:
    message = (
        f"Bulk send '{BULK_ID}' is already COMPLETED; only a QUEUED or PROCESSING bulk send "
        "can be cancelled"
    )
    fake.errors["CancelBulk"] = ErrorDetails(
        status=grpc.StatusCode.FAILED_PRECONDITION, message=message, code="failed_precondition"
    )
    status, body = await call("POST", CANCEL_PATH)

    assert status == 400
    assert body == {"error": message, "code": "failed_precondition"}


async def test_cancelling_an_unknown_bulk_is_a_coded_404(call: Call) -> None:
    status, body = await call("POST", f"{BULKS}b4c3d9e0-5f6a-7b8c-9d0e-1f2a3b4c5d6e/cancel/")

    assert status == 404
    assert body["code"] == "bulk_not_found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", CANCEL_PATH, "POST"), ("DELETE", DETAIL_PATH, "GET"), ("POST", BULKS, "GET")],
)
async def test_a_wrong_method_is_a_405(
    http: aiohttp.ClientSession, method: str, path: str, allowed: str
) -> None:
    async with http.request(method, path) as response:
        assert response.status == 405
        assert response.headers["Allow"] == allowed
        assert (await response.json())["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("action", "rpc", "status"),
    [("pause", "PauseBulk", "PAUSED"), ("resume", "ResumeBulk", "PROCESSING")],
)
async def test_pausing_and_resuming_answer_the_status_body(
    call: Call, fake: FakeMindo, action: str, rpc: str, status: str
) -> None:
    fake.bulks[BULK_ID] = bulk(status=status)
    code, body = await call("POST", CANCEL_PATH.replace("cancel/", f"{action}/"))

    assert code == 200
    assert body == DOCUMENTED_DETAIL | {"status": status}
    assert fake.only(rpc).request.bulk_send_id == BULK_ID


async def test_resuming_a_bulk_that_is_not_paused_is_a_coded_400(
    call: Call, fake: FakeMindo
) -> None:
    message = f"Bulk send '{BULK_ID}' is PROCESSING; only a PAUSED bulk send can be resumed"
    fake.errors["ResumeBulk"] = ErrorDetails(
        status=grpc.StatusCode.FAILED_PRECONDITION, message=message, code="failed_precondition"
    )
    code, body = await call("POST", CANCEL_PATH.replace("cancel/", "resume/"))

    assert code == 400
    assert body == {"error": message, "code": "failed_precondition"}
