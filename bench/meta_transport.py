"""Requests per second, and client CPU per request, of HTTP clients against a fake Graph API.

The fake runs in a separate process so that client and server each get a core. Each case sends
up to ``REQUESTS`` template sends with a fixed number in flight and stops early at
``CASE_SECONDS``, so the whole run stays bounded. It prints figures and asserts nothing.

    (a) plain aiohttp: an ``aiohttp.ClientSession`` posting the JSON bytes, as the gateway did
        before its own client (the reference the ratios compare with)
    (b) httpx's default transport (httpcore)
    (c) httpx over aiohttp (the ``httpx-aiohttp`` package), skipped when not installed
    (d) ``HttpMetaGateway.send_template``, the path Mindo uses: its kept-alive HTTP/1.1 client
        with llhttp's parser (httptools)

Each figure also gives the CPU this process spent per request (``time.process_time`` over the
measured part, in ms). That is the figure that matters more: against a real Graph API the
requests/s of one process are bounded by Meta's latency and the number in flight, while the
CPU per request is what a bulk worker pays on every message, so it decides how many messages
a worker's core can carry and how much is left for everything else the worker does. With
the fake on the same machine, requests/s also depends on what else runs there (see the load).

The aiohttp-based clients get a pool of ``POOL`` connections, as does Mindo's client. httpx's
own transport keeps its default limits (100 connections, 20 kept alive): given the same large
pool it measured slower still (its pool does work per request that grows with the number of
connections).
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
async def aiohttp_session(base_url: str) -> Any:
    """What ``HttpMetaGateway`` did before its own client: one session, a large pool."""
    import aiohttp

    url = f"{base_url}/v21.0/106540352242922/messages"
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    connector = aiohttp.TCPConnector(limit=POOL, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send() -> str:
            body = json.dumps(PAYLOAD, separators=(",", ":")).encode()
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                raw = await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            return _wamid(json.loads(raw))

        yield send


@asynccontextmanager
async def mindo_gateway(base_url: str) -> Any:
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


REFERENCE = "aiohttp ClientSession"
CLIENTS: tuple[tuple[str, ClientFactory, Callable[[], str | None]], ...] = (
    (REFERENCE, aiohttp_session, lambda: None),
    ("httpx (default transport)", httpx_default, lambda: None),
    ("httpx over httpx-aiohttp", httpx_over_aiohttp, _httpx_aiohttp_missing),
    ("HttpMetaGateway (kept-alive, httptools)", mindo_gateway, lambda: None),
)


# --------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True, kw_only=True)
class Figure:
    client: str
    in_flight: int
    requests: int
    seconds: float
    cpu_seconds: float  # this process's CPU over the measured part

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.requests if self.requests else 0.0


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
        started, cpu_started = time.perf_counter(), time.process_time()
        done = await _pump(send, in_flight, REQUESTS, CASE_SECONDS)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    return Figure(client=name, in_flight=in_flight, requests=done, seconds=elapsed, cpu_seconds=cpu)


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


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def table(figures: list[Figure]) -> str:
    """One line per figure; the ratios compare with the aiohttp reference at the same number
    in flight (req/s: higher is better; CPU per request: lower is better)."""
    reference = {f.in_flight: f for f in figures if f.client == REFERENCE}
    lines = [
        f"{'client':<40} {'in flight':>9} {'requests':>9} {'req/s':>9} {'vs aiohttp':>10} "
        f"{'CPU ms/req':>10} {'vs aiohttp':>10}",
    ]
    for f in figures:
        base = reference.get(f.in_flight)
        rate = _ratio(f.per_second, base.per_second if base else None)
        cpu = _ratio(f.cpu_ms_per_request, base.cpu_ms_per_request if base else None)
        lines.append(
            f"{f.client:<40} {f.in_flight:>9} {f.requests:>9} {f.per_second:>9,.0f} {rate:>10} "
            f"{f.cpu_ms_per_request:>10.3f} {cpu:>10}"
        )
    return "\n".join(lines)


def run() -> None:
    print(
        f"== meta_transport: template sends/s and client CPU per send against a fake Graph API "
        f"in another process "
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
