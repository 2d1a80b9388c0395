"""Takeover of a phone number after its worker dies: target p99 ≤ 10 s after ``kill -9``.

Set-up, all real processes on one PostgreSQL database (``MINDO_BENCH_POSTGRES_URL``, else
``MINDO_TEST_POSTGRES_URL``; a fresh database is created and dropped): the sandbox (demo
configuration, its one number at 80 messages/s), ``mindo serve --no-engine --demo`` and three
``mindo worker``. One long bulk on the number. Then, ``BENCH_TAKEOVER_KILLS`` (5) times: the
worker holding the number's lease is killed with SIGKILL and a fresh worker started in its
place. Measured from the kill: **lease** (another worker holds the number's lease: the lease
table polled every 20 ms) and **sending** (the sandbox records the number's next send). The same
is then done ``BENCH_TAKEOVER_DRAINS`` (3) times with SIGTERM (a graceful drain, leases released
at once) as the baseline of the same run. Prints medians, p99 (the largest of a few) and the
ratios to the 10 s target; the lease length is ``MINDO_LEASE_S`` (6 s by default). Asserts
nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.cluster_processes import DEMO_KEY, DEMO_NUMBER, ClusterProcesses
from bench.postgres_database import fresh_database, postgres_server
from mindo_core.adapters.sql.engine import make_sync_engine

TARGET_S = 10.0
NUMBER = DEMO_NUMBER
POLL_S = 0.02

_OWNER = sa.text(
    "SELECT l.worker_id, extract(epoch FROM l.acquired_at) FROM number_leases AS l "
    "JOIN phone_numbers AS p "
    "ON p.id = l.phone_number_row_id "
    "WHERE p.phone_number_id = :number AND l.expires_at > clock_timestamp()"
)


def run() -> None:
    server = postgres_server()
    if not server:
        print("takeover: skipped (set MINDO_BENCH_POSTGRES_URL to a PostgreSQL server)")
        return
    kills = int(os.environ.get("BENCH_TAKEOVER_KILLS", "5"))
    drains = int(os.environ.get("BENCH_TAKEOVER_DRAINS", "3"))
    lease = os.environ.get("MINDO_LEASE_S", "6")
    print(
        f"Takeover of a number: {kills} x kill -9 and {drains} x SIGTERM of its worker, 3 "
        f"workers, lease {lease} s; target p99 ≤ {TARGET_S:g} s "
        f"(load average {os.getloadavg()[0]:.2f})"
    )
    with fresh_database(server) as url, tempfile.TemporaryDirectory() as folder:
        cluster = _Cluster(Path(folder), url)
        try:
            cluster.start_all(workers=3)
            # Long enough for every round at 80/s (a round takes about lease + 2 s).
            seconds = (kills + drains) * (float(lease) + 4) + 20
            asyncio.run(_submit(cluster.grpc_address, int(80 * seconds)))
            cluster.wait_for_owner(exclude=None)
            killed = [cluster.round(signal.SIGKILL) for _ in range(kills)]
            drained = [cluster.round(signal.SIGTERM) for _ in range(drains)]
        finally:
            cluster.close()
    _report("kill -9", killed)
    _report("SIGTERM", drained)
    print(f"(load average after: {os.getloadavg()[0]:.2f})")


def _report(how: str, rounds: list[tuple[float, float]]) -> None:
    for name, values in (("lease", [r[0] for r in rounds]), ("sending", [r[1] for r in rounds])):
        p50, p99 = statistics.median(values), max(values)
        print(
            f"  {how:8} {name:8} p50 {p50:5.2f} s  p99 {p99:5.2f} s  "
            f"(p99 / {TARGET_S:g} s = {p99 / TARGET_S:.2f}); each: "
            + ", ".join(f"{v:.2f}" for v in values)
        )


class _Cluster:
    """The cluster's processes, and the number's owner read from the lease table."""

    def __init__(self, folder: Path, url: str) -> None:
        self.processes = ClusterProcesses(folder, url)
        self.grpc_address = self.processes.grpc_address
        self.database = make_sync_engine(url)

    def start_all(self, *, workers: int) -> None:
        self.processes.start_all(workers=workers)

    def owner(self) -> tuple[str, float] | None:
        """The number's owner now, and when it took the lease (Unix seconds)."""
        with self.database.connect() as connection:
            found = connection.execute(_OWNER, {"number": NUMBER}).first()
        return None if found is None else (str(found[0]), float(found[1]))

    def wait_for_owner(self, exclude: str | None, timeout: float = 60) -> tuple[str, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            owner = self.owner()
            if owner is not None and owner[0] != exclude:
                return owner
            time.sleep(POLL_S)
        raise RuntimeError(f"no new owner within {timeout} s")

    def round(self, how: signal.Signals) -> tuple[float, float]:
        """Stop the number's owner; seconds until another holds it, and until it sends."""
        owner, _ = self.wait_for_owner(exclude=None)
        time.sleep(1.0)  # sending steadily
        victim = self.processes.workers.pop(int(owner.split(":")[-2]))
        stopped_at = time.time()  # one clock with the database's and the sandbox's: one host
        victim.send_signal(how)
        self.processes.spawn("worker")  # the cluster keeps three workers
        _, taken_at = self.wait_for_owner(exclude=owner)
        victim.wait()
        return taken_at - stopped_at, self._first_send_since(taken_at) - stopped_at

    def _first_send_since(self, taken_at: float) -> float:
        """When the sandbox recorded the new owner's first send (Unix seconds)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sends = self.processes.sandbox_sends(NUMBER, limit=2000)
            after = [float(r["at"]) for r in sends if float(r["at"]) >= taken_at]
            if after:
                return min(after)
            time.sleep(0.1)
        return float("nan")

    def close(self) -> None:
        self.processes.close()
        self.database.dispose()


async def _submit(grpc_address: str, recipients: int) -> None:
    import grpc

    from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
    from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc

    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        await stub.SendBulk(
            pb.SendBulkRequest(
                phone_number_id=NUMBER,
                template_name="order_update",
                recipients=[
                    pb.BulkRecipient(
                        phone=f"+5491{1_5000_0000 + i}",
                        variables={"order_id": f"ORD-{i}", "status": "listo"},
                    )
                    for i in range(recipients)
                ],
            ),
            metadata=(("x-api-key", DEMO_KEY),),
        )
