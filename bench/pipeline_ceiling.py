"""The bulk pipeline's ceiling: how fast the real engine sends when Meta is not the limit.

The real ``BulkEngine`` (``bootstrap.wire``), a SQLite file and ``HttpMetaGateway`` in this
process; the sandbox in a child process (``--unlimited``: no throughput limit, no pair rate, no
added latency) over real HTTP on 127.0.0.1. The engine's own throughput for the number is set
far above anything reachable (``EngineSettings.throughput_mps``), so what is measured is the
pipeline: claim, build the payload, send, parse, record the outcome, publish progress.

One bulk of ``BENCH_CEILING_RECIPIENTS`` (default 20,000) recipients is submitted first (not
measured); the clock runs from ``engine.start()`` until the bulk is over with every outcome
durable. Printed: messages/s end to end (and at the sandbox, first to last accepted send), CPU
ms per message of this process (the engine, SQLite and its thread included) and of the sandbox
process, and the ratio to the target of 1,500 messages/s on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from bench.bench_tenant import NUMBER, bench_principal, order_command, sqlite_services
from bench.sandbox_process import SandboxProcess, SendRecord
from mindo_core.bulks.model import Bulk
from mindo_core.engine.bulk_engine import EngineSettings
from mindo_core.ports.bulks import BulkStore

TARGET_MPS = 1500.0
# The engine's throughput for the number: far above what the pipeline reaches.
UNCAPPED_MPS = 1_000_000.0
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


@dataclass(frozen=True, kw_only=True)
class Figures:
    recipients: int
    seconds: float
    engine_cpu_s: float
    sandbox_cpu_s: float | None
    sends: list[SendRecord]

    @property
    def accepted(self) -> list[float]:
        return sorted(s.at for s in self.sends if s.wamid is not None)


def run() -> None:
    recipients = int(os.environ.get("BENCH_CEILING_RECIPIENTS", "20000"))
    load = os.getloadavg()
    sandbox = SandboxProcess.start("--unlimited")
    try:
        figures = asyncio.run(_measure(sandbox, recipients))
    finally:
        sandbox.stop()
    _report(figures, load)


def _report(figures: Figures, load: tuple[float, float, float]) -> None:
    n = figures.recipients
    accepted = figures.accepted
    done = max(1, len(accepted))  # every recipient, unless the deadline came first
    rate = done / figures.seconds
    span = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
    at_sandbox = (len(accepted) - 1) / span if span > 0 else 0.0
    refused = sum(1 for s in figures.sends if s.wamid is None)
    sandbox_cpu = figures.sandbox_cpu_s
    sandbox_ms = "n/a" if sandbox_cpu is None else f"{sandbox_cpu * 1e3 / done:.3f}"
    print(
        f"bulk pipeline ceiling: {n} recipients, engine + SQLite file here, sandbox (--unlimited,"
        f" no latency) in another process over HTTP; {os.cpu_count()} CPUs,"
        f" load average {load[0]:.2f} at start"
    )
    print(f"  end to end        {rate:>9.0f} messages/s  ({figures.seconds:.2f} s)")
    print(f"  at the sandbox    {at_sandbox:>9.0f} messages/s  (first to last accepted send)")
    print(f"  engine process    {figures.engine_cpu_s * 1e3 / done:>9.3f} CPU ms/message")
    print(f"  sandbox process   {sandbox_ms:>9} CPU ms/message")
    print(f"  accepted {len(accepted)}, refused {refused}")
    print(f"  ratio to the target ({TARGET_MPS:.0f} messages/s): {rate / TARGET_MPS:.2f}")


async def _measure(sandbox: SandboxProcess, recipients: int) -> Figures:
    # Meta's HIGH throughput comes with an unlimited tier: no recipient waits for quota.
    await sandbox.patch_number(
        NUMBER,
        {"throughput_level": "HIGH", "whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED"},
    )
    settings = EngineSettings(throughput_mps=UNCAPPED_MPS)
    async with sqlite_services(sandbox.url, engine_settings=settings) as (services, stores):
        principal = await bench_principal(services)
        bulk = (await services.submit_bulk(principal, order_command(recipients))).bulk
        cpu, sandbox_cpu, started = (
            time.process_time(),
            sandbox.cpu_seconds(),
            time.perf_counter(),
        )
        await services.bulk_engine.start()
        await _finished(stores.bulks, bulk, deadline=started + 60 + recipients / 100)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        sandbox_after = sandbox.cpu_seconds()
    return Figures(
        recipients=recipients,
        seconds=seconds,
        engine_cpu_s=cpu,
        sandbox_cpu_s=(
            None if sandbox_cpu is None or sandbox_after is None else sandbox_after - sandbox_cpu
        ),
        sends=await sandbox.sends(),
    )


async def _finished(store: BulkStore, bulk: Bulk, *, deadline: float) -> None:
    """Until the bulk is over with every outcome written (or the deadline: then it says so)."""
    while time.perf_counter() < deadline:
        found = await store.get_bulk(bulk.id)
        if found is not None and found.status in FINAL and found.counters.pending == 0:
            return
        await asyncio.sleep(0.02)
    print("  (the bulk did not finish before the deadline: the figures count what was sent)")


if __name__ == "__main__":
    run()
