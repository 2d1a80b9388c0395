"""Single sends and a bulk on one number, in `mindo dev` (the sandbox, the service and the bridge
each a process of its own; Mindo paces the demo number at 80 messages a second, the sandbox
refuses beyond 100, room for a loaded machine's late sends arriving bunched): single sends made
while the bulk sends at the cap all go, and Meta never answers 130429; more single sends than the
number can take are refused before Meta, over REST (429 ``number_at_capacity`` with
Retry-After) and over gRPC (RESOURCE_EXHAUSTED with RetryInfo)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from mindo_grpc.status_details import from_rpc_error
from tests.e2e.stack import DevStack, start_dev_stack

pytestmark = pytest.mark.slow

NUMBER = "813497231850626"
BULK_RECIPIENTS = 480  # about six seconds at the cap
SINGLE_SENDS = 90  # 30 a second for three seconds: with the bulk, beyond the sandbox's 100/s
SLOT_WAIT_S = 0.2
CLIENTS = 40  # 40 waiting sends are half a second of the number's slots
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    # A single send waits at most 0.2 s for its slot: a few dozen clients saturate the number.
    running = start_dev_stack(
        tmp_path_factory.mktemp("mindo-dev"), MINDO_SEND_SLOT_WAIT_S=str(SLOT_WAIT_S)
    )
    running.patch_sandbox_number(NUMBER, {"throughput_mps": 100})
    try:
        yield running
    finally:
        running.kill()


def test_single_sends_during_a_bulk_at_the_cap_all_go_and_meta_never_says_too_fast(
    stack: DevStack,
) -> None:
    stack.clear_sandbox_requests()
    bulk_id = _submit_bulk(stack)
    _until(lambda: len(_accepted(stack)) >= 80)  # the bulk sends at the cap

    answers = asyncio.run(_single_sends_at_30_a_second(stack))
    bulk = _until(lambda: _finished(stack, bulk_id))

    assert all(answer.message_id.startswith("wamid.") for answer in answers)
    assert (bulk["status"], bulk["sent_count"]) == ("COMPLETED", BULK_RECIPIENTS)
    sends = stack.sandbox_requests()
    assert [s["error_code"] for s in sends if s["error_code"] is not None] == []
    accepted = Counter(_recipient(s) for s in _accepted(stack))
    assert len(accepted) == BULK_RECIPIENTS + SINGLE_SENDS
    assert set(accepted.values()) == {1}


def test_more_single_sends_than_the_number_takes_are_refused_before_meta(
    stack: DevStack,
) -> None:
    stack.clear_sandbox_requests()

    statuses, refusal = asyncio.run(_rest_sends_until_refused(stack))
    grpc_refusal = asyncio.run(_grpc_sends_until_refused(stack))

    assert set(statuses) <= {200, 429}
    assert refusal is not None, "the number was never saturated"
    body, retry_after = refusal
    assert body["code"] == "number_at_capacity"
    assert int(retry_after) >= 1
    assert grpc_refusal.status == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert grpc_refusal.code == "number_at_capacity"
    assert grpc_refusal.retry_after_seconds is not None
    assert 0 < grpc_refusal.retry_after_seconds <= 1
    sends = stack.sandbox_requests()
    assert [s["error_code"] for s in sends if s["error_code"] is not None] == []
    assert len(_accepted(stack)) == statuses[200] + grpc_refusal.sent


def _phone(i: int) -> str:
    return f"+54911{6000_0000 + i}"


def _order(i: int) -> dict[str, object]:
    return {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipient_phone": _phone(i),
        "variables": {"order_id": f"ORD-{i}", "status": "listo"},
    }


def _submit_bulk(stack: DevStack) -> str:
    recipients = [
        {"phone": _phone(i), "variables": {"order_id": f"ORD-{i}", "status": "listo"}}
        for i in range(BULK_RECIPIENTS)
    ]
    body = {"phone_number_id": NUMBER, "template_name": "order_update", "recipients": recipients}
    accepted = _call(stack, "POST", "/api/v1/meta-templates/send-bulk/", body)
    return str(accepted["bulk_send_id"])


async def _single_sends_at_30_a_second(stack: DevStack) -> list[pb.SendMessageResponse]:
    async with grpc.aio.insecure_channel(stack.grpc) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        sends = []
        for i in range(SINGLE_SENDS):
            request = pb.SendMessageRequest(**_order(BULK_RECIPIENTS + i))  # type: ignore[arg-type]
            sends.append(asyncio.ensure_future(stub.SendMessage(request, metadata=_key(stack))))
            await asyncio.sleep(1 / 30)
        return list(await asyncio.gather(*sends))


async def _rest_sends_until_refused(
    stack: DevStack,
) -> tuple[Counter[int], tuple[dict[str, Any], str] | None]:
    """Clients sending one message after another until one is refused (or 20 s pass)."""
    statuses: Counter[int] = Counter()
    refusals: list[tuple[dict[str, Any], str]] = []
    numbers = iter(range(10_000, 100_000))
    deadline = time.monotonic() + 20

    async def client(http: aiohttp.ClientSession) -> None:
        while not refusals and time.monotonic() < deadline:
            url = "/api/v1/meta-templates/send/"
            async with http.post(url, json=_order(next(numbers))) as answer:
                statuses[answer.status] += 1
                if answer.status == 429:
                    refusals.append((await answer.json(), answer.headers["Retry-After"]))

    headers = {"X-API-Key": stack.api_key}
    async with aiohttp.ClientSession(base_url=stack.base_url, headers=headers) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return statuses, (refusals[0] if refusals else None)


class _GrpcRefusal:
    def __init__(self, error: grpc.aio.AioRpcError, sent: int) -> None:
        details = from_rpc_error(error)
        self.status = error.code()
        self.code = details.code
        self.retry_after_seconds = details.retry_after_seconds
        self.sent = sent


async def _grpc_sends_until_refused(stack: DevStack) -> _GrpcRefusal:
    sent = 0
    refusals: list[grpc.aio.AioRpcError] = []
    numbers = iter(range(100_000, 200_000))
    deadline = time.monotonic() + 20

    async def client(stub: mindo_pb2_grpc.MindoStub) -> None:
        nonlocal sent
        while not refusals and time.monotonic() < deadline:
            request = pb.SendMessageRequest(**_order(next(numbers)))  # type: ignore[arg-type]
            try:
                await stub.SendMessage(request, metadata=_key(stack))
                sent += 1
            except grpc.aio.AioRpcError as error:
                refusals.append(error)

    async with grpc.aio.insecure_channel(stack.grpc) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        await asyncio.gather(*(client(stub) for _ in range(CLIENTS)))
    assert refusals, "the number was never saturated over gRPC"
    return _GrpcRefusal(refusals[0], sent)


def _key(stack: DevStack) -> tuple[tuple[str, str], ...]:
    return (("x-api-key", stack.api_key),)


def _accepted(stack: DevStack) -> list[dict[str, Any]]:
    return [s for s in stack.sandbox_requests() if s["status"] == 200 and s.get("wamid")]


def _recipient(send: dict[str, Any]) -> object:
    body = send["body"]
    return body.get("to") if isinstance(body, dict) else None


def _finished(stack: DevStack, bulk_id: str) -> dict[str, Any] | None:
    bulk: dict[str, Any] = _call(stack, "GET", f"/api/v1/meta-templates/bulk-sends/{bulk_id}/")
    return bulk if bulk["status"] in FINAL else None


def _until(probe: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while (found := probe()) in (None, False):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def _call(stack: DevStack, method: str, path: str, body: object | None = None) -> Any:
    request = urllib.request.Request(
        f"{stack.base_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"X-API-Key": stack.api_key, "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)
