"""The quota's decisions on single sends, alone, on PostgreSQL: what sharing them across API
processes costs against deciding in one process's memory, in the same run.

One process's ``OrganisationQuota`` (the service's own, batching per organisation) with 200
concurrent clients, each asking for room for a recipient new to the window one after another
for ``BENCH_QUOTA_SECONDS`` (5) per case, and leaving its block at once (no Meta, no record:
only the decision and the reservation's release). The organisation is at ``TIER_100K`` (at
``TIER_250K`` when the window would leave the clients no room) and its
window holds ``BENCH_QUOTA_WINDOW`` (10,000) recipients, read by every batch that does not
reuse a reading.

Cases, on one fresh database (``MINDO_BENCH_POSTGRES_URL``, else ``MINDO_TEST_POSTGRES_URL``;
skipped without either):

* ``in memory``: ``ProcessQuotaLedger`` over the SQL bulk store reading the whole book for
  every batch (what SQLite ran before readings were reused; reservations in this process);
* ``mem. reused``: the same reusing a reading while the database's book version stands (what
  SQLite runs now: ``quota_book_versions``);
* ``shared``: ``SqlQuotaLedger`` (a transaction per batch under the organisation's advisory
  lock, reservation rows every process sees, a reading reused likewise).

Printed: decisions/s, p50/p99 ms per decision, batches (one reading of the book each), CPU ms
per decision (this process: the service's side; PostgreSQL's own work is not counted).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.postgres_database import fresh_database, postgres_server
from mindo_core.adapters.memory.quota_ledger import ProcessQuotaLedger
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.engine import make_async_engine
from mindo_core.adapters.sql.quota_book_versions import SqlQuotaBookVersions
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import SystemClock
from mindo_core.domain.messages import NewMessage
from mindo_core.ports.meta import PhoneNumberInfo, TemplateInfo
from mindo_core.ports.quota import QuotaBook, QuotaLedger, ReservationId
from mindo_core.ports.stores import Stores
from mindo_core.services.organisation_quota import OrganisationQuota

CLIENTS = 200
SECONDS = float(os.environ.get("BENCH_QUOTA_SECONDS", "5"))
WINDOW = int(os.environ.get("BENCH_QUOTA_WINDOW", "10000"))
TIER = "TIER_100K" if WINDOW + CLIENTS <= 100_000 else "TIER_250K"


@dataclass(frozen=True)
class Figures:
    decisions: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    batches: int

    def row(self, name: str) -> str:
        ordered = sorted(self.latencies) or [0.0]
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        cpu_ms = self.cpu_seconds * 1000 / max(1, self.decisions)
        rate = self.decisions / self.seconds
        return f"{name:<12} {rate:>11.0f} {p50:>8.1f} {p99:>8.1f} {self.batches:>8} {cpu_ms:>12.3f}"


class CountingLedger:
    """A ledger that counts its decisions (one per batch)."""

    def __init__(self, inner: QuotaLedger) -> None:
        self._inner = inner
        self.decisions = 0

    async def read(self, organisation_id: OrganisationId, *, since: datetime) -> QuotaBook:
        return await self._inner.read(organisation_id, since=since)

    async def decide(
        self,
        organisation_id: OrganisationId,
        *,
        since: datetime,
        decision: Callable[[QuotaBook], Sequence[str]],
    ) -> list[ReservationId]:
        self.decisions += 1
        return await self._inner.decide(organisation_id, since=since, decision=decision)

    def holding(
        self, organisation_id: OrganisationId, *, since: datetime
    ) -> AbstractAsyncContextManager[QuotaBook]:
        return self._inner.holding(organisation_id, since=since)

    async def release(
        self,
        organisation_id: OrganisationId,
        reservations: Collection[ReservationId],
        *,
        recorded: bool,
    ) -> None:
        await self._inner.release(organisation_id, reservations, recorded=recorded)


async def _organisation(stores: Stores) -> OrganisationId:
    """An organisation at ``TIER`` whose window holds ``WINDOW`` recipients."""
    organisation = await stores.organisations.create_organisation("Bench quota")
    account = await stores.accounts.upsert_business_account(
        organisation_id=organisation.id,
        waba_id="waba-bench",
        name="Bench",
        encrypted_access_token=b"not-a-token",
    )
    number = await stores.accounts.upsert_phone_number(
        account.id,
        PhoneNumberInfo(
            phone_number_id="1000",
            display_phone_number="+34 600 000 000",
            verified_name="Bench",
            quality_rating="GREEN",
            messaging_limit_tier=TIER,
            throughput_level="STANDARD",
        ),
    )
    template = await stores.templates.upsert_template(
        account.id,
        TemplateInfo(
            meta_template_id="tmpl-1",
            name="greeting",
            language="es",
            status="APPROVED",
            category="UTILITY",
            parameter_format="NAMED",
            components=[{"type": "BODY", "text": "Hola"}],
        ),
    )
    now = SystemClock().now() - timedelta(hours=1)
    messages = [
        NewMessage(
            organisation_id=organisation.id,
            phone_number_row_id=number.id,
            template_id=template.id,
            recipient_phone=f"+3460{i:07d}",
            variables_used={},
            wamid=f"wamid.{i}",
            status="sent",
            created_at=now,
            sent_at=now,
        )
        for i in range(WINDOW)
    ]
    for start in range(0, WINDOW, 1000):
        await stores.messages.add_messages(messages[start : start + 1000])
    return organisation.id


async def _drive(stores: Stores, ledger: QuotaLedger, organisation_id: OrganisationId) -> Figures:
    counting = CountingLedger(ledger)
    quota = OrganisationQuota(accounts=stores.accounts, ledger=counting, clock=SystemClock())
    numbers = itertools.count(int(time.time() * 1000) % 10_000_000 * 100)
    latencies: list[float] = []
    stop_at = time.perf_counter() + SECONDS

    async def client() -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            async with quota.reserve(organisation_id, f"5491{next(numbers):010d}"):
                latencies.append(time.perf_counter() - started)

    cpu_before, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return Figures(
        decisions=len(latencies),
        seconds=time.perf_counter() - started,
        latencies=latencies,
        cpu_seconds=time.process_time() - cpu_before,
        batches=counting.decisions,
    )


async def _run(url: str) -> None:
    await asyncio.to_thread(upgrade_database, url)
    stores = await open_stores(url)
    versions = Database(make_async_engine(url))
    try:
        organisation_id = await _organisation(stores)
        print(
            f"{'ledger':<12} {'decisions/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'batches':>8} "
            f"{'CPU ms/dec.':>12}"
        )
        reused = ProcessQuotaLedger(stores.bulks, versions=SqlQuotaBookVersions(versions))
        for name, ledger in (
            ("in memory", ProcessQuotaLedger(stores.bulks)),
            ("mem. reused", reused),
            ("shared", stores.quota_ledger),
            ("in memory", ProcessQuotaLedger(stores.bulks)),
            ("mem. reused", reused),
            ("shared", stores.quota_ledger),
        ):
            print((await _drive(stores, ledger, organisation_id)).row(name))
    finally:
        await stores.close()
        await versions.close()


def run() -> None:
    server = postgres_server()
    if not server:
        print("quota_decisions: skipped (set MINDO_BENCH_POSTGRES_URL to a PostgreSQL server)")
        return
    print(
        f"quota decisions: {CLIENTS} concurrent clients, {SECONDS:.0f} s per case, a window of "
        f"{WINDOW:,} recipients, {TIER}, PostgreSQL "
        f"(load average {os.getloadavg()[0]:.2f} at start)"
    )
    with fresh_database(server) as url:
        asyncio.run(_run(url))
    print(f"(load average {os.getloadavg()[0]:.2f} at the end)")
