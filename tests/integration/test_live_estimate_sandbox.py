"""A sending bulk's estimate re-planned from what happens, for real: the Meta sandbox over HTTP
with faults (5xx, 20-100 ms latency, one recipient answering 131056 three times), the engine,
the SQL store on a SQLite file. What the store shows (and so every process) and what WatchBulk
streams move from the plan towards the real finish; the 202's estimate stays as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mindo_core.adapters.crypto import FernetTokenCipher
from mindo_core.adapters.meta import HttpMetaGateway
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.bootstrap import Services, wire
from mindo_core.bulks.model import Bulk
from mindo_core.bulks.submission import RecipientInput
from mindo_core.domain.clock import SystemClock
from mindo_core.engine.bulk_engine import EngineSettings
from mindo_core.ports.stores import Stores
from mindo_core.services.authenticate import Principal
from mindo_core.services.submit_bulk import SubmitBulkCommand
from mindo_core.throughput.retry_policy import RetrySettings
from mindo_core.throughput.scheduler import PairRatePolicy
from mindo_sandbox.config import SandboxConfig
from mindo_sandbox.faults import FaultConfig
from mindo_sandbox.server import RunningSandbox, start_sandbox

WABA = "104996122399160"
TOKEN = "sandbox-demo-token"
NUMBER = "813497231850626"
SECRET = "live-estimate-sandbox-test-secret-of-32+-characters"
RECIPIENTS = 160  # 2 s at the number's 80/s
SLOW = 5  # answers 131056 three times: it waits 2 ** attempts s (a 5xx counts) each time

SETTINGS = EngineSettings(
    poll_interval=0.2,
    flush_interval=0.02,
    stop_grace_seconds=1.0,
    estimate_interval=0.1,
    retry=RetrySettings(base_delay_seconds=0.05, max_delay_seconds=0.2, pair_rate_base_seconds=2),
    pair_rate=PairRatePolicy(interval_seconds=0.05),
    seed=3,
)
FINAL = frozenset({"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"})


def phone(i: int) -> str:
    return f"+54911{61_000_000 + i}"


@dataclass(frozen=True)
class Seen:
    at: datetime  # when it was read
    bulk: Bulk


@dataclass
class Stack:
    sandbox: RunningSandbox
    services: Services
    stores: Stores
    principal: Principal

    async def submit(self) -> Bulk:
        command = SubmitBulkCommand(
            phone_number_id=NUMBER,
            template_name="order_update",
            recipients=[
                RecipientInput(phone=phone(i), variables={"order_id": f"O-{i}", "status": "ok"})
                for i in range(RECIPIENTS)
            ],
        )
        return (await self.services.submit_bulk(self.principal, command)).bulk

    async def read_until_over(self, bulk: Bulk) -> list[Seen]:
        """The bulk as the store shows it, every 20 ms, until it is over."""
        seen: list[Seen] = []

        async def poll() -> None:
            while True:
                found = await self.stores.bulks.get_bulk(bulk.id)
                assert found is not None
                seen.append(Seen(SystemClock().now(), found))
                if found.status in FINAL and found.counters.pending == 0:
                    return
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), 30)
        return seen


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    sandbox = await start_sandbox(SandboxConfig.demo())
    sandbox.state.set_faults(
        FaultConfig.from_json(
            {
                "seed": 7,
                "latency_ms": [20, 100],
                "server_error_rate": 0.05,
                "recipient_errors": {phone(SLOW).removeprefix("+"): [131056, 131056, 131056]},
            }
        )
    )
    url = f"sqlite:///{tmp_path / 'mindo.db'}"
    await asyncio.to_thread(upgrade_database, url)
    stores = await open_stores(url)
    meta = HttpMetaGateway(base_url=sandbox.url, total_timeout=1.0)
    services = wire(
        stores, meta, FernetTokenCipher(SECRET), SystemClock(), engine_settings=SETTINGS
    )
    try:
        await services.organisations.create("Acme")
        issued = await services.api_keys.issue("Acme")
        principal = await services.authenticator.authenticate(issued.plaintext, None)
        await services.accounts.connect("Acme", waba_id=WABA, access_token=TOKEN)
        yield Stack(sandbox, services, stores, principal)
    finally:
        await services.bulk_engine.stop()
        await meta.close()
        await stores.close()
        await sandbox.stop()


async def test_the_shown_estimate_follows_a_retry_waiting_and_the_original_stays(
    stack: Stack,
) -> None:
    accepted = await stack.submit()
    planned = accepted.created_at + timedelta(minutes=accepted.estimated_time_minutes)
    assert accepted.estimated_completion_at == planned
    watched: list[Bulk] = []

    async def watch() -> None:
        async for view in stack.services.watch_bulk(stack.principal, accepted.id):
            watched.append(view.bulk)

    watcher = asyncio.create_task(watch())
    await stack.services.bulk_engine.start()
    seen = await stack.read_until_over(accepted)
    await asyncio.wait_for(watcher, 10)

    done = seen[-1].bulk
    assert done.completed_at is not None
    assert (done.status, done.counters.sent) == ("COMPLETED", RECIPIENTS)
    # The 202's estimate is kept, whatever is re-planned.
    for s in seen:
        assert s.bulk.original_estimated_time_minutes == accepted.estimated_time_minutes
        assert s.bulk.estimated_time_minutes == accepted.estimated_time_minutes
    # The faults made the bulk later than the plan (the retried recipient waited 7 s or more).
    assert done.completed_at > planned
    shown = [s for s in seen if s.bulk.status == "PROCESSING" and s.bulk.estimated_completion_at]
    assert any(s.bulk.estimated_completion_at != planned for s in shown)
    # Only the retried recipient left, waiting for its next try (2, 4, then 8 s): the time left
    # is what that wait says, later than the plan's finish and, while it waits, a second or
    # more after the moment it was shown. (Once its last try has started, the wait shown is
    # over until the answer is written: that moment is not the one to judge.)
    waiting = [s for s in shown if s.bulk.counters.pending == 1]
    assert waiting
    last_waiting = waiting[-1].bulk.estimated_completion_at
    assert last_waiting is not None
    assert last_waiting > planned
    assert any(
        s.bulk.estimated_completion_at is not None
        and s.bulk.estimated_completion_at > s.at + timedelta(seconds=1)
        for s in waiting
    )
    # Closer to the real finish than the plan was: the last wait (8 s) is what it shows, not
    # the wait before it, even when its answer came while the estimate was being written.
    assert abs(last_waiting - done.completed_at) < abs(planned - done.completed_at)
    assert last_waiting > done.completed_at - timedelta(seconds=4)
    # WatchBulk streamed the re-planned estimates too; over, it shows none.
    assert any(
        b.estimated_completion_at not in (None, planned)
        for b in watched
        if b.status == "PROCESSING"
    )
    assert done.expected_completion_at is None
