"""The bridge's connection limits, tested with raw sockets: a connection that does not finish
its request head within the header timeout is dropped (slowloris), a head with too many or too
long headers is refused, and a client within the limits is served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import pytest

from rest_bridge import RunningBridge, start_bridge
from rest_bridge.app import ConnectionLimits

# Short, so the test is quick; the default is 5 s (docs/operations.md).
TIMEOUT = 0.5
LIMITS = ConnectionLimits(header_timeout_seconds=TIMEOUT)
HEAD = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: bridge\r\n"


@pytest.fixture
async def limited(grpc_target: str) -> AsyncIterator[RunningBridge]:
    running = await start_bridge(grpc_target, "127.0.0.1", 0, limits=LIMITS)
    yield running
    await running.stop()


@asynccontextmanager
async def connection(
    bridge: RunningBridge,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", bridge.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()


async def closed_after(reader: asyncio.StreamReader, *, within: float) -> bytes:
    """Everything the bridge sent until it closed the connection; TimeoutError if it kept the
    connection open for ``within`` seconds."""
    return await asyncio.wait_for(reader.read(), timeout=within)


async def test_half_a_header_is_dropped_within_the_header_timeout(limited: RunningBridge) -> None:
    async with connection(limited) as (reader, writer):
        writer.write(HEAD + b"X-API-Key: mindo_")
        await writer.drain()

        received = await closed_after(reader, within=TIMEOUT * 6)

    assert received == b""


async def test_dribbling_bytes_does_not_keep_a_connection_open(limited: RunningBridge) -> None:
    async with connection(limited) as (reader, writer):

        async def dribble() -> None:
            for header in range(100):
                writer.write(f"X-Slow-{header}: y\r\n".encode() if header else HEAD)
                await writer.drain()
                await asyncio.sleep(TIMEOUT / 5)

        dribbling = asyncio.create_task(dribble())
        received = await closed_after(reader, within=TIMEOUT * 6)
        dribbling.cancel()
        with suppress(asyncio.CancelledError, ConnectionError):
            await dribbling

    assert received == b""


async def test_a_complete_head_in_time_is_served_and_the_connection_kept(
    limited: RunningBridge,
) -> None:
    async with connection(limited) as (reader, writer):
        for _ in range(2):
            writer.write(HEAD + b"\r\n")
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), timeout=5)
            assert status.startswith(b"HTTP/1.1 200")
            await asyncio.wait_for(_drain_body(reader), 5)


async def _drain_body(reader: asyncio.StreamReader) -> None:
    length = 0
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)


@pytest.mark.parametrize(
    "head",
    [
        HEAD + b"".join(f"X-Many-{n}: y\r\n".encode() for n in range(65)) + b"\r\n",
        HEAD + b"X-Long: " + b"y" * 9000 + b"\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: bridge\r\n\r\n",
    ],
    ids=["65 headers", "a 9,000-byte header", "a 9,000-byte request line"],
)
async def test_a_head_over_the_limits_is_refused_and_closed(
    limited: RunningBridge, head: bytes
) -> None:
    async with connection(limited) as (reader, writer):
        writer.write(head)
        await writer.drain()
        received = await closed_after(reader, within=5)

    # aiohttp's own answer, in plain text: the head never reached the application.
    assert received.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    assert len(received) < 1_000


def test_the_default_limits_are_the_documented_ones() -> None:
    assert ConnectionLimits().handler_args() == {
        "keepalive_timeout": 5.0,
        "max_line_size": 8190,
        "max_field_size": 8190,
        "max_headers": 64,
    }
