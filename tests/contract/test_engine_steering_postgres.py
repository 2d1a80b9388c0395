"""The engine's steering across processes on PostgreSQL: what the API process tells its engine
(a bulk submitted, cancelled, a number changed) reaches the engine of every other process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mindo_core.adapters.sql.engine_steering import PostgresSteeringRelay
from mindo_core.adapters.sql.notifications import PostgresNotifications
from mindo_core.bulks.model import BulkId
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.engine_steering import EngineSteering

pytestmark = pytest.mark.postgres

BULK = BulkId("0b7f3c1e-2a44-4a55-9d0e-3f5b2c1d0e9a")


class RecordingEngine:
    """An engine that writes down what it is told."""

    def __init__(self) -> None:
        self.told: list[str] = []
        self.changed = asyncio.Event()

    def wake(self) -> None:
        self._note("wake")

    def drop(self, bulk_id: BulkId) -> None:
        self._note(f"drop {bulk_id}")

    def refresh_number(self, phone_number_row_id: PhoneNumberRowId) -> None:
        self._note(f"refresh {phone_number_row_id}")

    def _note(self, word: str) -> None:
        self.told.append(word)
        self.changed.set()


class SteeredProcess:
    def __init__(self, url: str) -> None:
        self.notifications = PostgresNotifications(url)
        self.engine = RecordingEngine()
        self.steering: EngineSteering = PostgresSteeringRelay(self.notifications).relaying(
            self.engine
        )


@pytest.fixture
async def api_and_worker(postgres_database: str) -> AsyncIterator[tuple[SteeredProcess, ...]]:
    processes = (SteeredProcess(postgres_database), SteeredProcess(postgres_database))
    for process in processes:
        await process.notifications.start()
    yield processes
    for process in processes:
        await process.notifications.close()


async def _told(engine: RecordingEngine, count: int) -> list[str]:
    async with asyncio.timeout(5):
        while len(engine.told) < count:
            engine.changed.clear()
            await engine.changed.wait()
    return engine.told


async def test_what_the_api_process_tells_reaches_the_worker_s_engine_in_order(
    api_and_worker: tuple[SteeredProcess, SteeredProcess],
) -> None:
    api, worker = api_and_worker

    api.steering.wake()
    assert await _told(worker.engine, 1) == ["wake"]
    api.steering.drop(BULK)
    assert await _told(worker.engine, 2) == ["wake", f"drop {BULK}"]
    api.steering.refresh_number(PhoneNumberRowId(7))
    assert await _told(worker.engine, 3) == ["wake", f"drop {BULK}", "refresh 7"]


async def test_the_process_that_says_it_tells_its_own_engine_once(
    api_and_worker: tuple[SteeredProcess, SteeredProcess],
) -> None:
    api, worker = api_and_worker

    api.steering.drop(BULK)
    await _told(worker.engine, 1)
    await asyncio.sleep(0.2)  # its own notification has come back by now, and is ignored

    assert api.engine.told == [f"drop {BULK}"]


async def test_words_it_does_not_know_are_ignored(
    api_and_worker: tuple[SteeredProcess, SteeredProcess],
) -> None:
    api, worker = api_and_worker
    for nonsense in ("refresh:abc", "drop:", "explode:now", "x" * 500):
        api.notifications.notify("mindo_engine", nonsense)
    api.steering.wake()

    assert await _told(worker.engine, 1) == ["wake"]
    await asyncio.sleep(0.1)
    assert worker.engine.told == ["wake"]
