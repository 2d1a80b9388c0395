"""A bulk at the number's cap and a stream of single sends on the same number, with the real
engine, SQLite and the sandbox in a process of its own refusing anything beyond the cap
(130429). Targets (issue #11): zero 130429; the number's total within 2 % of the cap (the bulk
yields what the single sends take); a single send's wait for its slot p99 ≤ 50 ms.

The wait for a slot is read as the time a single send takes to reach Meta (from the call to the
sandbox's record of it) while the bulk sends at the cap, minus the same on the idle number, in the
same run (p50s and p99s of each): what the campaign costs a verification code before it goes. The
whole latency (answered once its record is durable) is shown beside it the same way. Cases:
80/s (STANDARD) and 1,000/s (HIGH), single sends at a tenth of the cap.
``BENCH_SHARED_SECONDS`` (default 8) seconds of bulk per case.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass

from bench.bench_tenant import NUMBER, bench_principal, order_command, sqlite_services
from bench.sandbox_process import SandboxProcess
from mindo_core.bootstrap import Services
from mindo_core.domain.errors import MindoError
from mindo_core.services.authenticate import Principal
from mindo_core.services.send_message import SendMessageCommand

CASES = (("STANDARD", 80), ("HIGH", 1000))
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
SINGLE_SHARE = 0.1  # single sends at a tenth of the cap
IDLE_SECONDS = 3.0  # single sends on the idle number, at the same rate as beside the bulk


def run() -> None:
    seconds = float(os.environ.get("BENCH_SHARED_SECONDS", "8"))
    print(
        "a bulk at the cap and single sends on the same number (real engine, SQLite, the"
        f" sandbox in another process; load average {os.getloadavg()[0]:.2f} at start)"
    )
    print(
        f"{'level':>9} {'cap/s':>6} {'bulk/s':>7} {'single/s':>8} {'total/cap':>9} {'130429':>7}"
        f" {'reach Meta idle/at cap p50·p99 ms':>36} {'slot wait p50/p99 ms':>21}"
        f" {'answer idle/at cap p50·p99 ms':>32} {'added p50/p99':>14}"
    )
    levels = os.environ.get("BENCH_SHARED_LEVELS", "STANDARD,HIGH").split(",")
    for level, cap in (case for case in CASES if case[0] in levels):
        sandbox = SandboxProcess.start("--mps", str(cap))
        try:
            case = asyncio.run(_case(sandbox, level, cap, seconds))
        finally:
            sandbox.stop()
        print(
            f"{level:>9} {cap:>6} {case.bulk_rate:>7.1f} {case.single_rate:>8.1f}"
            f" {(case.bulk_rate + case.single_rate) / cap:>9.3f} {case.throttled:>7}"
            f" {_compared([s.reach for s in case.idle], [s.reach for s in case.busy])}"
            f" {_compared([s.latency for s in case.idle], [s.latency for s in case.busy])}"
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


@dataclass(frozen=True)
class Case:
    bulk_rate: float  # the bulk's accepted sends per second while both ran
    single_rate: float
    throttled: int
    idle: list[Single]  # single sends with the number idle
    busy: list[Single]  # and while the bulk sends at the cap


@dataclass(frozen=True)
class Single:
    """One answered single send: its latency, and how long it took to reach the sandbox."""

    latency: float  # seconds, from the call to its answer
    reach: float  # seconds, from the call to the sandbox's record of it


async def _case(sandbox: SandboxProcess, level: str, cap: int, seconds: float) -> Case:
    await sandbox.patch_number(
        NUMBER,
        {"throughput_level": level, "whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED"},
    )
    async with sqlite_services(sandbox.url) as (services, stores):
        principal = await bench_principal(services)
        rate = cap * SINGLE_SHARE
        idle_count = int(rate * IDLE_SECONDS)
        idle = await _singles(services, principal, first=0, count=idle_count, rate=rate)
        await asyncio.sleep(1.5)  # the idle sends' second is over
        bulk = (await services.submit_bulk(principal, order_command(int(cap * seconds)))).bulk
        began = time.time()
        await services.bulk_engine.start()
        await asyncio.sleep(1.0)  # the bulk reaches the cap
        count = int(rate * (seconds - 3))
        busy = await _singles(services, principal, first=idle_count, count=count, rate=rate)
        ended = time.time()
        for _ in range(int(10 * seconds) + 600):  # the bulk's rest, bounded
            found = await stores.bulks.get_bulk(bulk.id)
            if found is None or found.status in FINAL:
                break
            await asyncio.sleep(0.1)
    sends = await sandbox.sends()
    during = [r for r in sends if r.wamid is not None and began + 1.0 <= r.at <= ended]
    singles = len(busy)  # those answered; a refused one is in neither count
    span = ended - (began + 1.0)
    reached = {r.wamid: r.at for r in sends if r.wamid is not None}
    return Case(
        bulk_rate=(len(during) - singles) / span,
        single_rate=singles / span,
        throttled=sum(1 for r in sends if r.error_code == 130429),
        idle=[s.answered(reached) for s in idle],
        busy=[s.answered(reached) for s in busy],
    )


@dataclass(frozen=True)
class _Answered:
    started: float  # Unix seconds
    latency: float
    wamid: str

    def answered(self, reached: dict[str, float]) -> Single:
        return Single(latency=self.latency, reach=reached[self.wamid] - self.started)


async def _singles(
    services: Services, principal: Principal, *, first: int, count: int, rate: float
) -> list[_Answered]:
    """``count`` single sends started ``rate`` a second; those answered."""

    async def one(n: int) -> _Answered | None:
        command = SendMessageCommand(
            phone_number_id=NUMBER,
            template_name="order_update",
            recipient_phone=f"+54922{n:08d}",
            variables={"order_id": f"ORD-{n}", "status": "listo"},
        )
        started, clock = time.time(), time.perf_counter()
        try:
            sent = await services.send_message(principal, command)
        except MindoError:  # counted from the sandbox's record (130429) or the refusals
            return None
        return _Answered(started, time.perf_counter() - clock, sent.wamid)

    tasks = []
    for n in range(first, first + count):
        tasks.append(asyncio.create_task(one(n)))
        await asyncio.sleep(1 / rate)
    return [answered for answered in await asyncio.gather(*tasks) if answered is not None]


def _compared(idle: list[float], busy: list[float]) -> str:
    """p50 and p99 on the idle number and beside the bulk, and what the bulk added to each."""
    added = _ms(busy, 50) - _ms(idle, 50), _ms(busy, 99) - _ms(idle, 99)
    return (
        f"{_ms(idle, 50):>6.1f}·{_ms(idle, 99):>6.1f} / {_ms(busy, 50):>6.1f}·{_ms(busy, 99):>6.1f}"
        f"   {added[0]:>6.1f} / {added[1]:>6.1f}"
    )


def _ms(latencies: list[float], percentile: int) -> float:
    if len(latencies) < 2:
        return 0.0
    return statistics.quantiles(latencies, n=100)[percentile - 1] * 1000
