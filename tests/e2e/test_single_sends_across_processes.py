"""Single sends from API processes that do not send the number's bulks, on PostgreSQL with real
processes (two `mindo serve --no-engine`, one `mindo worker`, the sandbox refusing beyond 100
messages a second on a number Mindo paces at 80: room for a loaded machine's late sends): while
the worker sends a bulk at the cap, single sends through an API process get their slots from
the worker and all go; once the number is free, single sends through both API processes at once
share its slots in the database, those it cannot take in time refused before Meta; Meta never
answers 130429."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from mindo_grpc.status_details import from_rpc_error
from tests.e2e.cluster import KEY, NUMBERS, Cluster, wait_until
from tests.e2e.stack import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NUMBER = NUMBERS[0]
BULK_RECIPIENTS = 480  # about six seconds at the cap
SINGLE_SENDS = 90  # 30 a second for three seconds: with the bulk, beyond the sandbox's 100/s
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
METADATA = (("x-api-key", KEY),)


def test_single_sends_from_other_processes_share_the_number_with_its_worker(
    cluster: Cluster,
) -> None:
    second_api = _start(cluster)
    bulk_id = asyncio.run(_submit_bulk(cluster.grpc_address))
    wait_until(lambda: NUMBER in cluster.owners() or None)
    wait_until(lambda: len(_accepted(cluster)) >= 80 or None)

    answers = asyncio.run(_single_sends(second_api, SINGLE_SENDS, per_second=30))
    bulk = asyncio.run(_until_final(cluster.grpc_address, bulk_id))

    assert [a for a in answers if not isinstance(a, pb.SendMessageResponse)] == []
    assert (bulk.status, bulk.sent_count) == ("COMPLETED", BULK_RECIPIENTS)
    _assert_never_too_fast_and_never_twice(cluster)
    assert len(_accepted(cluster)) == BULK_RECIPIENTS + SINGLE_SENDS

    # The bulk is over: the worker lets the number go, and both API processes pace it.
    wait_until(lambda: NUMBER not in cluster.owners() or None)
    before = len(_accepted(cluster))
    burst = asyncio.run(_burst(cluster.grpc_address, second_api, per_process=100))

    # As many as the number takes in the time went (how many depends on the machine's speed),
    # the others were refused before Meta: never another error, never a 130429.
    assert {r.code for r in burst.refusals} <= {"number_at_capacity"}
    assert all(r.retry_after_seconds is not None for r in burst.refusals)
    assert burst.sent + len(burst.refusals) == 200
    assert len(_accepted(cluster)) - before == burst.sent
    _assert_never_too_fast_and_never_twice(cluster)


def _start(cluster: Cluster) -> str:
    """The sandbox, two API processes and one worker; the second API process's address. A
    single send waits at most 0.2 s for its slot: a few dozen clients saturate the number."""
    cluster.env["MINDO_SEND_SLOT_WAIT_S"] = "0.2"
    host, port = cluster.sandbox.rsplit(":", 1)
    sandbox = ["sandbox", "--host", host, "--port", port, "--mps", "100"]
    cluster.start([*sandbox, "--config", str(cluster.config)])
    cluster.start(["serve", "--no-engine", "--demo"])
    cluster.wait_for("Mindo is ready")
    second_api = f"127.0.0.1:{free_port()}"
    cluster.start(["serve", "--no-engine"], MINDO_GRPC_ADDRESS=second_api)
    cluster.wait_for(f"gRPC service listening on {second_api}")
    cluster.start(["worker"])
    cluster.wait_for("Bulk engine started as worker")
    return second_api


def _phone(i: int) -> str:
    return f"+54911{7000_0000 + i}"


def _order(i: int) -> pb.SendMessageRequest:
    return pb.SendMessageRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipient_phone=_phone(i),
        variables={"order_id": f"ORD-{i}", "status": "listo"},
    )


async def _submit_bulk(address: str) -> str:
    recipients = [
        pb.BulkRecipient(phone=_phone(i), variables={"order_id": f"ORD-{i}", "status": "listo"})
        for i in range(BULK_RECIPIENTS)
    ]
    request = pb.SendBulkRequest(
        phone_number_id=NUMBER, template_name="order_update", recipients=recipients
    )
    async with grpc.aio.insecure_channel(address) as channel:
        accepted = await mindo_pb2_grpc.MindoStub(channel).SendBulk(request, metadata=METADATA)
    return str(accepted.bulk_send_id)


async def _single_sends(address: str, count: int, *, per_second: float) -> list[Any]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        sends = []
        for i in range(count):
            call = stub.SendMessage(_order(BULK_RECIPIENTS + i), metadata=METADATA)
            sends.append(asyncio.ensure_future(call))
            await asyncio.sleep(1 / per_second)
        return list(await asyncio.gather(*sends, return_exceptions=True))


class _Refusal:
    def __init__(self, error: grpc.aio.AioRpcError) -> None:
        details = from_rpc_error(error)
        self.code = details.code
        self.retry_after_seconds = details.retry_after_seconds


class _Outcome:
    def __init__(self) -> None:
        self.sent = 0
        self.refusals: list[_Refusal] = []


async def _burst(*addresses: str, per_process: int) -> _Outcome:
    """``per_process`` single sends at once through each API process."""
    outcome = _Outcome()
    numbers = iter(range(10_000, 100_000))

    async def send(stub: mindo_pb2_grpc.MindoStub) -> None:
        try:
            await stub.SendMessage(_order(next(numbers)), metadata=METADATA)
            outcome.sent += 1
        except grpc.aio.AioRpcError as error:
            outcome.refusals.append(_Refusal(error))

    channels = [grpc.aio.insecure_channel(address) for address in addresses]
    try:
        stubs = [mindo_pb2_grpc.MindoStub(channel) for channel in channels]
        await asyncio.gather(*(send(stub) for stub in stubs for _ in range(per_process)))
    finally:
        for channel in channels:
            await channel.close()
    return outcome


async def _until_final(address: str, bulk_id: str) -> pb.Bulk:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        async with asyncio.timeout(60):
            while True:
                bulk = await stub.GetBulk(
                    pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=METADATA
                )
                if bulk.status in FINAL:
                    return bulk
                await asyncio.sleep(0.25)


def _accepted(cluster: Cluster) -> list[dict[str, object]]:
    return [s for s in cluster.sandbox_sends() if s["status"] == 200]


def _assert_never_too_fast_and_never_twice(cluster: Cluster) -> None:
    sends = cluster.sandbox_sends()
    assert [s["error_code"] for s in sends if s["error_code"] is not None] == []
    recipients = Counter(
        s["body"].get("to") for s in sends if s["status"] == 200 and isinstance(s["body"], dict)
    )
    assert set(recipients.values()) == {1}
