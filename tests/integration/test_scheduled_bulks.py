"""Scheduled bulks over the real stack (gRPC and REST over sockets, the sandbox over HTTP, a
SQLite file): a bulk with send_at is SCHEDULED and sends nothing until then, then starts on time
and completes; it can be cancelled and listed by status; a send_at in the past, without an
offset or too far ahead is a 400 and stores nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"
SEND_BULK = "/api/v1/meta-templates/send-bulk/"
BULK_SENDS = "/api/v1/meta-templates/bulk-sends/"
ONE_RECIPIENT = {"phone": "+5491150000009", "variables": {"order_id": "9", "status": "x"}}


def scheduled(send_at: str | None, recipients: int = 3) -> pb.SendBulkRequest:
    request = pb.SendBulkRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipients=[
            pb.BulkRecipient(
                phone=f"+54911500{i:05d}", variables={"order_id": f"ORD-{i}", "status": "listo"}
            )
            for i in range(recipients)
        ],
    )
    if send_at is not None:
        request.send_at = send_at
    return request


def in_seconds(seconds: float, offset_hours: int = -3) -> str:
    zone = timezone(timedelta(hours=offset_hours))
    return (datetime.now(UTC) + timedelta(seconds=seconds)).astimezone(zone).isoformat()


def sends_to_meta(stack: RealStack) -> int:
    return len(stack.sent_payloads())


def bulk_count(stack: RealStack) -> int:
    with sqlite3.connect(stack.database) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM bulks").fetchone()
        return int(count)


async def status_of(stack: RealStack, bulk_id: str) -> pb.Bulk:
    request = pb.GetBulkRequest(bulk_send_id=bulk_id)
    found: pb.Bulk = await stack.stub.GetBulk(request, metadata=stack.metadata())
    return found


async def test_a_bulk_scheduled_two_seconds_ahead_waits_then_starts_on_time_and_completes(
    tmp_path: Path,
) -> None:
    async with real_stack(tmp_path) as stack:
        await stack.services.bulk_engine.start()
        send_at = datetime.now(UTC) + timedelta(seconds=2)
        request = scheduled(send_at.astimezone(timezone(timedelta(hours=-3))).isoformat())
        accepted = await stack.stub.SendBulk(request, metadata=stack.metadata())

        assert accepted.status == "scheduled"
        assert accepted.send_at.ToDatetime(tzinfo=UTC) == send_at
        await asyncio.sleep(1.5)
        waiting = await status_of(stack, accepted.bulk_send_id)
        assert (waiting.status, waiting.pending_count) == ("SCHEDULED", 3)
        assert sends_to_meta(stack) == 0

        while (done := await status_of(stack, accepted.bulk_send_id)).status != "COMPLETED":
            assert datetime.now(UTC) < send_at + timedelta(seconds=10)
            await asyncio.sleep(0.1)
        assert done.sent_count == 3
        started = done.started_at.ToDatetime(tzinfo=UTC)
        # On time: not before send_at, and not a poll interval (1 s) late either.
        assert send_at <= started < send_at + timedelta(seconds=0.5)


async def test_a_scheduled_bulk_can_be_cancelled_and_never_sends(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        await stack.services.bulk_engine.start()
        accepted = await stack.stub.SendBulk(scheduled(in_seconds(1)), metadata=stack.metadata())

        cancelled = await stack.stub.CancelBulk(
            pb.CancelBulkRequest(bulk_send_id=accepted.bulk_send_id), metadata=stack.metadata()
        )
        await asyncio.sleep(1.5)

        assert (cancelled.status, cancelled.cancelled_count) == ("CANCELLED", 3)
        assert (await status_of(stack, accepted.bulk_send_id)).status == "CANCELLED"
        assert sends_to_meta(stack) == 0


async def test_scheduled_bulks_are_listed_by_status_over_rest(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        later = await stack.stub.SendBulk(scheduled(in_seconds(3600)), metadata=stack.metadata())
        body = {
            "phone_number_id": NUMBER,
            "template_name": "order_update",
            "recipients": [
                {"phone": "+5491150000009", "variables": {"order_id": "9", "status": "x"}}
            ],
            "send_at": in_seconds(7200, offset_hours=0).replace("+00:00", "Z"),
        }
        headers = {"X-API-Key": stack.api_key}
        async with aiohttp.ClientSession(base_url=stack.bridge.url) as http:
            async with http.post(SEND_BULK, json=body, headers=headers) as answer:
                rest_status, rest_accepted = answer.status, await answer.json()
            await stack.stub.SendBulk(scheduled(None), metadata=stack.metadata())
            async with http.get(f"{BULK_SENDS}?status=scheduled", headers=headers) as answer:
                listed = await answer.json()
            async with http.get(f"{BULK_SENDS}{later.bulk_send_id}/", headers=headers) as answer:
                detail = await answer.json()

        assert rest_status == 202
        assert rest_accepted["status"] == "scheduled"
        assert rest_accepted["send_at"].endswith("Z")
        assert listed["count"] == 2
        assert {item["status"] for item in listed["results"]} == {"SCHEDULED"}
        assert {item["id"] for item in listed["results"]} == {
            later.bulk_send_id,
            rest_accepted["bulk_send_id"],
        }
        assert detail["status"] == "SCHEDULED"
        assert detail["send_at"] == later.send_at.ToJsonString()


@pytest.mark.parametrize(
    ("send_at", "problem"),
    [
        (in_seconds(-60), "is in the past"),
        (in_seconds(31 * 86400), "more than 30 days ahead"),
        ("2030-01-01T09:00:00", "has no UTC offset"),
        ("next tuesday", "is not an ISO 8601 date and time"),
    ],
)
async def test_a_send_at_in_the_past_too_far_or_unreadable_is_a_400_and_stores_nothing(
    tmp_path: Path, send_at: str, problem: str
) -> None:
    async with real_stack(tmp_path) as stack:
        body = {
            "phone_number_id": NUMBER,
            "template_name": "order_update",
            "recipients": [
                {"phone": "+5491150000009", "variables": {"order_id": "9", "status": "x"}}
            ],
            "send_at": send_at,
        }
        async with (
            aiohttp.ClientSession(base_url=stack.bridge.url) as http,
            http.post(SEND_BULK, json=body, headers={"X-API-Key": stack.api_key}) as answer,
        ):
            rest_status, refused = answer.status, await answer.json()
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stack.stub.SendBulk(scheduled(send_at), metadata=stack.metadata())

        assert rest_status == 400
        assert list(refused) == ["send_at"]
        assert problem in refused["send_at"][0]
        details = from_rpc_error(failed.value)
        assert details.status == grpc.StatusCode.INVALID_ARGUMENT
        assert bulk_count(stack) == 0
