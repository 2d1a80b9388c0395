"""Account events over the real stack are applied only when newer: a template PAUSED posted
again (Meta retries and duplicates) after its REINSTATED, signed and over HTTP to the REST
bridge, leaves the template sendable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from tests.integration.real_stack import APP_SECRET, RealStack, real_stack
from tests.webhook_bodies import signed, template_status_body

NUMBER = "813497231850626"
WABA = "104996122399160"
PAUSED_AT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        yield running


async def meta_posts(stack: RealStack, body: bytes) -> None:
    headers = {"X-Hub-Signature-256": signed(body, APP_SECRET)}
    url = f"{stack.bridge.url}/webhooks/meta"
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        assert r.status == 200, await r.text()


def welcome(event: str, at: datetime) -> bytes:
    return template_status_body(WABA, "1", "welcome_message", "es", event, at=at)


async def send(stack: RealStack) -> pb.SendMessageResponse:
    request = pb.SendMessageRequest(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone="+5491112345678",
        variables={"name": "Juan Perez", "code": "ABC123"},
        button_variables={"button_0": "ABC-123"},
    )
    reply: pb.SendMessageResponse = await stack.stub.SendMessage(request, metadata=stack.metadata())
    return reply


async def test_a_pause_replayed_after_the_reinstatement_does_not_pause_again(
    stack: RealStack,
) -> None:
    paused = welcome("PAUSED", PAUSED_AT)
    await meta_posts(stack, paused)
    with pytest.raises(grpc.aio.AioRpcError):
        await send(stack)  # paused: refused before Meta
    await meta_posts(stack, welcome("REINSTATED", PAUSED_AT + timedelta(minutes=10)))

    await meta_posts(stack, paused)

    assert (await send(stack)).message_id
