"""The gRPC deadline end to end: a SendMessage's call to Meta is cut when the client stops
waiting (not at the service's own 2 s Meta timeout), and a call whose deadline has passed
never reaches Meta."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_sandbox.faults import FaultConfig
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"
ORDER = pb.SendMessageRequest(
    phone_number_id=NUMBER,
    template_name="order_update",
    recipient_phone="+5491112345678",
    variables={"order_id": "ORD-1", "status": "listo"},
)


def sends_seen(stack: RealStack) -> int:
    recorded = stack.sandbox.state.recorder.all()
    return sum(1 for r in recorded if r.method == "POST" and r.path.endswith("/messages"))


async def test_the_call_to_meta_ends_with_the_clients_deadline(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:  # Meta timeout: 2 s
        stack.sandbox.state.set_faults(FaultConfig(latency_ms=(1_500.0, 1_500.0)))

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.stub.SendMessage(ORDER, metadata=stack.metadata(), timeout=0.8)
        # Long enough for the sandbox to have answered the send, had the service waited.
        await asyncio.sleep(2.5)

        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        if sends_seen(stack) == 0:  # a loaded machine: the deadline passed before Meta's turn
            assert stack.message_rows() == []
            return
        # The service gave up on Meta with the client, before the sandbox's answer at 1.5 s
        # (which its own 2 s timeout would have waited for): no wamid, an unknown outcome.
        ((wamid, status, _),) = stack.message_rows()
        assert (wamid, status) == (None, "failed")


async def test_a_call_whose_deadline_has_passed_never_reaches_meta(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.stub.SendMessage(ORDER, metadata=stack.metadata(), timeout=0.001)
        await asyncio.sleep(0.3)

        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert sends_seen(stack) == 0
        assert stack.message_rows() == []
