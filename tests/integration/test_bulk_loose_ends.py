"""The engine's loose ends over the real stack: a pacing outside the number's range is refused
(REST and gRPC) and nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        yield running


def order_bulk(pacing: str) -> pb.SendBulkRequest:
    recipient = pb.BulkRecipient(
        phone="+5491150000001", variables={"order_id": "ORD-1", "status": "listo"}
    )
    return pb.SendBulkRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipients=[recipient],
        pacing=pacing,
    )


@pytest.mark.parametrize("pacing", ["1e-300", "0.001", "81", "100000"])
async def test_a_pacing_outside_the_numbers_range_is_a_400_with_the_range(
    stack: RealStack, pacing: str
) -> None:
    body = {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipients": [{"phone": "+5491150000001", "variables": {"order_id": "1", "status": "x"}}],
        "pacing": pacing,
    }
    url = f"{stack.bridge.url}/api/v1/meta-templates/send-bulk/"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"X-API-Key": stack.api_key}) as answer,
    ):
        assert answer.status == 400
        refused = await answer.json()

    assert list(refused) == ["pacing"]
    [message] = refused["pacing"]
    assert "between 0.01 and 80 (this number's throughput)" in message

    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stack.stub.SendBulk(order_bulk(pacing), metadata=stack.metadata())
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    listed = await stack.stub.ListBulks(pb.ListBulksRequest(), metadata=stack.metadata())
    assert listed.count == 0


async def test_the_bounds_themselves_are_accepted(stack: RealStack) -> None:
    for pacing in ("0.01", "80"):
        accepted = await stack.stub.SendBulk(order_bulk(pacing), metadata=stack.metadata())
        assert accepted.status == "queued"
