"""A send window over the real stack (REST bridge over HTTP, gRPC over a socket, the sandbox, a
SQLite file): a window open now in Buenos Aires and closed in Spain sends the Argentine
recipients and keeps the Spanish ones pending until their morning, with an estimate that counts
the wait; the window shows in the status over REST and gRPC; a bad window is refused, nothing
stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"
API = "/api/v1/meta-templates"
ARGENTINA = [f"+54911700000{i:02d}" for i in range(3)]
SPAIN = [f"+3461100000{i}" for i in range(2)]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        await running.services.bulk_engine.start()
        try:
            yield running
        finally:
            await running.services.bulk_engine.stop()


def open_in_buenos_aires_now() -> dict[str, str]:
    """An hour either side of now in Buenos Aires: 3 to 4 hours behind Spain, so closed there."""
    local = datetime.now(UTC).astimezone(ZoneInfo("America/Argentina/Buenos_Aires"))
    return {
        "start": f"{local - timedelta(hours=1):%H:%M}",
        "end": f"{local + timedelta(hours=1):%H:%M}",
    }


async def rest(
    stack: RealStack, http: aiohttp.ClientSession, method: str, path: str, body: object = None
) -> tuple[int, Any]:
    url = f"{stack.bridge.url}{API}{path}"
    async with http.request(method, url, json=body, headers={"X-API-Key": stack.api_key}) as r:
        return r.status, await r.json()


async def test_each_recipient_goes_only_inside_its_own_window(stack: RealStack) -> None:
    window = open_in_buenos_aires_now()
    body = {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipients": [
            {"phone": phone, "variables": {"order_id": "A1", "status": "listo"}}
            for phone in [SPAIN[0], *ARGENTINA, SPAIN[1]]
        ],
        "send_window": window,
    }
    async with aiohttp.ClientSession() as http:
        code, accepted = await rest(stack, http, "POST", "/send-bulk/", body)
        assert code == 202, accepted
        bulk_id = accepted["bulk_send_id"]

        async def argentina_sent() -> bool:
            _, status = await rest(stack, http, "GET", f"/bulk-sends/{bulk_id}/")
            return bool(status["sent_count"] == len(ARGENTINA))

        await eventually(argentina_sent, limit=30)
        _, status = await rest(stack, http, "GET", f"/bulk-sends/{bulk_id}/")
        _, pending = await rest(
            stack, http, "GET", f"/bulk-sends/{bulk_id}/messages/?status=pending"
        )
        grpc_view = await stack.stub.GetBulk(
            pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=stack.metadata()
        )
        await rest(stack, http, "POST", f"/bulk-sends/{bulk_id}/cancel/")

    sent_to = {payload["to"] for payload in stack.sent_payloads()}
    assert sent_to == {phone[1:] for phone in ARGENTINA}
    assert {m["recipient_phone"] for m in pending["results"]} == set(SPAIN)
    assert status["status"] == "PROCESSING"
    assert status["pending_count"] == len(SPAIN)
    # Spain's window opens some 20 hours from now.
    assert accepted["estimated_time_minutes"] > 15 * 60
    assert status["send_window"] == {**window, "fallback_time_zone": "UTC"}
    assert (grpc_view.send_window.start, grpc_view.send_window.end) == (
        window["start"],
        window["end"],
    )


async def test_a_bad_window_is_refused_and_nothing_is_stored(stack: RealStack) -> None:
    body = {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipients": [{"phone": ARGENTINA[0], "variables": {"order_id": "A", "status": "b"}}],
        "send_window": {"start": "9am", "end": "20:00"},
    }
    request = pb.SendBulkRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipients=[
            pb.BulkRecipient(phone=ARGENTINA[0], variables={"order_id": "A", "status": "b"})
        ],
        send_window=pb.SendWindow(start="10:00", end="10:00"),
    )
    async with aiohttp.ClientSession() as http:
        code, refused = await rest(stack, http, "POST", "/send-bulk/", body)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.stub.SendBulk(request, metadata=stack.metadata())
        _, listed = await rest(stack, http, "GET", "/bulk-sends/")

    assert code == 400
    assert refused == {"send_window": ["start must be HH:MM (00:00 to 23:59), not '9am'"]}
    details = from_rpc_error(raised.value)
    assert details.status == grpc.StatusCode.INVALID_ARGUMENT
    assert "send_window" in details.field_errors
    assert listed["count"] == 0
