"""Peak memory of a 1,000,000-recipient bulk. Target: the engine process ≤ 400 MB.

A request carries at most 100,000 recipients (documented), so a 1,000,000-recipient bulk is not
made through SendBulk: it is written with ``create_bulk`` from a generator, streamed in chunks
inside the one transaction (what a later "import a CSV" path would do), then sent by the real
engine. Each case runs in a fresh process of its own (``spawn``), so that its peak resident set
(``ru_maxrss``) is its own:

    submission   ``SubmitBulk`` of one 100,000-recipient request (the API's maximum): the
                 request's list, validation, the quota plan and the streamed insert
    store        ``create_bulk`` of N recipients from a generator (nothing else)
    engine       the same N-recipient bulk sent by the real engine (``bootstrap.wire``, SQLite
                 file) to the sandbox in another process (``--unlimited``: no throughput
                 limit, no pair rate, no latency; the number HIGH with an unlimited tier, the
                 engine's own throughput uncapped), until every outcome is durable. The
                 resident set is sampled every 0.2 s while it sends; the peak of the whole
                 process (creation included) is printed too

Figures: the process's resident set when the case starts (Python, imports, the set-up), its
peak, and the peak against the 400 MB target. N is ``BENCH_MEMORY_RECIPIENTS`` (default
50,000, under a minute on 2 cores; 1000000 for the target's size, about 15 minutes).
Asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services
    from mindo_core.bulks.model import BulkId
    from mindo_core.domain.accounts import OrganisationId
    from mindo_core.ports.stores import Stores
    from mindo_core.services.authenticate import Principal

# The sandbox demo number (bench.bench_tenant.NUMBER): not imported at module level, so that a
# case's memory baseline is taken before Mindo is imported.
NUMBER = "813497231850626"
TARGET_BYTES = 400 * 1024 * 1024
MAX_RECIPIENTS = 100_000  # per request (bulk_submission.MAX_RECIPIENTS)
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
SAMPLE_SECONDS = 0.2


@dataclass(frozen=True)
class Peak:
    case: str
    recipients: int
    start_bytes: int
    peak_bytes: int
    # The engine case: the largest sample while sending, seconds, and what was sent.
    sending_peak_bytes: int | None = None
    seconds: float | None = None
    sent: int | None = None


def run() -> None:
    n = int(os.environ.get("BENCH_MEMORY_RECIPIENTS", "50000"))
    load = os.getloadavg()[0]
    print(f"peak memory (resident set) per process, target ≤ 400 MB; load average {load:.2f}")
    print(f"{'case':<11} {'recipients':>10} {'start MB':>9} {'peak MB':>8} {'peak/target':>11}")
    for case, size in (("submission", MAX_RECIPIENTS), ("store", n), ("engine", n)):
        _print(_in_own_process(case, size))


def _print(peak: Peak) -> None:
    mb = 1024 * 1024
    print(
        f"{peak.case:<11} {peak.recipients:>10} {peak.start_bytes / mb:>9.0f} "
        f"{peak.peak_bytes / mb:>8.0f} {peak.peak_bytes / TARGET_BYTES:>11.2f}"
    )
    if peak.sending_peak_bytes is not None and peak.seconds:
        rate = (peak.sent or 0) / peak.seconds
        print(
            f"{'':<11} while sending: peak {peak.sending_peak_bytes / mb:.0f} MB "
            f"({peak.sending_peak_bytes / TARGET_BYTES:.2f} of the target); "
            f"{peak.sent} sent in {peak.seconds:.0f} s ({rate:.0f}/s)"
        )


def _in_own_process(case: str, size: int) -> Peak:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_case, case, size).result()


def _case(case: str, size: int) -> Peak:
    """Runs in the case's own process."""
    cases: dict[str, Callable[[int], Peak]] = {
        "submission": lambda n: asyncio.run(_submission(n)),
        "store": lambda n: asyncio.run(_store(n)),
        "engine": _engine,
    }
    return cases[case](size)


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


# -- the cases ------------------------------------------------------------------------------------


async def _submission(n: int) -> Peak:
    from bench.bench_tenant import order_command
    from mindo_sandbox.config import SandboxConfig
    from mindo_sandbox.server import start_sandbox

    sandbox = await start_sandbox(SandboxConfig.demo())
    try:
        async with _services(sandbox.url) as (services, _, principal):
            start = _rss_bytes()
            command = order_command(n)
            await services.submit_bulk(principal, command)
            return Peak("submission", n, start, _peak_bytes())
    finally:
        await sandbox.stop()


async def _store(n: int) -> Peak:
    from mindo_sandbox.config import SandboxConfig
    from mindo_sandbox.server import start_sandbox

    sandbox = await start_sandbox(SandboxConfig.demo())
    try:
        async with _services(sandbox.url) as (_, stores, principal):
            start = _rss_bytes()
            await _create_streamed(stores, principal.organisation.id, n)
            return Peak("store", n, start, _peak_bytes())
    finally:
        await sandbox.stop()


def _engine(n: int) -> Peak:
    from bench.sandbox_process import SandboxProcess

    sandbox = SandboxProcess.start("--unlimited")
    try:
        return asyncio.run(_send(sandbox, n))
    finally:
        sandbox.stop()


async def _send(sandbox: object, n: int) -> Peak:
    from bench.sandbox_process import SandboxProcess

    assert isinstance(sandbox, SandboxProcess)
    # Meta's HIGH throughput comes with an unlimited tier: no recipient waits for quota.
    await sandbox.patch_number(
        NUMBER,
        {"throughput_level": "HIGH", "whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED"},
    )
    async with _services(sandbox.url, uncapped=True) as (services, stores, principal):
        start = _rss_bytes()
        bulk_id = await _create_streamed(stores, principal.organisation.id, n)
        sampled = _rss_bytes()
        started = time.perf_counter()
        await services.bulk_engine.start()
        sent = 0
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            sampled = max(sampled, _rss_bytes())
            found = await stores.bulks.get_bulk(bulk_id)
            assert found is not None
            sent = found.counters.sent + found.counters.failed
            if found.status in FINAL and found.counters.pending == 0:
                break
        seconds = time.perf_counter() - started
        return Peak("engine", n, start, _peak_bytes(), sampled, seconds, sent)


# -- set-up ---------------------------------------------------------------------------------------


def _services(
    meta_url: str, *, uncapped: bool = False
) -> AbstractAsyncContextManager[tuple[Services, Stores, Principal]]:
    """The real wiring over a fresh SQLite file, and the bench tenant's principal."""
    from bench.bench_tenant import bench_principal, sqlite_services
    from mindo_core.engine.bulk_engine import EngineSettings

    # The engine's own throughput for the number, far above what it reaches.
    settings = EngineSettings(throughput_mps=1_000_000.0) if uncapped else None

    @asynccontextmanager
    async def opened():  # type: ignore[no-untyped-def]
        async with sqlite_services(meta_url, engine_settings=settings) as (services, stores):
            yield services, stores, await bench_principal(services)

    return opened()


async def _create_streamed(stores: Stores, organisation_id: OrganisationId, n: int) -> BulkId:
    """A queued bulk of ``n`` recipients of ``order_update``, written from a generator."""
    import uuid

    from mindo_core.bulks.model import BulkId
    from mindo_core.ports.bulks import NewBulk, NewBulkRecipient, in_chunks

    found = await stores.accounts.find_sender(organisation_id, NUMBER)
    assert found is not None
    number, account, _ = found
    template = await stores.templates.find_template(account.id, "order_update", "es")
    assert template is not None
    new = NewBulk(
        id=BulkId(str(uuid.uuid4())),
        task_id=str(uuid.uuid4()),
        organisation_id=organisation_id,
        phone_number_row_id=number.id,
        template_id=template.id,
        pacing="max",
        total_recipients=n,
        estimated_time_minutes=0.0,
        created_at=datetime.now(UTC),
    )

    def recipients() -> Iterator[NewBulkRecipient]:
        for i in range(n):
            yield NewBulkRecipient(
                position=i,
                e164=f"+549{1_100_000_000 + i}",
                variables_used={"order_id": f"ORD-{i}", "status": "listo"},
            )

    bulk = await stores.bulks.create_bulk(new, in_chunks(recipients()))
    return bulk.id


if __name__ == "__main__":
    run()
