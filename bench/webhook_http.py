"""Webhook intake of the REST bridge: signed POSTs /webhooks/meta, end to end to gRPC.

Meta advises sizing webhooks for three times the outgoing rate. Targets: 3,000 status updates
ingested per second, and a median webhook response of at most 250 ms under that load, on a
2-core machine.

Three processes, as deployed: a fake gRPC service that acknowledges ``IngestWebhook`` (it
parses nothing: what is measured is the bridge and the gRPC hop), the real bridge, and this
process firing signed POSTs. Each case is bounded by time, so the whole run stays under 30 s.

    saturated   as many POSTs as ``IN_FLIGHT`` concurrent senders get through, Meta-style
                batches of ``BATCH`` statuses each
    paced       the target rate exactly (3,000 statuses/s as POSTs of ``BATCH``), sent on a
                clock whatever the answers: the latency "under that load"
    singles     saturated again with one status per POST, Meta's usual shape when traffic is
                light: the bridge's POSTs/s ceiling

It prints figures and asserts nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import multiprocessing
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from bench.process_cpu import cpu_seconds

BATCH = int(os.environ.get("BENCH_WEBHOOK_BATCH", "50"))
IN_FLIGHT = int(os.environ.get("BENCH_WEBHOOK_IN_FLIGHT", "64"))
CASE_SECONDS = float(os.environ.get("BENCH_WEBHOOK_CASE_SECONDS", "5"))
WARM_UP_SECONDS = 1.0
TARGET_STATUSES_PER_SECOND = 3000.0
TARGET_MEDIAN_SECONDS = 0.250
APP_SECRET = "bench-app-secret"
PATH = "/webhooks/meta"
START_TIMEOUT_SECONDS = 30.0
STATUS_KEY = b'"recipient_id"'


# --------------------------------------------------------------------------------------------
# The payload


def payload(statuses: int) -> bytes:
    """A status webhook (meta-cloud-api.md §6.4) carrying ``statuses`` updates."""
    items = [
        {
            "id": f"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMx{index:06d}=",
            "status": "delivered",
            "timestamp": "1750030073",
            "recipient_id": "16505551234",
            "pricing": {
                "billable": True,
                "pricing_model": "PMP",
                "type": "regular",
                "category": "marketing",
            },
        }
        for index in range(statuses)
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "statuses": items,
    }
    document = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(document).encode()


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------
# The fake service and the bridge, each in its own process


def _quiet() -> None:
    # A sender cancelled at the end of a case drops its connections; that is not news.
    logging.basicConfig(level=logging.CRITICAL)


def _serve_service(ready: Connection) -> None:
    _quiet()
    asyncio.run(_service_forever(ready))


async def _service_forever(ready: Connection) -> None:
    import grpc

    from mindo_grpc._pb.mindo.v1 import mindo_pb2, mindo_pb2_grpc

    class Acknowledging(mindo_pb2_grpc.MindoServicer):
        async def IngestWebhook(
            self,
            request: mindo_pb2.IngestWebhookRequest,
            context: grpc.aio.ServicerContext[
                mindo_pb2.IngestWebhookRequest, mindo_pb2.IngestWebhookResponse
            ],
        ) -> mindo_pb2.IngestWebhookResponse:
            # Counted, not parsed: the service's own parsing is not what is measured here.
            return mindo_pb2.IngestWebhookResponse(statuses=request.body.count(STATUS_KEY))

    server = grpc.aio.server()
    # The stubs declare every RPC abstract; at run time the others answer UNIMPLEMENTED.
    mindo_pb2_grpc.add_MindoServicer_to_server(Acknowledging(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    ready.send(port)
    await server.wait_for_termination()


def _serve_bridge(grpc_target: str, ready: Connection) -> None:
    _quiet()
    asyncio.run(_bridge_forever(grpc_target, ready))


async def _bridge_forever(grpc_target: str, ready: Connection) -> None:
    from rest_bridge import WebhookSecrets, start_bridge

    secrets = WebhookSecrets(verify_token="bench", app_secret=APP_SECRET)
    running = await start_bridge(grpc_target, "127.0.0.1", 0, webhook_secrets=secrets)
    ready.send(running.url)
    await asyncio.Event().wait()


@dataclass
class Child:
    process: multiprocessing.process.BaseProcess
    address: Any

    @classmethod
    def start(cls, target: Callable[..., None], *args: object) -> Child:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=target, args=(*args, sender), daemon=True)
        process.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        # A child that dies while starting is reported at once, not after the whole timeout.
        while not receiver.poll(0.1):
            if not process.is_alive() or time.monotonic() > deadline:
                process.terminate()
                raise RuntimeError(f"{target.__name__} did not start")
        return cls(process=process, address=receiver.recv())

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the child so far (Linux only)."""
        pid = self.process.pid
        return None if pid is None else cpu_seconds(pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


# --------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True, kw_only=True)
class Figure:
    case: str
    batch: int
    seconds: float
    latencies: list[float]
    failures: int
    # CPU seconds the bridge and the fake service spent during the case, when measurable.
    bridge_cpu: float | None
    service_cpu: float | None

    def cpu_ms_per_post(self, spent: float | None) -> float | None:
        if spent is None or not self.latencies:
            return None
        return spent * 1000 / len(self.latencies)

    @property
    def posts_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def statuses_per_second(self) -> float:
        return self.posts_per_second * self.batch

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")


Post = Callable[[], Awaitable[bool]]


@dataclass
class Tally:
    latencies: list[float]
    failures: int = 0

    async def timed(self, post: Post) -> None:
        started = time.perf_counter()
        ok = await post()
        if ok:
            self.latencies.append(time.perf_counter() - started)
        else:
            self.failures += 1


async def _saturate(post: Post, in_flight: int, seconds: float) -> Tally:
    """``in_flight`` senders back to back; those still waiting at the end are not counted."""
    tally = Tally(latencies=[])

    async def sender() -> None:
        while True:
            await tally.timed(post)

    try:
        async with asyncio.timeout(seconds):
            await asyncio.gather(*(sender() for _ in range(in_flight)))
    except TimeoutError:
        pass
    return tally


async def _paced(post: Post, per_second: float, seconds: float) -> Tally:
    """POSTs started on a clock, whatever the answers (an open loop, as Meta sends)."""
    tally = Tally(latencies=[])
    interval = 1.0 / per_second
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for index in range(int(per_second * seconds)):
        delay = started + index * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(tally.timed(post)))
    await asyncio.gather(*tasks)
    return tally


def _poster(session: Any, url: str, batch: int) -> Post:
    body = payload(batch)
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(body),
    }

    async def post() -> bool:
        async with session.post(url, data=body, headers=headers) as response:
            return bool(response.status == 200 and (await response.json())["received"] == batch)

    return post


@dataclass(frozen=True, kw_only=True)
class Stage:
    bridge: Child
    service: Child

    async def case(self, name: str, batch: int, load: Awaitable[Tally]) -> Figure:
        started = time.perf_counter()
        bridge_cpu, service_cpu = self.bridge.cpu_seconds(), self.service.cpu_seconds()
        tally = await load
        return Figure(
            case=name,
            batch=batch,
            seconds=time.perf_counter() - started,
            latencies=tally.latencies,
            failures=tally.failures,
            bridge_cpu=_spent(self.bridge, bridge_cpu),
            service_cpu=_spent(self.service, service_cpu),
        )


def _spent(child: Child, before: float | None) -> float | None:
    after = child.cpu_seconds()
    return None if before is None or after is None else after - before


async def measure(stage: Stage) -> list[Figure]:
    import aiohttp

    url = f"{stage.bridge.address}{PATH}"
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        batched, single = _poster(session, url, BATCH), _poster(session, url, 1)
        await _saturate(batched, IN_FLIGHT, WARM_UP_SECONDS)
        paced_rate = TARGET_STATUSES_PER_SECOND / BATCH
        return [
            await stage.case("saturated", BATCH, _saturate(batched, IN_FLIGHT, CASE_SECONDS)),
            await stage.case("paced at target", BATCH, _paced(batched, paced_rate, CASE_SECONDS)),
            await stage.case("singles", 1, _saturate(single, IN_FLIGHT, CASE_SECONDS)),
        ]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    lines = [
        f"{'case':<16} {'batch':>5} {'POSTs/s':>8} {'statuses/s':>10} {'vs 3,000':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'250/p50':>8} {'failed':>6} "
        f"{'bridge CPU ms/POST':>18} {'service':>7}"
    ]
    for f in figures:
        ratio = f.statuses_per_second / TARGET_STATUSES_PER_SECOND
        latency_ratio = TARGET_MEDIAN_SECONDS / f.median if f.median else float("inf")
        lines.append(
            f"{f.case:<16} {f.batch:>5} {f.posts_per_second:>8,.0f} "
            f"{f.statuses_per_second:>10,.0f} {ratio:>7.2f}x "
            f"{f.median * 1000:>7.1f} {f.percentile(0.99) * 1000:>7.1f} "
            f"{latency_ratio:>7.1f}x {f.failures:>6} "
            f"{_ms(f.cpu_ms_per_post(f.bridge_cpu)):>18} "
            f"{_ms(f.cpu_ms_per_post(f.service_cpu)):>7}"
        )
    return "\n".join(lines)


def run() -> None:
    print(
        f"== webhook_http: signed webhook POSTs through the REST bridge to a fake gRPC service "
        f"({IN_FLIGHT} in flight, {CASE_SECONDS:g} s per case, {os.cpu_count()} CPUs)"
    )
    service = Child.start(_serve_service)
    try:
        bridge = Child.start(_serve_bridge, f"127.0.0.1:{service.address}")
        try:
            figures = asyncio.run(measure(Stage(bridge=bridge, service=service)))
        finally:
            bridge.stop()
    finally:
        service.stop()
    print(table(figures))
    print(
        "vs 3,000 = statuses/s over the 3,000/s target; 250/p50 = the 250 ms median target "
        "over the measured median (both: above 1x meets the target). CPU ms/POST: what the "
        "bridge and the fake service each spent per answered POST; a core's worth of the "
        "bridge is 1000 / that many POSTs/s."
    )


if __name__ == "__main__":
    run()
