"""A real gRPC server with a fake Mindo behind it, the real bridge in front, and an HTTP client."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from rest_bridge import RunningBridge, start_bridge

from .fake_mindo import GOOD_KEY, FakeMindo

SEND_PATH = "/api/v1/meta-templates/send/"


@pytest.fixture
def fake() -> FakeMindo:
    # Only what the bridge calls is overridden; the rest keep the generated UNIMPLEMENTED.
    return FakeMindo()  # type: ignore[abstract]


@pytest.fixture
async def grpc_target(fake: FakeMindo) -> AsyncIterator[str]:
    server = grpc.aio.server()
    mindo_pb2_grpc.add_MindoServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


@pytest.fixture
async def bridge(grpc_target: str) -> AsyncIterator[RunningBridge]:
    running = await start_bridge(grpc_target, "127.0.0.1", 0)
    yield running
    await running.stop()


@pytest.fixture
def dead_target() -> str:
    """A loopback port nobody listens on: the service is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
async def http(bridge: RunningBridge) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=bridge.url) as session:
        yield session


@pytest.fixture
def valid_body() -> dict[str, object]:
    return {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "language": "es",
        "recipient_phone": "+5491112345678",
        "variables": {"name": "Juan Perez", "code": "ABC123"},
        "button_variables": {"button_0": "ABC-123"},
    }


Answer = tuple[int, Mapping[str, str], Any]
Post = Callable[..., Awaitable[Answer]]


@pytest.fixture
def post(http: aiohttp.ClientSession) -> Post:
    """POSTs to the send endpoint: ``body`` as JSON, or ``raw`` bytes as they are."""

    async def send(
        body: object = None,
        *,
        raw: bytes | AsyncIterable[bytes] | None = None,
        key: str | None = GOOD_KEY,
        headers: Mapping[str, str] | None = None,
        path: str = SEND_PATH,
    ) -> Answer:
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent_headers["X-API-Key"] = key
        data = _payload(body, raw)
        async with http.post(path, data=data, headers=sent_headers) as response:
            assert response.content_type == "application/json"
            return response.status, response.headers, await response.json()

    return send


def _payload(body: object, raw: bytes | AsyncIterable[bytes] | None) -> object:
    if raw is None:
        raw = json.dumps(body).encode()
    # A file-like body streams without blocking the loop, however large.
    return io.BytesIO(raw) if isinstance(raw, bytes) else raw
