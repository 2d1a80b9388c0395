"""WatchBulk across processes: a worker sends, an API process streams. Target p99 ≤ 250 ms.

Set-up, real processes on a fresh PostgreSQL database (``MINDO_BENCH_POSTGRES_URL``, else
``MINDO_TEST_POSTGRES_URL``): the sandbox (its demo number, no added latency), ``mindo serve
--no-engine --demo`` and two ``mindo worker``. ``BENCH_WATCH_CLUSTER_SUBSCRIBERS`` (20)
``WatchBulk`` streams on the API process, from this process, watch one bulk of
``BENCH_WATCH_CLUSTER_SECONDS`` (10) seconds at the number's 80/s, scheduled to start once every
stream is open. A worker's change reaches the API process only through PostgreSQL
(LISTEN/NOTIFY, then a read).

The lag of the N-th send, for one subscriber: from the sandbox accepting the bulk's N-th message
to the subscriber receiving a snapshot with ``sent_count ≥ N``. It is what a user watching sees,
end to end: the worker's outcome written (its outcome buffer), the notification, the API
process's read, the stream's turn (WatchBulk sends at most about 10 snapshots a second each), and
gRPC. One clock: every process is on this machine. Asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from bench.cluster_processes import DEMO_KEY, DEMO_NUMBER, ClusterProcesses
from bench.postgres_database import fresh_database, postgres_server
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc

if TYPE_CHECKING:
    from mindo_grpc._pb.mindo.v1.mindo_pb2_grpc import MindoAsyncStub

TARGET_P99_SECONDS = 0.250
RATE = 80  # the demo number's throughput (STANDARD)
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
METADATA = (("x-api-key", DEMO_KEY),)

# (receipt time, sent_count) of every snapshot one subscriber received.
Seen = list[tuple[float, int]]


def run() -> None:
    server = postgres_server()
    if not server:
        print("watch_lag_cluster: skipped (set MINDO_BENCH_POSTGRES_URL to a PostgreSQL server)")
        return
    subscribers = int(os.environ.get("BENCH_WATCH_CLUSTER_SUBSCRIBERS", "20"))
    seconds = float(os.environ.get("BENCH_WATCH_CLUSTER_SECONDS", "10"))
    print(
        f"WatchBulk across processes: {subscribers} streams on the API process, the bulk sent by"
        f" a worker ({seconds:g} s at {RATE}/s); target p99 ≤ {TARGET_P99_SECONDS * 1000:.0f} ms"
        f" (load average {os.getloadavg()[0]:.2f})"
    )
    with fresh_database(server) as url, tempfile.TemporaryDirectory() as folder:
        cluster = ClusterProcesses(Path(folder), url)
        try:
            cluster.start_all(workers=2, sandbox_args=("--mps", "100", "--latency-ms", "0"))
            seen = asyncio.run(_watch(cluster.grpc_address, subscribers, int(RATE * seconds)))
            accepted = sorted(float(r["at"]) for r in cluster.sandbox_sends() if r["wamid"])
        finally:
            cluster.close()
    _report(_lags(seen, accepted), len(accepted))
    print(f"(load average after: {os.getloadavg()[0]:.2f})")


async def _watch(address: str, subscribers: int, recipients: int) -> list[Seen]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub: MindoAsyncStub = mindo_pb2_grpc.MindoStub(channel)
        starts = datetime.now(UTC) + timedelta(seconds=3 + subscribers * 0.05)
        submitted = await stub.SendBulk(_bulk(recipients, starts), metadata=METADATA)
        opened = asyncio.Semaphore(0)
        streams = [
            asyncio.create_task(_subscriber(stub, submitted.bulk_send_id, opened))
            for _ in range(subscribers)
        ]
        for _ in streams:
            await opened.acquire()
        if datetime.now(UTC) >= starts:
            print("  (some streams opened after the bulk began: raise the start delay)")
        return await asyncio.gather(*streams)


async def _subscriber(stub: MindoAsyncStub, bulk_id: str, opened: asyncio.Semaphore) -> Seen:
    seen: Seen = []
    stream = stub.WatchBulk(pb.WatchBulkRequest(bulk_send_id=bulk_id), metadata=METADATA)
    async for snapshot in stream:
        if not seen:
            opened.release()
        seen.append((time.time(), snapshot.sent_count))
        if snapshot.status in FINAL:
            break
    return seen


def _bulk(recipients: int, starts: datetime) -> pb.SendBulkRequest:
    return pb.SendBulkRequest(
        phone_number_id=DEMO_NUMBER,
        template_name="order_update",
        send_at=starts.isoformat(),
        recipients=[
            pb.BulkRecipient(
                phone=f"+5491{1_6000_0000 + i}",
                variables={"order_id": f"ORD-{i}", "status": "listo"},
            )
            for i in range(recipients)
        ],
    )


def _lags(seen: list[Seen], accepted: list[float]) -> list[float]:
    """Every (send, subscriber) pair's lag: the first receipt showing it minus its acceptance."""
    lags: list[float] = []
    for snapshots in seen:
        shown = 0
        for received, sent in snapshots:
            for n in range(shown, min(sent, len(accepted))):
                lags.append(received - accepted[n])
            shown = max(shown, sent)
    return lags


def _report(lags: list[float], sends: int) -> None:
    if len(lags) < 2:
        print(f"  too few changes seen ({len(lags)}) to report")
        return
    centiles = statistics.quantiles(lags, n=100)
    p50, p99 = statistics.median(lags), centiles[98]
    print(
        f"  {sends} sends, {len(lags)} (send, stream) pairs: p50 {p50 * 1000:.0f} ms,"
        f" p99 {p99 * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
        f" (p99 / 250 ms = {p99 / TARGET_P99_SECONDS:.2f})"
    )
