"""WatchBulk fan-out: 500 subscribers on one running bulk. Target: update lag p99 ≤ 250 ms.

The lag of a change, for one subscriber, is the time from the engine publishing it on the
progress bus to that subscriber receiving, over its gRPC stream, a snapshot that shows it.
Each subscriber gets at most about 10 snapshots a second (WatchBulk coalesces, documented), so a
change may wait up to 100 ms for its subscriber's next turn by design: the lag counts that wait.
Also printed, "newest": the age of each received snapshot itself (receipt minus the
publication of exactly that snapshot), the delivery cost without the coalescing wait.

Set-up: the service in this process (``bench.grpc_stack``: SQLite, the real engine and gRPC
server), the sandbox in a process of its own (``bench.sandbox_process``, demo configuration),
a bulk at the demo number's 80 messages/s; the subscribers in
``BENCH_WATCH_PROCESSES`` (2) other processes, each with ``grpc.aio`` streams spread over
``BENCH_WATCH_CHANNELS`` (8) channels, so that the clients' own work does not delay the server.
The engine starts once every stream has its first snapshot. Publications are logged with
their time by a wrapper around the bus; clients log what they receive with theirs
(``time.monotonic`` is one clock for every process of the machine), and snapshots are matched
by their status and counters.

``BENCH_WATCH_SUBSCRIBERS`` (500) and ``BENCH_WATCH_SECONDS`` (10: the bulk's length at 80/s)
change the size. Asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TYPE_CHECKING

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.bulks.model import Bulk, BulkId

if TYPE_CHECKING:
    from mindo_grpc._pb.mindo.v1 import mindo_pb2
    from mindo_grpc._pb.mindo.v1.mindo_pb2_grpc import MindoAsyncStub

TARGET_P99_SECONDS = 0.250
RATE = 80  # the demo number's throughput (STANDARD)

# (status, total, sent, delivered, read, failed, pending): what a pb.Bulk and a Bulk share.
Key = tuple[str, int, int, int, int, int, int]
Received = list[tuple[float, Key]]


def run() -> None:
    subscribers = int(os.environ.get("BENCH_WATCH_SUBSCRIBERS", "500"))
    processes = int(os.environ.get("BENCH_WATCH_PROCESSES", "2"))
    channels = int(os.environ.get("BENCH_WATCH_CHANNELS", "8"))
    seconds = float(os.environ.get("BENCH_WATCH_SECONDS", "10"))
    load = os.getloadavg()[0]
    print(
        f"WatchBulk lag, {subscribers} subscribers ({processes} client processes, "
        f"{channels} channels each), a {seconds:g} s bulk at {RATE}/s; "
        f"target p99 ≤ {TARGET_P99_SECONDS * 1000:.0f} ms (load average {load:.2f})"
    )
    result = asyncio.run(_measure(subscribers, processes, channels, int(RATE * seconds)))
    _report(result)


class _RecordingBus(InProcessProgressBus):
    """The in-process bus, logging each publication that changed the bulk, with its time."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[float, Key]] = []

    def publish(self, bulk_id: BulkId, snapshot: Bulk) -> None:
        key = _key_of_bulk(snapshot)
        if not self.published or self.published[-1][1] != key:
            self.published.append((time.monotonic(), key))
        super().publish(bulk_id, snapshot)


@dataclass(frozen=True)
class _Result:
    published: list[tuple[float, Key]]
    received: list[Received]
    client_cpu_seconds: float
    server_cpu_seconds: float
    wall_seconds: float


async def _measure(subscribers: int, processes: int, channels: int, recipients: int) -> _Result:
    from bench.sandbox_process import SandboxProcess

    bus = _RecordingBus()
    sandbox = SandboxProcess.start()
    try:
        return await _measure_with(bus, sandbox.url, subscribers, processes, channels, recipients)
    finally:
        sandbox.stop()


async def _measure_with(
    bus: _RecordingBus,
    meta_url: str,
    subscribers: int,
    processes: int,
    channels: int,
    recipients: int,
) -> _Result:
    from bench.bench_tenant import order_command
    from bench.grpc_stack import DEMO_NUMBER, bench_stack

    async with bench_stack(progress=bus, meta_url=meta_url) as stack:
        services = stack.services
        principal = await services.authenticator.authenticate(stack.api_key, None)
        command = order_command(recipients, number=DEMO_NUMBER)
        bulk = (await services.submit_bulk(principal, command)).bulk
        share, extra = divmod(subscribers, processes)
        shares = [share + (i < extra) for i in range(processes)]
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
            work = [
                loop.run_in_executor(
                    pool, _client_process, stack.server.target, stack.api_key, bulk.id, n, channels
                )
                for n in shares
            ]
            while bus.subscriber_count(bulk.id) < subscribers:
                if any(w.done() for w in work):
                    break  # a client process failed: its exception shows below
                await asyncio.sleep(0.05)
            cpu, wall = time.process_time(), time.monotonic()
            await services.bulk_engine.start()
            done = await asyncio.gather(*work)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    received = [stream for streams, _ in done for stream in streams]
    client_cpu = sum(c for _, c in done)
    return _Result(bus.published, received, client_cpu, cpu, wall)


def _client_process(
    target: str, api_key: str, bulk_id: str, streams: int, channels: int
) -> tuple[list[Received], float]:
    """Runs in a client process: ``streams`` WatchBulk streams until each ends."""
    started = time.process_time()
    received = asyncio.run(_watch_all(target, api_key, bulk_id, streams, channels))
    return received, time.process_time() - started


async def _watch_all(
    target: str, api_key: str, bulk_id: str, streams: int, channels: int
) -> list[Received]:
    import grpc

    from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
    from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc

    # Each its own connection (a local subchannel pool): one HTTP/2 connection per channel.
    opened = [
        grpc.aio.insecure_channel(target, options=(("grpc.use_local_subchannel_pool", 1),))
        for _ in range(channels)
    ]
    stubs = [mindo_pb2_grpc.MindoStub(c) for c in opened]
    metadata = (("x-api-key", api_key),)

    async def watch(stub: MindoAsyncStub) -> Received:
        log: Received = []
        async for snapshot in stub.WatchBulk(
            pb.WatchBulkRequest(bulk_send_id=bulk_id), metadata=metadata
        ):
            log.append((time.monotonic(), _key_of_message(snapshot)))
        return log

    try:
        return list(await asyncio.gather(*(watch(stubs[i % channels]) for i in range(streams))))
    finally:
        for channel in opened:
            await channel.close()


def _key_of_bulk(bulk: Bulk) -> Key:
    c = bulk.counters
    return (bulk.status, c.total, c.sent, c.delivered, c.read, c.failed, c.pending)


def _key_of_message(b: mindo_pb2.Bulk) -> Key:
    return (
        b.status,
        b.total_recipients,
        b.sent_count,
        b.delivered_count,
        b.read_count,
        b.failed_count,
        b.pending_count,
    )


def _report(result: _Result) -> None:
    index_of = {key: i for i, (_, key) in reversed(list(enumerate(result.published)))}
    times = [t for t, _ in result.published]
    lags: list[float] = []
    newest: list[float] = []
    unmatched = 0
    for stream in result.received:
        change_lags, ages, missing = _stream_lags(stream, index_of, times)
        lags += change_lags
        newest += ages
        unmatched += missing
    updates = sum(len(s) for s in result.received)
    print(
        f"{len(result.published)} changes published, {len(result.received)} streams, "
        f"{updates} snapshots received ({unmatched} not matched to a publication), "
        f"{result.wall_seconds:.1f} s"
    )
    _print_distribution("change lag", lags)
    _print_distribution("newest", newest)
    print(
        f"CPU: server process {result.server_cpu_seconds:.1f} s, "
        f"client processes {result.client_cpu_seconds:.1f} s, over {result.wall_seconds:.1f} s"
    )


def _stream_lags(
    stream: Received, index_of: dict[Key, int], times: Sequence[float]
) -> tuple[list[float], list[float], int]:
    """Per change published after this stream's first snapshot (all: the engine starts once
    every stream has its first): when the stream first showed it, in a snapshot at least as
    new. Plus each matched snapshot's own age."""
    lags: list[float] = []
    ages: list[float] = []
    missing = 0
    shown = -1  # index of the newest publication the stream has shown
    for position, (received_at, key) in enumerate(stream):
        index = index_of.get(key)
        if index is None:
            missing += position > 0  # the first is read from the store, before any change
            continue
        if position == 0:
            shown = index
            continue
        ages.append(received_at - times[index])
        lags.extend(received_at - times[change] for change in range(shown + 1, index + 1))
        shown = max(shown, index)
    return lags, ages, missing


def _print_distribution(label: str, values: list[float]) -> None:
    if not values:
        print(f"{label:>10}: nothing measured")
        return
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{label:>10}: p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms  "
        f"max {ordered[-1] * 1000:6.1f} ms  ({len(ordered)} values)  "
        f"p99/target {p99 / TARGET_P99_SECONDS:.2f}"
    )
