"""SendBulk and WatchBulk over a real gRPC channel: the protobuf recipients are checked as they
arrive (no copy), and a bulk's watchers share one converted snapshot per change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.watch_snapshots import SharedSnapshots
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        yield running


def order(phone: str, order_id: str) -> pb.BulkRecipient:
    return pb.BulkRecipient(phone=phone, variables={"order_id": order_id, "status": "listo"})


async def send_bulk(stack: RealStack, recipients: list[pb.BulkRecipient]) -> pb.SendBulkResponse:
    request = pb.SendBulkRequest(
        phone_number_id=NUMBER, template_name="order_update", recipients=recipients
    )
    response: pb.SendBulkResponse = await stack.stub.SendBulk(request, metadata=stack.metadata())
    return response


async def test_recipients_are_deduplicated_and_stored_with_their_own_variables(
    stack: RealStack,
) -> None:
    response = await send_bulk(
        stack,
        [
            order("+5491112345678", "A-1"),
            order("5491187654321", "B-2"),
            order("+54 9 11 1234-5678", "A-again"),  # the first one, written otherwise
        ],
    )

    assert (response.total_recipients, response.unique_recipients) == (3, 2)
    listed = await stack.stub.ListBulkMessages(
        pb.ListBulkMessagesRequest(bulk_send_id=response.bulk_send_id),
        metadata=stack.metadata(),
    )
    assert [(m.recipient_phone, dict(m.variables_used)) for m in listed.results] == [
        ("+5491112345678", {"order_id": "A-1", "status": "listo"}),
        ("+5491187654321", {"order_id": "B-2", "status": "listo"}),
    ]


async def test_many_watchers_follow_a_bulk_to_its_final_snapshot(stack: RealStack) -> None:
    response = await send_bulk(
        stack, [order(f"+54911{20_000_000 + i}", f"O-{i}") for i in range(30)]
    )
    request = pb.WatchBulkRequest(bulk_send_id=response.bulk_send_id)
    streams = [stack.stub.WatchBulk(request, metadata=stack.metadata()) for _ in range(40)]
    firsts = [await stream.read() for stream in streams]
    await stack.services.bulk_engine.start()

    async def rest(stream: object) -> list[pb.Bulk]:
        shown = []
        while (snapshot := await stream.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
            shown.append(snapshot)
        return shown

    finals = await asyncio.wait_for(asyncio.gather(*(rest(s) for s in streams)), 20)

    assert {first.status for first in firsts} == {"QUEUED"}
    assert all(shown[-1].status == "COMPLETED" for shown in finals)
    assert all(shown[-1].sent_count == 30 for shown in finals)


async def test_one_snapshot_is_converted_once_for_all_its_watchers(stack: RealStack) -> None:
    response = await send_bulk(stack, [order("+5491112345678", "A-1")])
    principal = await stack.services.authenticator.authenticate(stack.api_key, None)
    view = await stack.services.bulk_queries.get(principal, response.bulk_send_id)
    shared = SharedSnapshots()

    first = shared.convert(view)
    again = shared.convert(view)

    assert again is first
    assert (first.id, first.status, first.pending_count) == (response.bulk_send_id, "QUEUED", 1)


async def test_a_new_snapshot_is_converted_anew(stack: RealStack) -> None:
    response = await send_bulk(stack, [order("+5491112345678", "A-1")])
    principal = await stack.services.authenticator.authenticate(stack.api_key, None)
    before = await stack.services.bulk_queries.get(principal, response.bulk_send_id)
    shared = SharedSnapshots()
    shared.convert(before)

    cancelled = await stack.services.bulk_queries.cancel(principal, response.bulk_send_id)

    assert shared.convert(cancelled).status == "CANCELLED"
