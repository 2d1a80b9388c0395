"""Single sends under concurrent clients: sends/s, latency and the service's CPU per send, over
gRPC and REST, beside a bare aiohttp loop to the same sandbox in the same run.

Each part runs in a process of its own: the sandbox (``--latency-ms 50-150``, a throughput no
case reaches), the real service (``mindo serve --demo`` over a fresh SQLite file or PostgreSQL
database, every number's throughput fixed high: ``bench.service_process``), the REST bridge
(``mindo bridge``) for the REST case; the clients run in this process. *service ms/send* is the
service process's CPU (utime + stime from ``/proc``) over the timed window divided by the sends
answered; *bridge* and *clients* the same for the bridge and this process. Every send goes to a
recipient of its own (no pair-rate limit is met).

Cases:

* ``bare aiohttp``: the clients post the same Graph API request straight to the sandbox with
  aiohttp (the floor: what the network and the sandbox allow);
* ``gRPC, unlimited tier``: ``SendMessage`` with no quota to count;
* ``gRPC, TIER_100K``: the same with the organisation's 24 h quota counted (the window grows
  as the run sends);
* ``gRPC, TIER_100K, PostgreSQL``: the same on a fresh PostgreSQL database
  (``MINDO_BENCH_POSTGRES_URL``, else ``MINDO_TEST_POSTGRES_URL``; skipped without either),
  where the quota's decisions are shared by every process (``adapters.sql.quota_ledger``);
* ``REST, unlimited tier``: ``POST /api/v1/meta-templates/send/`` through the REST bridge to
  the same service.

``BENCH_SINGLE_CLIENTS`` (200) clients, ``BENCH_SINGLE_SECONDS`` (8) per case,
``BENCH_SINGLE_CASES`` (all) a comma-separated subset of ``bare,grpc,tier,pg,rest``.
``BENCH_SINGLE_BASELINE``: another checkout of Mindo (``git worktree add DIR COMMIT``, then
``make proto`` in it); each case then runs from it too, just before this one's, in a row marked
``(baseline)``: a change and what came before it, measured at the same load.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc

from bench.grpc_stack import DEMO_NUMBER
from bench.postgres_database import fresh_database, postgres_server
from bench.sandbox_process import SandboxProcess
from bench.service_process import BridgeProcess, ServiceProcess
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc

CLIENTS = int(os.environ.get("BENCH_SINGLE_CLIENTS", "200"))
SECONDS = float(os.environ.get("BENCH_SINGLE_SECONDS", "8"))
CASES = os.environ.get("BENCH_SINGLE_CASES", "bare,grpc,tier,pg,rest").split(",")
BASELINE = os.environ.get("BENCH_SINGLE_BASELINE", "")
LATENCY = "50-150"
TOKEN = "sandbox-demo-token"  # the demo account's, in the sandbox's demo.json
HEADER = (
    f"{'case':<32} {'sends/s':>8} {'of bare':>7} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'service':>8} {'bridge':>7} {'clients':>8} {'errors':>6}   (CPU ms per send)"
)

CpuReader = Callable[[], float]


@dataclass(frozen=True)
class Figures:
    sends: int
    errors: int
    seconds: float
    latencies: list[float]
    clients_cpu: float
    # CPU seconds over the timed window per process measured: "service", "bridge".
    processes_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sends / self.seconds

    def cpu_ms(self, process: str) -> str:
        seconds = self.processes_cpu.get(process)
        return "-" if seconds is None else f"{seconds * 1000 / max(1, self.sends):.2f}"

    def row(self, name: str, bare: Figures | None) -> str:
        ordered = sorted(self.latencies) or [0.0]
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        of_bare = f"{self.rate / bare.rate:.2f}" if bare and bare.rate else "-"
        clients = f"{self.clients_cpu * 1000 / max(1, self.sends):.2f}"
        return (
            f"{name:<32} {self.rate:>8.0f} {of_bare:>7} {p50:>7.0f} {p99:>7.0f} "
            f"{self.cpu_ms('service'):>8} {self.cpu_ms('bridge'):>7} {clients:>8} "
            f"{self.errors:>6}"
        )


Send = Callable[[int], Awaitable[None]]


async def _drive(send: Send, processes: dict[str, CpuReader] | None = None) -> Figures:
    """``CLIENTS`` loops, each sending (recipient n) one after another for ``SECONDS``; the CPU
    of this process and of each of ``processes`` over that window."""
    readers = processes or {}
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

    before = {name: read() for name, read in readers.items()}
    cpu_before, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    return Figures(
        sends=len(latencies),
        errors=errors,
        seconds=elapsed,
        latencies=latencies,
        clients_cpu=time.process_time() - cpu_before,
        processes_cpu={name: read() - before[name] for name, read in readers.items()},
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


async def _grpc(service: ServiceProcess) -> Figures:
    channel = grpc.aio.insecure_channel(service.target)
    stub = mindo_pb2_grpc.MindoStub(channel)
    metadata = (("x-api-key", service.api_key),)

    async def send(n: int) -> None:
        request = pb.SendMessageRequest(
            phone_number_id=DEMO_NUMBER,
            template_name="order_update",
            recipient_phone=_recipient(n),
            variables={"order_id": "A1", "status": "listo"},
        )
        await stub.SendMessage(request, metadata=metadata)

    try:
        return await _drive(send, {"service": service.cpu_seconds})
    finally:
        await channel.close()


async def _rest(service: ServiceProcess, bridge: BridgeProcess) -> Figures:
    headers = {"X-API-Key": service.api_key}
    connector = aiohttp.TCPConnector(limit=512)
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

        readers = {"service": service.cpu_seconds, "bridge": bridge.cpu_seconds}
        return await _drive(send, readers)


@contextmanager
def _service(
    sandbox: SandboxProcess, tier: str, database_url: str | None, tree: Path | None
) -> Iterator[ServiceProcess]:
    """The service (from ``tree``, else this checkout) over ``database_url`` (else a fresh
    SQLite file), the demo number at ``tier`` (read when the service connects the account)."""
    patch = {"whatsapp_business_manager_messaging_limit": tier}
    asyncio.run(sandbox.patch_number(DEMO_NUMBER, patch))
    with tempfile.TemporaryDirectory() as workdir:
        url = database_url or f"sqlite:///{Path(workdir) / 'bench.db'}"
        service = ServiceProcess.start(meta_url=sandbox.url, database_url=url, tree=tree)
        try:
            yield service
        finally:
            service.stop()


Case = Callable[[SandboxProcess, Path | None], Figures]


def _grpc_case(tier: str, postgres: bool = False) -> Case:
    def case(sandbox: SandboxProcess, tree: Path | None) -> Figures:
        if not postgres:
            with _service(sandbox, tier, None, tree) as service:
                return asyncio.run(_grpc(service))
        with (
            fresh_database(postgres_server()) as url,
            _service(sandbox, tier, url, tree) as service,
        ):
            return asyncio.run(_grpc(service))

    return case


def _rest_case(sandbox: SandboxProcess, tree: Path | None) -> Figures:
    with _service(sandbox, "TIER_UNLIMITED", None, tree) as service:
        bridge = BridgeProcess.start(service.target, tree)
        try:
            return asyncio.run(_rest(service, bridge))
        finally:
            bridge.stop()


def _cases() -> list[tuple[str, Case]]:
    named: dict[str, tuple[str, Case]] = {
        "grpc": ("gRPC, unlimited tier", _grpc_case("TIER_UNLIMITED")),
        "tier": ("gRPC, TIER_100K", _grpc_case("TIER_100K")),
        "pg": ("gRPC, TIER_100K, PG", _grpc_case("TIER_100K", postgres=True)),
        "rest": ("REST, unlimited tier", _rest_case),
    }
    if not postgres_server():
        del named["pg"]
    return [named[name] for name in CASES if name in named]


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def run() -> None:
    print(
        f"single sends: {CLIENTS} concurrent clients, {SECONDS:.0f} s per case, the sandbox, "
        f"the service and the bridge each in a process of their own, the sandbox answering in "
        f"{LATENCY} ms ({_load()} at start)"
    )
    print(HEADER)
    sandbox = SandboxProcess.start("--mps", "100000", "--latency-ms", LATENCY)
    bare = None
    trees = ([Path(BASELINE)] if BASELINE else []) + [None]
    try:
        if "bare" in CASES:
            bare = asyncio.run(_bare(sandbox.url))
            print(bare.row("bare aiohttp", bare), f"  {_load()}", flush=True)
        for name, case in _cases():
            for tree in trees:
                label = name if tree is None else f"{name} (baseline)"
                print(case(sandbox, tree).row(label, bare), f"  {_load()}", flush=True)
    finally:
        sandbox.stop()
