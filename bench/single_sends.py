"""Single sends under concurrent clients: sends/s, latency and CPU per send, over gRPC, beside a
bare aiohttp loop to the same sandbox in the same run.

The sandbox runs in a process of its own (``--latency-ms 50-150``, a throughput no case
reaches); the service (real wiring, a SQLite file) and its clients share this process, so the
CPU per send counted here is the service's *and* its clients' (an upper bound on the service's).
Every send goes to a recipient of its own (no pair-rate limit is met).

Cases:

* ``bare aiohttp``: the clients post the same Graph API request straight to the sandbox with
  aiohttp (the floor: what the network and the sandbox allow);
* ``gRPC, unlimited tier``: ``SendMessage`` with no quota to count;
* ``gRPC, TIER_100K``: the same with the organisation's 24 h quota counted (the window grows
  as the run sends);
* ``gRPC, TIER_100K, PostgreSQL``: the same on a fresh PostgreSQL database
  (``MINDO_BENCH_POSTGRES_URL``, else ``MINDO_TEST_POSTGRES_URL``; skipped without either),
  where the quota's decisions are shared by every process (``adapters.sql.quota_ledger``);
* ``REST, unlimited tier``: ``POST /api/v1/meta-templates/send/`` through the REST bridge
  (in this process too) to the same service.

``BENCH_SINGLE_CLIENTS`` (200) clients, ``BENCH_SINGLE_SECONDS`` (8) per case.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import grpc

from bench.grpc_stack import DEMO_NUMBER, bench_stack
from bench.postgres_database import fresh_database, postgres_server
from bench.sandbox_process import SandboxProcess
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc

CLIENTS = int(os.environ.get("BENCH_SINGLE_CLIENTS", "200"))
SECONDS = float(os.environ.get("BENCH_SINGLE_SECONDS", "8"))
LATENCY = "50-150"
TOKEN = "sandbox-demo-token"  # the demo account's, in the sandbox's demo.json


@dataclass(frozen=True)
class Figures:
    sends: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float

    def row(self, name: str) -> str:
        ordered = sorted(self.latencies) or [0.0]
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        rate = self.sends / self.seconds
        cpu_ms = self.cpu_seconds * 1000 / max(1, self.sends)
        return f"{name:<24} {rate:>8.0f} {p50:>8.0f} {p99:>8.0f} {cpu_ms:>9.2f} {self.errors:>7}"


Send = Callable[[int], Awaitable[None]]


async def _drive(send: Send) -> Figures:
    """``CLIENTS`` loops, each sending (recipient n) one after another for ``SECONDS``."""
    numbers = itertools.count()
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + SECONDS

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                await send(next(numbers))
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    cpu_before, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    return Figures(
        sends=len(latencies),
        errors=errors,
        seconds=elapsed,
        latencies=latencies,
        cpu_seconds=time.process_time() - cpu_before,
    )


def _recipient(n: int) -> str:
    return f"+54911{n:08d}"


async def _bare(sandbox_url: str) -> Figures:
    url = f"{sandbox_url}/v21.0/{DEMO_NUMBER}/messages"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(n: int) -> None:
            payload = {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": _recipient(n).removeprefix("+"),
                "type": "template",
                "template": {
                    "name": "order_update",
                    "language": {"code": "es"},
                    "components": [
                        {
                            "type": "body",
                            "parameters": [
                                {"type": "text", "parameter_name": "order_id", "text": "A1"},
                                {"type": "text", "parameter_name": "status", "text": "listo"},
                            ],
                        }
                    ],
                },
            }
            async with session.post(url, json=payload, headers=headers) as answer:
                await answer.read()
                answer.raise_for_status()

        return await _drive(send)


async def _grpc(sandbox: SandboxProcess, tier: str, database_url: str | None = None) -> Figures:
    await sandbox.patch_number(DEMO_NUMBER, {"whatsapp_business_manager_messaging_limit": tier})
    async with bench_stack(meta_url=sandbox.url, database_url=database_url) as stack:
        channel = grpc.aio.insecure_channel(stack.server.target)
        stub = mindo_pb2_grpc.MindoStub(channel)
        metadata = stack.metadata

        async def send(n: int) -> None:
            request = pb.SendMessageRequest(
                phone_number_id=DEMO_NUMBER,
                template_name="order_update",
                recipient_phone=_recipient(n),
                variables={"order_id": "A1", "status": "listo"},
            )
            await stub.SendMessage(request, metadata=metadata)

        try:
            return await _drive(send)
        finally:
            await channel.close()


async def _rest(sandbox: SandboxProcess) -> Figures:
    from rest_bridge import start_bridge

    await sandbox.patch_number(
        DEMO_NUMBER, {"whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED"}
    )
    async with bench_stack(meta_url=sandbox.url) as stack:
        bridge = await start_bridge(stack.server.target, "127.0.0.1", 0)
        headers = {"X-API-Key": stack.api_key}
        connector = aiohttp.TCPConnector(limit=512)
        try:
            async with aiohttp.ClientSession(bridge.url, connector=connector) as session:

                async def send(n: int) -> None:
                    body = {
                        "phone_number_id": DEMO_NUMBER,
                        "template_name": "order_update",
                        "recipient_phone": _recipient(n),
                        "variables": {"order_id": "A1", "status": "listo"},
                    }
                    path = "/api/v1/meta-templates/send/"
                    async with session.post(path, json=body, headers=headers) as answer:
                        await answer.read()
                        answer.raise_for_status()

                return await _drive(send)
        finally:
            await bridge.stop()


def run() -> None:
    load = os.getloadavg()
    print(
        f"single sends: {CLIENTS} concurrent clients, {SECONDS:.0f} s per case, the sandbox in "
        f"another process answering in {LATENCY} ms (load average {load[0]:.2f} at start)"
    )
    print(
        f"{'case':<24} {'sends/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/send':>9} {'errors':>7}"
    )
    sandbox = SandboxProcess.start("--mps", "100000", "--latency-ms", LATENCY)
    try:
        print(asyncio.run(_bare(sandbox.url)).row("bare aiohttp"))
        print(asyncio.run(_grpc(sandbox, "TIER_UNLIMITED")).row("gRPC, unlimited tier"))
        print(asyncio.run(_grpc(sandbox, "TIER_100K")).row("gRPC, TIER_100K"))
        if server := postgres_server():
            with fresh_database(server) as url:
                figures = asyncio.run(_grpc(sandbox, "TIER_100K", url))
            print(figures.row("gRPC, TIER_100K, PG"))
        print(asyncio.run(_rest(sandbox)).row("REST, unlimited tier"))
    finally:
        sandbox.stop()
