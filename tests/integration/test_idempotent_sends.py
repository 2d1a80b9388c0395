"""Idempotent sends over the real stack (gRPC and REST over sockets, the sandbox over HTTP, a
SQLite file): concurrent duplicates reach Meta once and share one answer; the same key with
another body is a 409; a send the sandbox never answered is an unknown outcome, then and on
every repeat, and is not sent again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from mindo_sandbox.faults import FaultConfig
from tests.integration.real_stack import RealStack, real_stack

SEND = "/api/v1/meta-templates/send/"
NUMBER = "813497231850626"
ORDER = {
    "phone_number_id": NUMBER,
    "template_name": "order_update",
    "recipient_phone": "+5491112345678",
    "variables": {"order_id": "ORD-1", "status": "listo"},
}


def request(key: str, status: str = "listo") -> pb.SendMessageRequest:
    return pb.SendMessageRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipient_phone="+5491112345678",
        variables={"order_id": "ORD-1", "status": status},
        idempotency_key=key,
    )


def calls_to_meta(stack: RealStack) -> int:
    recorded = stack.sandbox.state.recorder.all()
    return sum(1 for r in recorded if r.method == "POST" and r.path.endswith("/messages"))


async def test_concurrent_duplicates_over_grpc_reach_meta_once_with_one_answer(
    tmp_path: Path,
) -> None:
    async with real_stack(tmp_path) as stack:
        # Slow enough that the duplicates arrive while the first is at Meta.
        stack.sandbox.state.set_faults(FaultConfig(latency_ms=(200.0, 200.0)))

        answers = await asyncio.gather(
            *(stack.stub.SendMessage(request("k-1"), metadata=stack.metadata()) for _ in range(8))
        )
        later = await stack.stub.SendMessage(request("k-1"), metadata=stack.metadata())

        assert calls_to_meta(stack) == 1
        assert len({(a.message_id, a.id, a.sent_at.ToDatetime()) for a in [*answers, later]}) == 1
        assert len(stack.message_rows()) == 1


async def test_over_rest_the_header_replays_and_another_body_is_a_409(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        headers = {"X-API-Key": stack.api_key, "Idempotency-Key": "order-ORD-1"}
        async with aiohttp.ClientSession(base_url=stack.bridge.url) as http:
            async with http.post(SEND, json=ORDER, headers=headers) as answer:
                first = await answer.json()
            async with http.post(SEND, json=ORDER, headers=headers) as answer:
                again_status, again = answer.status, await answer.json()
            changed = {**ORDER, "variables": {"order_id": "ORD-2", "status": "listo"}}
            async with http.post(SEND, json=changed, headers=headers) as answer:
                reused_status, reused = answer.status, await answer.json()
            unkeyed = {"X-API-Key": stack.api_key}
            async with http.post(SEND, json=ORDER, headers=unkeyed) as answer:
                unkeyed_answer = await answer.json()

        assert again_status == 200
        assert again == first
        assert reused_status == 409
        assert reused["code"] == "idempotency_key_reused"
        assert unkeyed_answer["message_id"] != first["message_id"]
        assert calls_to_meta(stack) == 2


async def test_a_send_meta_never_answered_is_outcome_unknown_and_never_resent(
    tmp_path: Path,
) -> None:
    async with real_stack(tmp_path) as stack:  # the stack's Meta timeout is 2 s
        stack.sandbox.state.set_faults(FaultConfig(timeout_rate=1.0, timeout_hold_ms=2_500.0))

        with pytest.raises(grpc.aio.AioRpcError) as first:
            await stack.stub.SendMessage(request("k-timeout"), metadata=stack.metadata())
        stack.sandbox.state.set_faults(FaultConfig())
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await stack.stub.SendMessage(request("k-timeout"), metadata=stack.metadata())
        headers = {"X-API-Key": stack.api_key, "Idempotency-Key": "k-timeout"}
        body = {**ORDER, "variables": {"order_id": "ORD-1", "status": "listo"}}
        async with (
            aiohttp.ClientSession(base_url=stack.bridge.url) as http,
            http.post(SEND, json=body, headers=headers) as answer,
        ):
            rest_status, rest_body = answer.status, await answer.json()

        for raised in (first.value, again.value):
            details = from_rpc_error(raised)
            assert details.status == grpc.StatusCode.UNAVAILABLE
            assert details.code == "outcome_unknown"
        assert rest_status == 503
        assert rest_body["code"] == "outcome_unknown"
        assert rest_body["first_attempt_at"].endswith("Z")
        # The sandbox records the held send when it lets it through (and Meta sent it after all).
        for _ in range(40):
            if calls_to_meta(stack):
                break
            await asyncio.sleep(0.1)
        assert calls_to_meta(stack) == 1
        ((wamid, status, _),) = stack.message_rows()
        assert (wamid, status) == (None, "failed")
