"""Achieved send rate against the configured cap, with the real engine, the sandbox over HTTP and
a SQLite file: 80 messages/s (STANDARD) and 1,000 messages/s (HIGH). Target: ≥ 0.97 of the cap
with zero 130429. The rate is measured over the sandbox's own record of accepted sends (first to
last), so start-up and the final flush do not count.

The sandbox runs in a child process of its own (``python -m mindo_sandbox --mps CAP``), as
``mindo dev`` runs it: the engine and the sandbox each get a core instead of sharing one event
loop.

Recipients per case: ``BENCH_RATE_SECONDS`` (default 10) seconds' worth at the cap;
``BENCH_RATE_LEVELS`` (``STANDARD,HIGH``) the cases to run. *engine ms/msg* is this process's
CPU (the engine, its SQLite threads, the polling) from the engine's start to the bulk's end, per
accepted send. The engine
runs on the event loop ``mindo serve`` would choose (``MINDO_EVENT_LOOP``: uvloop when installed,
or asyncio), and so does the sandbox, which reads the same variable.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from bench.bench_tenant import NUMBER, bench_principal, order_command, sqlite_services
from bench.sandbox_process import SandboxProcess, pauses_summary
from mindo_cli import event_loop
from mindo_core.settings import Settings

CASES = (("STANDARD", 80), ("HIGH", 1000))
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


def run() -> None:
    seconds = float(os.environ.get("BENCH_RATE_SECONDS", "10"))
    load = os.getloadavg()
    loop = Settings.from_env(os.environ).event_loop
    print(
        "bulk send rate against the configured cap (real engine and SQLite here, the sandbox in"
        f" another process over HTTP; event loop {loop}; load average {load[0]:.2f} at start)"
    )
    print(
        f"{'level':>9} {'cap/s':>6} {'sent':>7} {'achieved/s':>11} {'ratio':>6} {'130429':>7}"
        f" {'engine ms/msg':>13}   the sandbox's garbage collections while sending"
    )
    levels = os.environ.get("BENCH_RATE_LEVELS", "STANDARD,HIGH").split(",")
    for level, cap in (case for case in CASES if case[0] in levels):
        sandbox = SandboxProcess.start("--mps", str(cap))
        try:
            case = event_loop.run(_case(sandbox, level, cap, int(cap * seconds)), event_loop=loop)
        finally:
            sandbox.stop()
        pauses = pauses_summary(sandbox.gc_pauses or [], case.first_at, case.last_at)
        print(
            f"{level:>9} {cap:>6} {case.sent:>7} {case.rate:>11.1f} {case.rate / cap:>6.3f}"
            f" {case.throttled:>7} {case.cpu_ms_per_send:>13.3f}   {pauses}"
        )
        if case.refused_at:
            print(f"{'':>9} 130429 at (s after the first accepted send): {case.refused_at}")


@dataclass(frozen=True)
class Case:
    sent: int  # accepted by the sandbox
    rate: float  # accepted per second, first to last
    throttled: int  # answered 130429
    first_at: float  # Unix seconds of the first and last accepted send
    last_at: float
    cpu_seconds: float  # this process's, from the engine's start to the bulk's end
    refused_at: str  # when the 130429 came, in bursts: "2.31 ×18, 7.02 ×1"

    @property
    def cpu_ms_per_send(self) -> float:
        return self.cpu_seconds * 1000 / max(1, self.sent)


async def _case(sandbox: SandboxProcess, level: str, cap: int, recipients: int) -> Case:
    # An unlimited tier, as Meta gives HIGH numbers: no recipient waits for quota.
    await sandbox.patch_number(
        NUMBER,
        {"throughput_level": level, "whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED"},
    )
    async with sqlite_services(sandbox.url) as (services, stores):
        principal = await bench_principal(services)
        bulk = (await services.submit_bulk(principal, order_command(recipients))).bulk
        cpu_at_start = time.process_time()
        await services.bulk_engine.start()
        # Bounded: a case that cannot keep up reports what it sent by then.
        deadline = asyncio.get_running_loop().time() + 3 * recipients / cap + 20
        while asyncio.get_running_loop().time() < deadline:
            found = await stores.bulks.get_bulk(bulk.id)
            if found is not None and found.status in FINAL and found.counters.pending == 0:
                break
            await asyncio.sleep(0.1)
        cpu_seconds = time.process_time() - cpu_at_start
    sends = await sandbox.sends()
    accepted = sorted(r.at for r in sends if r.wamid is not None)
    throttled = sum(1 for r in sends if r.error_code == 130429)
    span = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
    rate = (len(accepted) - 1) / span if span > 0 else 0.0
    first, last = (accepted[0], accepted[-1]) if accepted else (0.0, 0.0)
    return Case(
        sent=len(accepted),
        rate=rate,
        throttled=throttled,
        first_at=first,
        last_at=last,
        cpu_seconds=cpu_seconds,
        refused_at=_bursts([r.at - first for r in sends if r.error_code == 130429]),
    )


def _bursts(offsets: list[float]) -> str:
    """Refusals 100 ms or less apart as one burst: its first time and its size."""
    bursts: list[list[float]] = []
    for at in sorted(offsets):
        if bursts and at - bursts[-1][-1] <= 0.1:
            bursts[-1].append(at)
        else:
            bursts.append([at])
    return ", ".join(f"{burst[0]:.2f} ×{len(burst)}" for burst in bursts)
