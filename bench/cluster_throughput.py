"""Aggregate throughput of a cluster: 8 HIGH numbers sent by 1, 2 and 4 ``mindo worker``s.

Set-up, all real processes on a fresh PostgreSQL database (``MINDO_BENCH_POSTGRES_URL``, else
``MINDO_TEST_POSTGRES_URL``; created and dropped): the sandbox in a process of its own
(``bench.sandbox_process``) with the demo account's number and 7 more, every one at Meta's
``HIGH`` throughput (1,000 messages/s, enforced with 130429) and an unlimited tier; one API
process (``mindo serve --no-engine --demo``); then 1, 2 and 4 workers in turn
(``BENCH_CLUSTER_WORKERS``). Each round submits one bulk per number through the API
(``BENCH_CLUSTER_RECIPIENTS``, 4,000 recipients each), all scheduled a few seconds ahead so that
submitting is over before sending starts, and runs until every bulk is over with every outcome
durable. The workers are stopped (SIGTERM) after each round.

Meta's real limit, not ``MINDO_THROUGHPUT_MPS`` with ``--unlimited``: 8 × 1,000/s is far above
what two cores reach, so the cap never binds, while the engine runs its real pacing (the
per-number gate at 1,000/s) and the sandbox checks that the cluster keeps every number's cap
(a 130429 is counted).

Printed per round: messages/s (the sandbox's first accepted send to the last outcome durable),
engine CPU ms per message and messages per engine CPU-second (the workers' utime + stime from
``/proc/PID/stat``), the API's and the sandbox's CPU per message, recipients refused or sent
twice. Beside them a bare aiohttp loop in this process posting the same messages (the engine's
own payload, recipient changed) to the same sandbox, 512 in flight like one engine, after the
first round and at the end. Then the issue's targets: one worker ≥ 0.5 × the bare loop, engine
CPU ≤ 0.3 ms per message, and messages per CPU-second from 1 to 4 workers (flat: it scales).
Asserts nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bench.cluster_processes import free_port
from bench.postgres_database import fresh_database, postgres_server
from bench.process_cpu import cpu_seconds
from bench.sandbox_process import SandboxProcess
from mindo_core.adapters.sql.engine import make_sync_engine

TARGET_RATIO = 0.5
TARGET_CPU_MS = 0.3
KEY = "mindo_BenchClusterKey012345678"
TOKEN = "sandbox-demo-token"  # the sandbox's demo account
FIRST_NUMBER = 813497231850626  # the demo's; the others follow it
NUMBERS = tuple(str(FIRST_NUMBER + i) for i in range(8))
IDLE_SECONDS = 5.0  # after a round: what idle workers cost
IN_FLIGHT = 512  # EngineSettings.max_in_flight: what one engine keeps in flight
FINAL = ("COMPLETED", "PARTIAL", "FAILED", "CANCELLED")
_DONE = sa.text(
    "SELECT count(*) FROM bulks WHERE id IN :ids AND status IN :final AND pending_count = 0"
).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("final", expanding=True))


@dataclass(frozen=True, kw_only=True)
class Round:
    """One measured run: the cluster with some workers, or the bare loop."""

    label: str
    accepted: int
    seconds: float
    cpu_seconds: float  # the workers' (the bare loop: this process's)
    api_cpu_seconds: float
    sandbox_cpu_seconds: float
    refused: Counter[int]
    twice: int
    load: float

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1e3 / max(1, self.accepted)

    @property
    def per_cpu_second(self) -> float:
        return self.accepted / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def row(self) -> str:
        refused = ", ".join(f"{code} x{n}" for code, n in sorted(self.refused.items())) or "0"
        api, sandbox = (
            f"{s * 1e3 / max(1, self.accepted):.3f}"
            for s in (self.api_cpu_seconds, self.sandbox_cpu_seconds)
        )
        return (
            f"  {self.label:10} {self.rate:7.0f} msg/s  {self.accepted:6} in {self.seconds:6.2f} s"
            f"  engine {self.cpu_ms:.3f} CPU ms/msg = {self.per_cpu_second:5.0f} msg/CPU-s"
            f"  (api {api}, sandbox {sandbox})  refused {refused}, twice {self.twice}"
            f"  load {self.load:.2f}"
        )


def run() -> None:
    server = postgres_server()
    if not server:
        print("cluster_throughput: skipped (set MINDO_BENCH_POSTGRES_URL to a PostgreSQL server)")
        return
    recipients = int(os.environ.get("BENCH_CLUSTER_RECIPIENTS", "4000"))
    workers = [int(n) for n in os.environ.get("BENCH_CLUSTER_WORKERS", "1,2,4").split(",")]
    print(
        f"Cluster throughput: {len(NUMBERS)} HIGH numbers (1,000/s each) x {recipients} "
        f"recipients, workers {workers}, {os.cpu_count()} CPUs "
        f"(load average {_load():.2f})"
    )
    with fresh_database(server) as url, tempfile.TemporaryDirectory() as folder:
        config = _sandbox_config(Path(folder) / "sandbox.json")
        sandbox = SandboxProcess.start("--config", str(config))
        cluster = _Cluster(Path(folder), url, sandbox)
        try:
            rounds = _rounds(cluster, workers, recipients)
        finally:
            cluster.close()
            sandbox.stop()
            if os.environ.get("BENCH_CLUSTER_LOG"):  # the processes' output, kept to read
                shutil.copy(cluster.log, os.environ["BENCH_CLUSTER_LOG"])
    _report(rounds)


def _rounds(cluster: _Cluster, workers: list[int], recipients: int) -> list[Round]:
    cluster.start_api()
    rounds: list[Round] = []
    batches = itertools.count()  # each run its own recipients
    for index, count in enumerate(workers):
        rounds.append(cluster.round(count, recipients, batch=next(batches)))
        print(rounds[-1].row(), flush=True)
        if index == 0:
            rounds.append(cluster.bare(recipients, batch=next(batches)))
            print(rounds[-1].row(), flush=True)
    rounds.append(cluster.bare(recipients, batch=next(batches)))
    print(rounds[-1].row(), flush=True)
    return rounds


def _report(rounds: list[Round]) -> None:
    cluster = [r for r in rounds if not r.label.startswith("bare")]
    bare = [r for r in rounds if r.label.startswith("bare")]
    if not cluster or not bare:
        return
    one = cluster[0]
    print(
        f"  {one.label} / bare loop: {one.rate / bare[0].rate:.2f} (next to it in time),"
        f" {one.rate / max(b.rate for b in bare):.2f} (the faster bare run);"
        f" target ≥ {TARGET_RATIO}"
    )
    print(
        "  engine CPU per message: "
        + ", ".join(f"{r.label} {r.cpu_ms:.3f} ms" for r in cluster)
        + f"; target ≤ {TARGET_CPU_MS} ms"
    )
    print(
        "  messages per engine CPU-second: "
        + ", ".join(f"{r.label} {r.per_cpu_second:.0f}" for r in cluster)
        + f" ({cluster[-1].per_cpu_second / one.per_cpu_second:.2f} of one worker's at the end;"
        " flat = it scales)"
    )
    print(f"(load average after: {_load():.2f})")


class _Cluster:
    def __init__(self, folder: Path, url: str, sandbox: SandboxProcess) -> None:
        self.log = folder / "cluster.log"
        self.sandbox = sandbox
        self.grpc_address = f"127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "MINDO_DATABASE_URL": url,
            "MINDO_SECRET_KEY": "bench-cluster-secret-of-32-characters!",
            "MINDO_META_BASE_URL": sandbox.url,
            "MINDO_GRPC_ADDRESS": self.grpc_address,
            "MINDO_DEMO_API_KEY": KEY,
            "MINDO_LOG_LEVEL": "INFO",
        }
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.database = make_sync_engine(url)

    def _spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "mindo_cli", *argv],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def start_api(self) -> None:
        self.api = self._spawn("serve", "--no-engine", "--demo")
        self._wait_for_line("Mindo is ready", 1)

    def round(self, workers: int, recipients: int, *, batch: int) -> Round:
        """``workers`` workers send one bulk per number; measured from the first send."""
        started = self._log_text().count("Bulk engine started as worker")
        self.workers = [self._spawn("worker") for _ in range(workers)]
        self._wait_for_line("Bulk engine started as worker", started + workers)
        self._clear_sandbox_record()
        send_at, bulk_ids = asyncio.run(self._submit(recipients, batch))
        _sleep_until(send_at - 0.2)  # the workers idle until the bulks' send_at
        before = self._cpu()
        done_at = self._wait_until_done(bulk_ids, deadline_s=120 + recipients * 8 / 40)
        after = self._cpu()
        load = _load()
        self._print_idle_cpu(after, workers)
        self._stop_workers()
        label = f"{workers} worker{'s' * (workers > 1)}"
        return self._measured(label, before, after, done_at, load)

    def _print_idle_cpu(self, since: _Cpu, workers: int) -> None:
        """What the workers cost doing nothing (their bulks over), per worker."""
        time.sleep(IDLE_SECONDS)
        idle_ms = (self._cpu().workers - since.workers) * 1e3 / IDLE_SECONDS / workers
        print(f"  ({workers} idle: {idle_ms:.0f} CPU ms per second each)", flush=True)

    def _measured(
        self, label: str, before: _Cpu, after: _Cpu, done_at: float, load: float
    ) -> Round:
        records = self._sandbox_record()
        accepted = [r for r in records if r["wamid"] is not None]
        first = min((float(r["at"]) for r in accepted), default=done_at)
        return Round(
            label=label,
            accepted=len(accepted),
            seconds=done_at - first,
            cpu_seconds=after.workers - before.workers,
            api_cpu_seconds=after.api - before.api,
            sandbox_cpu_seconds=after.sandbox - before.sandbox,
            refused=Counter(int(r["error_code"]) for r in records if r["error_code"] is not None),
            twice=_twice(accepted),
            load=load,
        )

    def bare(self, recipients: int, *, batch: int) -> Round:
        """The same messages posted by a plain aiohttp loop in this process."""
        body = self._engine_payload()
        self._clear_sandbox_record()
        before, cpu = self._cpu(), time.process_time()
        seconds = asyncio.run(_bare_loop(self.sandbox.url, body, recipients, batch))
        cpu, after, load = time.process_time() - cpu, self._cpu(), _load()
        records = self._sandbox_record()
        accepted = [r for r in records if r["wamid"] is not None]
        return Round(
            label="bare loop",
            accepted=len(accepted),
            seconds=seconds,
            cpu_seconds=cpu,
            api_cpu_seconds=after.api - before.api,
            sandbox_cpu_seconds=after.sandbox - before.sandbox,
            refused=Counter(int(r["error_code"]) for r in records if r["error_code"] is not None),
            twice=_twice(accepted),
            load=load,
        )

    async def _submit(self, recipients: int, batch: int) -> tuple[float, list[str]]:
        """Every number's bulk, scheduled to start together once all are in (Unix seconds)."""
        import grpc

        from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc

        # Ahead by what submitting takes on a loaded 2-core machine (fresh workers still
        # starting up, then about 10,000 recipients/s), whole seconds.
        send_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
            seconds=5 + len(NUMBERS) * recipients // 8000
        )
        async with grpc.aio.insecure_channel(self.grpc_address) as channel:
            stub = mindo_pb2_grpc.MindoStub(channel)
            answers = await asyncio.gather(
                *(
                    stub.SendBulk(
                        _bulk_request(n, number, recipients, batch, send_at),
                        metadata=(("x-api-key", KEY),),
                    )
                    for n, number in enumerate(NUMBERS)
                )
            )
        if datetime.now(UTC) > send_at:
            print("  (submitting took longer than the lead: the first bulks started early)")
        return send_at.timestamp(), [a.bulk_send_id for a in answers]

    def _wait_until_done(self, bulk_ids: list[str], *, deadline_s: float) -> float:
        """When every bulk was over with every outcome written (Unix seconds, 20 ms steps)."""
        deadline = time.monotonic() + deadline_s
        with self.database.connect() as connection:
            while time.monotonic() < deadline:
                done = connection.execute(_DONE, {"ids": bulk_ids, "final": FINAL}).scalar_one()
                connection.commit()
                if done == len(bulk_ids):
                    return time.time()
                time.sleep(0.02)
        print("  (the bulks did not finish before the deadline: the figures count what was sent)")
        return time.time()

    def _stop_workers(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.wait(timeout=60)
        self.workers = []

    def _cpu(self) -> _Cpu:
        return _Cpu(
            workers=sum(cpu_seconds(w.pid) or 0.0 for w in self.workers),
            api=(cpu_seconds(self.api.pid) or 0.0) if self.api is not None else 0.0,
            sandbox=self.sandbox.cpu_seconds() or 0.0,
        )

    def _sandbox_record(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.sandbox.url}/_sandbox/requests") as answer:
            records: list[dict[str, Any]] = json.load(answer)["data"]
        return [r for r in records if str(r["path"]).endswith("/messages")]

    def _clear_sandbox_record(self) -> None:
        request = urllib.request.Request(f"{self.sandbox.url}/_sandbox/requests", method="DELETE")
        with urllib.request.urlopen(request):
            pass

    def _engine_payload(self) -> dict[str, Any]:
        """A body the engine posted in the last round (the bare loop posts the same)."""
        url = f"{self.sandbox.url}/_sandbox/requests?limit=1"
        with urllib.request.urlopen(url) as answer:
            body: dict[str, Any] = json.load(answer)["data"][0]["body"]
        return body

    def _log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _wait_for_line(self, line: str, count: int) -> None:
        deadline = time.monotonic() + 60
        while self._log_text().count(line) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(self._log_text()[-3000:])
            time.sleep(0.1)

    def close(self) -> None:
        for process in [*self.workers, *([self.api] if self.api else [])]:
            if process.poll() is None:
                process.kill()
            process.wait()
        self.database.dispose()


@dataclass(frozen=True)
class _Cpu:
    """CPU seconds so far: the workers' together, the API process's, the sandbox's."""

    workers: float
    api: float
    sandbox: float


def _bulk_request(n: int, number: str, recipients: int, batch: int, send_at: datetime) -> Any:
    from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb

    return pb.SendBulkRequest(
        phone_number_id=number,
        template_name="order_update",
        language="es",
        send_at=send_at.isoformat(),
        recipients=[
            pb.BulkRecipient(
                phone=_phone(batch, n, i), variables={"order_id": f"ORD-{i}", "status": "listo"}
            )
            for i in range(recipients)
        ],
    )


def _phone(batch: int, number: int, i: int) -> str:
    """A distinct Argentine mobile per round, number and recipient."""
    return f"+54911{2 + batch % 8}{number}{i:06d}"


async def _bare_loop(sandbox_url: str, body: dict[str, Any], recipients: int, batch: int) -> float:
    """Seconds to post every number's messages, ``IN_FLIGHT`` at once, numbers interleaved."""
    jobs = iter([(n, i) for i in range(recipients) for n in range(len(NUMBERS))])
    headers = {"Authorization": f"Bearer {TOKEN}"}
    version = "v21.0"
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post_all() -> None:
            for n, i in jobs:
                url = f"{sandbox_url}/{version}/{NUMBERS[n]}/messages"
                payload = {**body, "to": _phone(batch, n, i).removeprefix("+")}
                async with session.post(url, json=payload, headers=headers) as answer:
                    await answer.read()

        started = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(IN_FLIGHT)))
        return time.perf_counter() - started


def _twice(accepted: list[dict[str, Any]]) -> int:
    """Recipients Meta accepted more than once on one number."""
    sent = Counter((str(r["path"]), str(r["body"]["to"])) for r in accepted)
    return sum(1 for n in sent.values() if n > 1)


def _sandbox_config(path: Path) -> Path:
    """The sandbox's demo account with 8 HIGH numbers on an unlimited tier."""
    demo = Path(__file__).resolve().parents[1] / "mindo_sandbox" / "demo.json"
    data = json.loads(demo.read_text())
    first = data["wabas"][0]["phone_numbers"][0]
    data["wabas"][0]["phone_numbers"] = [
        {
            **first,
            "id": number,
            "display_phone_number": f"+54 9 223 675-{780 + n:04d}",
            "throughput": {"level": "HIGH"},
            "throughput_mps": 1000,
            "whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED",
        }
        for n, number in enumerate(NUMBERS)
    ]
    path.write_text(json.dumps(data))
    return path


def _sleep_until(unix_seconds: float) -> None:
    time.sleep(max(0.0, unix_seconds - time.time()))


def _load() -> float:
    return os.getloadavg()[0]


if __name__ == "__main__":
    run()
