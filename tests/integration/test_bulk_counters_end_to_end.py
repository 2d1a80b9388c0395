"""A bulk's counters add up over the real stack (REST bridge over HTTP, gRPC, the sandbox, a
SQLite file): cancelled mid-way, every unique recipient is sent, failed, pending or cancelled,
every one is listed with a documented status, and the 202 and the status agree on the total."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"
API = "/api/v1/meta-templates"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        await running.services.bulk_engine.start()
        try:
            yield running
        finally:
            await running.services.bulk_engine.stop()


class Rest:
    def __init__(self, stack: RealStack, http: aiohttp.ClientSession) -> None:
        self._base = f"{stack.bridge.url}{API}"
        self._headers = {"X-API-Key": stack.api_key}
        self._http = http

    async def post(self, path: str, body: object = None) -> tuple[int, Any]:
        url = f"{self._base}{path}"
        async with self._http.post(url, json=body, headers=self._headers) as answer:
            return answer.status, await answer.json()

    async def get(self, path: str) -> Any:
        async with self._http.get(f"{self._base}{path}", headers=self._headers) as answer:
            assert answer.status == 200, await answer.text()
            return await answer.json()

    async def every_message(self, bulk_id: str, query: str = "") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.get(f"/bulk-sends/{bulk_id}/messages/?page={page}{query}")
            found += body["results"]
            if body["next"] is None:
                return found
            page += 1


def recipients(count: int) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = [
        {"phone": f"+5491170{i:06d}", "variables": {"order_id": f"O{i}", "status": "ok"}}
        for i in range(count)
    ]
    # The first one again, spelled as a person would: deduplicated, yet submitted.
    listed.append({"phone": "+54 9 11 7000-0000", "variables": {"order_id": "O0", "status": "x"}})
    return listed


def adds_up(status: dict[str, Any]) -> bool:
    settled = status["sent_count"] + status["failed_count"] + status["cancelled_count"]
    return status["unique_recipients"] == settled + status["pending_count"]


async def test_a_cancelled_bulk_accounts_for_every_recipient(stack: RealStack) -> None:
    async with aiohttp.ClientSession() as http:
        rest = Rest(stack, http)
        body = {
            "phone_number_id": NUMBER,
            "template_name": "order_update",
            "recipients": recipients(60),
            "pacing": "10",
        }
        code, accepted = await rest.post("/send-bulk/", body)
        assert code == 202, accepted
        bulk_id = accepted["bulk_send_id"]

        async def some_sent() -> bool:
            return bool((await rest.get(f"/bulk-sends/{bulk_id}/"))["sent_count"] >= 3)

        await eventually(some_sent)
        code, cancelled = await rest.post(f"/bulk-sends/{bulk_id}/cancel/")
        assert code == 200
        assert cancelled["status"] == "CANCELLED"
        assert adds_up(cancelled)

        async def settled() -> bool:
            return bool((await rest.get(f"/bulk-sends/{bulk_id}/"))["pending_count"] == 0)

        await eventually(settled)
        status = await rest.get(f"/bulk-sends/{bulk_id}/")
        messages = await rest.every_message(bulk_id)
        cancelled_ones = await rest.every_message(bulk_id, "&status=cancelled")

    assert (accepted["total_recipients"], accepted["unique_recipients"]) == (61, 60)
    assert (status["total_recipients"], status["unique_recipients"]) == (61, 60)
    assert adds_up(status)
    assert status["sent_count"] >= 3
    assert status["cancelled_count"] > 0
    assert status["progress_percentage"] == 100.0
    shown = Counter(m["status"] for m in messages)
    assert len(messages) == 60
    assert shown == {"sent": status["sent_count"], "cancelled": status["cancelled_count"]}
    assert len(cancelled_ones) == status["cancelled_count"]
    assert all(m["meta_message_id"] is None for m in cancelled_ones)

    grpc_view = await stack.stub.GetBulk(
        pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=stack.metadata()
    )
    assert (grpc_view.total_recipients, grpc_view.unique_recipients) == (61, 60)
    assert grpc_view.cancelled_count == status["cancelled_count"]


async def test_recipients_not_sent_yet_are_pending_and_can_be_filtered(stack: RealStack) -> None:
    async with aiohttp.ClientSession() as http:
        rest = Rest(stack, http)
        body = {
            "phone_number_id": NUMBER,
            "template_name": "order_update",
            "recipients": recipients(30),
            "pacing": "2",
        }
        code, accepted = await rest.post("/send-bulk/", body)
        assert code == 202, accepted
        bulk_id = accepted["bulk_send_id"]
        pending = await rest.every_message(bulk_id, "&status=PENDING")
        status = await rest.get(f"/bulk-sends/{bulk_id}/")
        await rest.post(f"/bulk-sends/{bulk_id}/cancel/")

    assert pending
    assert {m["status"] for m in pending} == {"pending"}
    assert adds_up(status)


async def test_a_paused_bulk_sends_nothing_new_and_resumes_where_it_stopped(
    stack: RealStack,
) -> None:
    async with aiohttp.ClientSession() as http:
        rest = Rest(stack, http)
        body = {
            "phone_number_id": NUMBER,
            "template_name": "order_update",
            "recipients": recipients(40),
            "pacing": "20",
        }
        code, accepted = await rest.post("/send-bulk/", body)
        assert code == 202, accepted
        bulk_id = accepted["bulk_send_id"]

        async def some_sent() -> bool:
            return bool((await rest.get(f"/bulk-sends/{bulk_id}/"))["sent_count"] >= 5)

        await eventually(some_sent)
        code, paused = await rest.post(f"/bulk-sends/{bulk_id}/pause/")
        assert (code, paused["status"]) == (200, "PAUSED")
        await asyncio.sleep(0.5)  # the sends that were on their way land
        at_pause = len(stack.sent_payloads())
        await asyncio.sleep(1.5)  # at 20/s, 30 more would have gone
        assert len(stack.sent_payloads()) == at_pause
        held = await rest.get(f"/bulk-sends/{bulk_id}/")
        assert held["status"] == "PAUSED"
        assert adds_up(held)
        assert held["pending_count"] > 0
        code, again = await rest.post(f"/bulk-sends/{bulk_id}/resume/")
        assert (code, again["status"]) == (200, "PROCESSING")
        code, refused = await rest.post(f"/bulk-sends/{bulk_id}/resume/")
        assert (code, refused["code"]) == (400, "failed_precondition")

    async def completed() -> bool:
        found = await stack.stub.GetBulk(
            pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=stack.metadata()
        )
        return found.status == "COMPLETED"

    await eventually(completed, limit=20)
    done = await stack.stub.GetBulk(
        pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=stack.metadata()
    )
    assert done.sent_count == done.unique_recipients == 40
    sent_to = Counter(str(p["to"]) for p in stack.sent_payloads())
    assert len(sent_to) == 40
    assert set(sent_to.values()) == {1}


async def test_pause_and_resume_over_grpc(stack: RealStack) -> None:
    accepted = await stack.stub.SendBulk(
        pb.SendBulkRequest(
            phone_number_id=NUMBER,
            template_name="order_update",
            recipients=[
                pb.BulkRecipient(
                    phone=f"+5491171{i:06d}", variables={"order_id": "1", "status": "x"}
                )
                for i in range(20)
            ],
            pacing="5",
        ),
        metadata=stack.metadata(),
    )
    ask = pb.PauseBulkRequest(bulk_send_id=accepted.bulk_send_id)
    paused = await stack.stub.PauseBulk(ask, metadata=stack.metadata())
    assert paused.status == "PAUSED"
    resumed = await stack.stub.ResumeBulk(
        pb.ResumeBulkRequest(bulk_send_id=accepted.bulk_send_id), metadata=stack.metadata()
    )
    assert resumed.status in ("QUEUED", "PROCESSING")
    cancelled = await stack.stub.CancelBulk(
        pb.CancelBulkRequest(bulk_send_id=accepted.bulk_send_id), metadata=stack.metadata()
    )
    assert cancelled.status == "CANCELLED"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.stub.PauseBulk(ask, metadata=stack.metadata())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
