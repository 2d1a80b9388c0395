"""Requests per second of three HTTP client transports against a fake Graph API.

The fake runs in a separate process so that client and server each get a core. Each case sends
up to ``REQUESTS`` template sends with a fixed number in flight and stops early at
``CASE_SECONDS``, so the whole run stays bounded. It prints figures and asserts nothing.

    (a) httpx's default transport (httpcore)
    (b) httpx over aiohttp (the ``httpx-aiohttp`` package), skipped when not installed
    (c) plain aiohttp: ``HttpMetaGateway.send_template``, the path Mindo actually uses

The aiohttp-based clients get a pool of ``POOL`` connections. httpx's own transport keeps its
default limits (100 connections, 20 kept alive): given the same large pool it measured slower
still (its pool does work per request that grows with the number of connections).
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

REQUESTS = int(os.environ.get("BENCH_META_REQUESTS", "5000"))
CASE_SECONDS = float(os.environ.get("BENCH_META_CASE_SECONDS", "4"))
WARM_UP_SECONDS = 10.0
IN_FLIGHT = (1, 64, 256)
POOL = 512
TOKEN = "bench-token"
PAYLOAD: dict[str, Any] = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "16505551234",
    "type": "template",
    "template": {"name": "order_update", "language": {"code": "en_US"}},
}
SUCCESS = json.dumps(
    {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
        "messages": [{"id": "wamid.BENCH", "message_status": "accepted"}],
    }
).encode()

Send = Callable[[], Awaitable[str]]
ClientFactory = Callable[[str], AbstractAsyncContextManager[Send]]


# --------------------------------------------------------------------------------------------
# The fake Graph API, in its own process


def _serve(ready: Connection) -> None:
    # A client cancelled at the end of a case drops its connections; that is not news.
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    asyncio.run(_serve_forever(ready))


async def _serve_forever(ready: Connection) -> None:
    from aiohttp import web

    async def messages(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=SUCCESS, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{version}/{phone_number_id}/messages", messages)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    ready.send(runner.addresses[0][1])
    await asyncio.Event().wait()


@dataclass
class FakeMetaProcess:
    process: multiprocessing.process.BaseProcess
    base_url: str

    @classmethod
    def start(cls) -> FakeMetaProcess:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_serve, args=(sender,), daemon=True)
        process.start()
        if not receiver.poll(30):
            process.terminate()
            raise RuntimeError("the fake Graph API did not start")
        return cls(process=process, base_url=f"http://127.0.0.1:{receiver.recv()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


# --------------------------------------------------------------------------------------------
# The clients


def _wamid(document: Any) -> str:
    return str(document["messages"][0]["id"])


@asynccontextmanager
async def _httpx_client(base_url: str, transport: Any = None) -> Any:
    import httpx

    url = f"{base_url}/v21.0/106540352242922/messages"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=30, transport=transport) as client:

        async def send() -> str:
            response = await client.post(url, json=PAYLOAD, headers=headers)
            response.raise_for_status()
            return _wamid(response.json())

        yield send


def httpx_default(base_url: str) -> AbstractAsyncContextManager[Send]:
    return _httpx_client(base_url)


def httpx_over_aiohttp(base_url: str) -> AbstractAsyncContextManager[Send]:
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
    return _httpx_client(base_url, AiohttpTransport(limits=limits))


@asynccontextmanager
async def aiohttp_gateway(base_url: str) -> Any:
    from mindo_core.adapters.meta import HttpMetaGateway

    gateway = HttpMetaGateway(base_url=base_url, max_connections=POOL)

    async def send() -> str:
        result = await gateway.send_template(
            phone_number_id="106540352242922", access_token=TOKEN, payload=PAYLOAD
        )
        return result.wamid

    try:
        yield send
    finally:
        await gateway.close()


def _httpx_aiohttp_missing() -> str | None:
    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        return "httpx-aiohttp is not installed (pip install httpx-aiohttp)"
    return None


CLIENTS: tuple[tuple[str, ClientFactory, Callable[[], str | None]], ...] = (
    ("httpx (default transport)", httpx_default, lambda: None),
    ("httpx over httpx-aiohttp", httpx_over_aiohttp, _httpx_aiohttp_missing),
    ("aiohttp (HttpMetaGateway)", aiohttp_gateway, lambda: None),
)


# --------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True, kw_only=True)
class Figure:
    client: str
    in_flight: int
    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _pump(send: Send, in_flight: int, requests: int, seconds: float) -> int:
    """Completed sends: ``requests`` of them, or as many as finished within ``seconds`` (those
    still in flight then are cancelled, so a slow transport cannot stretch the run)."""
    remaining = requests
    done = 0

    async def worker() -> None:
        nonlocal remaining, done
        while remaining > 0:
            remaining -= 1
            await send()
            done += 1

    try:
        async with asyncio.timeout(seconds):
            await asyncio.gather(*(worker() for _ in range(in_flight)))
    except TimeoutError:
        pass
    return done


async def measure(name: str, factory: ClientFactory, base_url: str, in_flight: int) -> Figure:
    async with factory(base_url) as send:
        # Opening the connections is not what is measured.
        await _pump(send, in_flight, in_flight, WARM_UP_SECONDS)
        started = time.perf_counter()
        done = await _pump(send, in_flight, REQUESTS, CASE_SECONDS)
        elapsed = time.perf_counter() - started
    return Figure(client=name, in_flight=in_flight, requests=done, seconds=elapsed)


async def measure_all(base_url: str) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    notes: list[str] = []
    for name, factory, missing in CLIENTS:
        reason = missing()
        if reason is not None:
            notes.append(f"skipped {name}: {reason}")
            continue
        for in_flight in IN_FLIGHT:
            figures.append(await measure(name, factory, base_url, in_flight))
    return figures, notes


def table(figures: list[Figure]) -> str:
    reference = {f.in_flight: f.per_second for f in figures if f.client.startswith("aiohttp")}
    lines = [
        f"{'client':<30} {'in flight':>9} {'requests':>9} {'req/s':>9} {'vs aiohttp':>11}",
    ]
    for f in figures:
        base = reference.get(f.in_flight)
        ratio = f"{f.per_second / base:.2f}x" if base else "-"
        lines.append(
            f"{f.client:<30} {f.in_flight:>9} {f.requests:>9} {f.per_second:>9,.0f} {ratio:>11}"
        )
    return "\n".join(lines)


def run() -> None:
    print(
        f"== meta_transport: template sends/s against a fake Graph API in another process "
        f"(up to {REQUESTS} requests or {CASE_SECONDS:g} s per case, {os.cpu_count()} CPUs)"
    )
    server = FakeMetaProcess.start()
    try:
        figures, notes = asyncio.run(measure_all(server.base_url))
    finally:
        server.stop()
    print(table(figures))
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    run()
