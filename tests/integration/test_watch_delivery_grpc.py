"""WatchBulk with follow_delivery and WatchBulks over the real stack: the engine sends to the
sandbox over HTTP, the sandbox posts signed status webhooks to the REST bridge, the bridge hands
them to the service over gRPC, a SQLite file holds it all, and the streams are read over a real
gRPC channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from mindo_sandbox.webhook_config import StatusDelays
from tests.integration.real_stack import RealStack, delivering_stack

NUMBER = "813497231850626"
RECIPIENTS = 40
FAILING = {3: 131026, 17: 131026}  # positions whose delivery Meta fails
# Reads come well after the last send (40 at the sandbox's pace take far less than a second).
DELAYS = StatusDelays(sent=(1.0, 5.0), delivered=(200.0, 600.0), read=(1500.0, 2500.0))


def phone(position: int) -> str:
    return f"+5491171{position:06d}"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    failures = {phone(p): code for p, code in FAILING.items()}
    async with delivering_stack(tmp_path, delays=DELAYS, failures=failures) as running:
        yield running


async def send_bulk(stack: RealStack) -> str:
    request = pb.SendBulkRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipients=[
            pb.BulkRecipient(phone=phone(p), variables={"order_id": f"O{p}", "status": "ok"})
            for p in range(RECIPIENTS)
        ],
        pacing="max",
    )
    answer = await stack.stub.SendBulk(request, metadata=stack.metadata())
    return str(answer.bulk_send_id)


async def read_all(stream: object) -> list[pb.Bulk]:
    shown: list[pb.Bulk] = []
    while (snapshot := await stream.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
        shown.append(snapshot)
    return shown


async def test_follow_delivery_streams_until_every_message_is_read_or_failed(
    stack: RealStack,
) -> None:
    bulk_id = await send_bulk(stack)
    request = pb.WatchBulkRequest(bulk_send_id=bulk_id, follow_delivery=True)

    shown = await asyncio.wait_for(
        read_all(stack.stub.WatchBulk(request, metadata=stack.metadata())), 60
    )

    final = shown[-1]
    assert final.read_count == RECIPIENTS - len(FAILING)
    assert final.failed_count == len(FAILING)
    assert final.sent_count == final.read_count == final.delivered_count
    assert final.status == "PARTIAL"
    # Sending ended before delivery did: the stream went on past the end of sending.
    ended = next(
        i for i, b in enumerate(shown) if b.pending_count == 0 and b.status != "PROCESSING"
    )
    assert shown[ended].read_count < final.read_count
    assert [b.read_count for b in shown] == sorted(b.read_count for b in shown)


async def test_a_follow_delivery_bound_out_of_range_is_invalid_argument(stack: RealStack) -> None:
    request = pb.WatchBulkRequest(
        bulk_send_id="a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c",
        follow_delivery=True,
        follow_delivery_timeout_seconds=7 * 24 * 3600 + 1,
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await read_all(stack.stub.WatchBulk(request, metadata=stack.metadata()))

    details = from_rpc_error(refused.value)
    assert details.status == grpc.StatusCode.INVALID_ARGUMENT
    assert "follow_delivery_timeout_seconds" in details.message


async def test_watch_bulks_shows_a_new_bulk_from_submission_to_its_last_read(
    stack: RealStack,
) -> None:
    stream = stack.stub.WatchBulks(pb.WatchBulksRequest(), metadata=stack.metadata())
    first = await asyncio.wait_for(stream.read(), 10)
    bulk_id = await send_bulk(stack)

    seen: list[pb.Bulk] = []
    async with asyncio.timeout(60):
        while not seen or seen[-1].read_count < RECIPIENTS - len(FAILING):
            change = await stream.read()
            assert not change.initial
            seen += [bulk for bulk in change.bulks if bulk.id == bulk_id]
    stream.cancel()

    assert (first.initial, list(first.bulks)) == (True, [])
    # Changes are coalesced (newest wins): the engine may have started it before it showed.
    assert seen[0].status in ("QUEUED", "PROCESSING")
    assert seen[-1].status == "PARTIAL"
    assert [b.read_count for b in seen] == sorted(b.read_count for b in seen)
    assert seen[-1].template.template_name == "order_update"


async def test_watch_bulks_needs_a_valid_key(stack: RealStack) -> None:
    stream = stack.stub.WatchBulks(
        pb.WatchBulksRequest(), metadata=stack.metadata("mindo_000000000000000000000000")
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stream.read()

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
