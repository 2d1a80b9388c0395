"""Idempotent bulk submits over the real stack (gRPC and REST over sockets, the sandbox over
HTTP, a SQLite file): racing duplicates make one bulk and share its 202; a repeat answers the
first 202 again; the same key with another body is a 409; a refused submit leaves the key
free."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from tests.integration.real_stack import RealStack, real_stack

SEND_BULK = "/api/v1/meta-templates/send-bulk/"
NUMBER = "813497231850626"


def bulk(key: str | None, recipients: int = 3, status: str = "listo") -> pb.SendBulkRequest:
    request = pb.SendBulkRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipients=[
            pb.BulkRecipient(
                phone=f"+54911500{i:05d}", variables={"order_id": f"ORD-{i}", "status": status}
            )
            for i in range(recipients)
        ],
    )
    if key is not None:
        request.idempotency_key = key
    return request


def rest_body(status: str = "listo") -> dict[str, object]:
    return {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipients": [
            {"phone": "+5491150000001", "variables": {"order_id": "ORD-1", "status": status}},
            {"phone": "+5491150000002", "variables": {"order_id": "ORD-2", "status": status}},
        ],
    }


def bulk_count(stack: RealStack) -> int:
    with sqlite3.connect(stack.database) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM bulks").fetchone()
        return int(count)


async def test_racing_duplicates_over_grpc_make_one_bulk_and_share_its_202(
    tmp_path: Path,
) -> None:
    async with real_stack(tmp_path) as stack:
        answers = await asyncio.gather(
            *(stack.stub.SendBulk(bulk("b-1", 500), metadata=stack.metadata()) for _ in range(6))
        )
        later = await stack.stub.SendBulk(bulk("b-1", 500), metadata=stack.metadata())

        assert bulk_count(stack) == 1
        assert all(answer == answers[0] for answer in [*answers, later])
        assert answers[0].status == "queued"


async def test_the_same_key_with_another_body_is_idempotency_key_reused(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        await stack.stub.SendBulk(bulk("b-2"), metadata=stack.metadata())

        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await stack.stub.SendBulk(bulk("b-2", status="otro"), metadata=stack.metadata())

        details = from_rpc_error(reused.value)
        assert details.status == grpc.StatusCode.ALREADY_EXISTS
        assert details.code == "idempotency_key_reused"
        assert bulk_count(stack) == 1


async def test_without_a_key_every_submit_is_a_new_bulk(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        first = await stack.stub.SendBulk(bulk(None), metadata=stack.metadata())
        second = await stack.stub.SendBulk(bulk(None), metadata=stack.metadata())

        assert first.bulk_send_id != second.bulk_send_id
        assert bulk_count(stack) == 2


async def test_a_refused_submit_leaves_the_key_free(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        refused = bulk("b-3")
        refused.pacing = "fast"
        with pytest.raises(grpc.aio.AioRpcError):
            await stack.stub.SendBulk(refused, metadata=stack.metadata())

        accepted = await stack.stub.SendBulk(bulk("b-3"), metadata=stack.metadata())

        assert accepted.bulk_send_id
        assert bulk_count(stack) == 1


async def test_over_rest_the_header_answers_the_first_202_and_another_body_is_a_409(
    tmp_path: Path,
) -> None:
    async with real_stack(tmp_path) as stack:
        headers = {"X-API-Key": stack.api_key, "Idempotency-Key": "newsletter-1"}
        async with aiohttp.ClientSession(base_url=stack.bridge.url) as http:
            async with http.post(SEND_BULK, json=rest_body(), headers=headers) as answer:
                first_status, first = answer.status, await answer.json()
            async with http.post(SEND_BULK, json=rest_body(), headers=headers) as answer:
                again_status, again = answer.status, await answer.json()
            async with http.post(SEND_BULK, json=rest_body("otro"), headers=headers) as answer:
                reused_status, reused = answer.status, await answer.json()
            bad_key = {"X-API-Key": stack.api_key, "Idempotency-Key": "é" * 3}
            async with http.post(SEND_BULK, json=rest_body(), headers=bad_key) as answer:
                bad_status, bad = answer.status, await answer.json()

        assert (first_status, again_status) == (202, 202)
        assert again == first
        assert reused_status == 409
        assert reused["code"] == "idempotency_key_reused"
        assert bad_status == 400
        assert list(bad["fields"]) == ["Idempotency-Key"]
        assert bulk_count(stack) == 1


async def test_a_key_given_to_a_single_send_is_not_a_bulks(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        single = pb.SendMessageRequest(
            phone_number_id=NUMBER,
            template_name="order_update",
            recipient_phone="+5491112345678",
            variables={"order_id": "ORD-1", "status": "listo"},
            idempotency_key="shared",
        )
        await stack.stub.SendMessage(single, metadata=stack.metadata())

        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await stack.stub.SendBulk(bulk("shared"), metadata=stack.metadata())

        assert from_rpc_error(reused.value).code == "idempotency_key_reused"
        assert bulk_count(stack) == 0
