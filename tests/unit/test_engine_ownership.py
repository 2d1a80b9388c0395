"""The engine among several: numbers shared out by ``NumberOwnership`` (an in-memory lease board
standing for PostgreSQL's), one sender per number, a lost number no longer sent from, a number
handed back carried on by its new owner; and the fair share itself."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace

import pytest

from mindo_core.adapters.memory.stores import memory_stores
from mindo_core.bootstrap import wire
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.domain.clock import SystemClock
from mindo_core.domain.errors import InvalidRequest
from mindo_core.engine.decisions import fair_share
from mindo_core.engine.tenure import STOP_MARGIN_S, Tenure
from mindo_core.ports.ownership import Tenancy
from mindo_core.settings import Settings
from tests.bulk_fakes import FAST, OTHER_NUMBER, bulk_world, eventually
from tests.fakes import ReversingCipher

LEASE_S = 2.0  # the tenure counts it held for 1 s after each renewal began


class LeaseBoard:
    """Leases with expiry on one monotonic clock, shared by every engine handed it; ``seize``
    plays a worker elsewhere taking a number."""

    def __init__(self) -> None:
        self.leases: dict[PhoneNumberRowId, tuple[str, float]] = {}
        self.heartbeats: dict[str, float] = {}
        self.taken: list[tuple[PhoneNumberRowId, str]] = []
        self.renewals = 0

    @property
    def lease_seconds(self) -> float:
        return LEASE_S

    @property
    def sole_engine(self) -> bool:
        return False

    async def renew(self, worker: str) -> Tenancy:
        now = time.monotonic()
        self.renewals += 1
        self.heartbeats[worker] = now + LEASE_S
        held = set()
        for number, (holder, until) in self.leases.items():
            if holder == worker and until > now:
                self.leases[number] = (worker, now + LEASE_S)
                held.add(number)
        live = sum(1 for until in self.heartbeats.values() if until > now)
        return Tenancy(held=frozenset(held), live_workers=live)

    async def acquire(
        self, worker: str, numbers: Sequence[PhoneNumberRowId], *, limit: int
    ) -> AbstractSet[PhoneNumberRowId]:
        now = time.monotonic()
        taken: set[PhoneNumberRowId] = set()
        for number in numbers:
            if len(taken) >= limit:
                break
            holder = self.leases.get(number)
            if holder is None or holder[1] <= now:
                self.leases[number] = (worker, now + LEASE_S)
                self.taken.append((number, worker))
                taken.add(number)
        return frozenset(taken)

    async def release(self, worker: str, numbers: Iterable[PhoneNumberRowId]) -> None:
        for number in numbers:
            if self.leases.get(number, ("", 0.0))[0] == worker:
                del self.leases[number]

    async def leave(self, worker: str) -> None:
        self.heartbeats.pop(worker, None)
        for number in [n for n, (holder, _) in self.leases.items() if holder == worker]:
            del self.leases[number]

    def seize(self, number: PhoneNumberRowId, worker: str) -> None:
        self.leases[number] = (worker, time.monotonic() + 3600)


async def answer(value: bool) -> bool:
    return value


async def answer_async(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


@pytest.mark.parametrize(
    ("numbers", "workers", "share"), [(0, 3, 0), (2, 3, 1), (8, 3, 3), (8, 4, 2), (5, 1, 5)]
)
def test_the_fair_share_leaves_no_number_without_an_owner(
    numbers: int, workers: int, share: int
) -> None:
    assert fair_share(numbers, workers) == share
    assert fair_share(numbers, workers) * workers >= numbers


async def test_two_engines_share_the_numbers_and_send_every_recipient_once() -> None:
    board = LeaseBoard()
    stores = replace(memory_stores(), ownership=board)
    # 80/s: both bulks run at once for a second or more, so each engine has one to send.
    world = await bulk_world(
        stores=stores, settings=replace(FAST, worker_id="one"), throughput="STANDARD"
    )
    other = wire(
        stores, world.meta, ReversingCipher(), SystemClock(), engine_settings=FAST
    ).bulk_engine
    await world.engine.start()
    await other.start()
    try:
        bulks = [await world.submit(100), await world.submit(100, first=100, number=OTHER_NUMBER)]
        for bulk in bulks:
            assert (await world.finished(bulk)).status == "COMPLETED"
    finally:
        await other.stop()
        await world.engine.stop()

    assert sorted(Counter(world.meta.calls).values()) == [1] * 200
    holders = dict(board.taken)
    assert len(holders) == 2
    assert set(holders.values()) == {"one", "mindo"}  # one number each
    assert board.leases == {}  # both handed over on stop


async def test_a_number_seized_by_another_worker_is_no_longer_sent_from_until_it_is_back() -> None:
    board = LeaseBoard()
    stores = replace(memory_stores(), ownership=board)
    world = await bulk_world(stores=stores, throughput="STANDARD")  # 80/s: 400 take 5 s
    await world.engine.start()
    try:
        bulk = await world.submit(400)
        await eventually(lambda: answer(len(world.meta.calls) >= 40))
        [(number, _)] = board.taken
        board.seize(number, "elsewhere")
        seized_at = board.renewals
        # The engine's next renewal tells it; sends it had started then may still start.
        await eventually(lambda: answer(board.renewals > seized_at), limit=LEASE_S + 1)
        await asyncio.sleep(0.05)
        stopped_at = len(world.meta.calls)
        await asyncio.sleep(0.5)  # 40 sends' time at its rate: none may start
        assert len(world.meta.calls) == stopped_at
        assert stopped_at < 400

        await board.release("elsewhere", [number])
        done = await world.finished(bulk, limit=20)
    finally:
        await world.engine.stop()

    assert done.status == "COMPLETED"
    assert sorted(Counter(world.meta.calls).values()) == [1] * 400
    assert [worker for _, worker in board.taken] == ["mindo", "mindo"]


def test_a_tenure_ends_a_margin_before_the_lease_whatever_the_renewals_do() -> None:
    tenure = Tenure()
    one, two = PhoneNumberRowId(1), PhoneNumberRowId(2)
    tenure.renewed([one], began_at=100.0, lease_seconds=6.0)
    tenure.add([two], began_at=101.0, lease_seconds=6.0)

    assert tenure.holds(one, 104.9)
    assert not tenure.holds(one, 100.0 + 6.0 - STOP_MARGIN_S)  # no renewal came: over
    assert tenure.held(105.5) == {two}
    tenure.renewed([two], began_at=105.0, lease_seconds=6.0)  # "one" was lost meanwhile
    assert tenure.held(105.0) == {two}
    tenure.remove([two])
    assert not tenure.holds(two, 105.0)


def test_the_lease_and_the_grace_period_are_settings_with_clear_errors() -> None:
    settings = Settings.from_env({"MINDO_LEASE_S": "4", "MINDO_STOP_GRACE_S": "12"})
    assert (settings.lease_seconds, settings.stop_grace_seconds) == (4.0, 12.0)
    assert Settings.from_env({}).lease_seconds == 6.0
    for bad in ("1", "61", "soon"):
        with pytest.raises(InvalidRequest, match="MINDO_LEASE_S"):
            Settings.from_env({"MINDO_LEASE_S": bad})
    with pytest.raises(InvalidRequest, match="MINDO_STOP_GRACE_S"):
        Settings.from_env({"MINDO_STOP_GRACE_S": "0"})


async def test_what_a_dead_worker_left_in_flight_in_a_stopped_bulk_is_settled() -> None:
    board = LeaseBoard()
    stores = replace(memory_stores(), ownership=board)
    world = await bulk_world(stores=stores)
    bulk = await world.submit(5)
    now = SystemClock().now()
    claimed = await stores.bulks.claim_recipients(bulk.id, worker="dead", limit=3, now=now)
    started = [c.message_id for c in claimed[:2]]  # the third one's call never started
    await stores.bulks.mark_calls_started(started, worker="dead", at=now)
    await stores.bulks.stop_bulk(bulk.id, now=now, reason="Stopped by hand", cancelled=False)
    await world.engine.start()
    try:
        await eventually(
            lambda: answer_async(stores.bulks.numbers_in_flight(), frozenset()), limit=5
        )
    finally:
        await world.engine.stop()

    states = Counter(r.state for r in await world.recipients(bulk))
    assert states == {"unconfirmed": 2, "skipped": 3}
    assert world.meta.calls == []
    assert board.leases == {}  # taken to settle, then released
