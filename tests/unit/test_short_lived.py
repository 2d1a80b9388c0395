"""What the hot path keeps for a second (``ShortLived``): kept for its second, then read again;
a missing entry read once however many ask for it at the same time; a failed read kept by no
one and told to everyone who waited for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mindo_core.domain.clock import FixedClock
from mindo_core.services.short_lived import ShortLived

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class SlowRow:
    """A row whose reads wait for ``release``, counted."""

    def __init__(self, value: str = "row") -> None:
        self.value = value
        self.reads = 0
        self.release = asyncio.Event()
        self.fails = False

    async def read(self) -> str:
        self.reads += 1
        await self.release.wait()
        if self.fails:
            raise LookupError("the database went away")
        return self.value


async def test_concurrent_misses_share_one_read() -> None:
    kept: ShortLived[str, str] = ShortLived(FixedClock(NOW))
    row = SlowRow()
    asking = [asyncio.ensure_future(kept.get_or_read("key", row.read)) for _ in range(50)]
    await asyncio.sleep(0)
    row.release.set()
    assert await asyncio.gather(*asking) == ["row"] * 50
    assert row.reads == 1


async def test_kept_for_its_second_then_read_again() -> None:
    clock = FixedClock(NOW)
    kept: ShortLived[str, str] = ShortLived(clock)
    row = SlowRow()
    row.release.set()
    await kept.get_or_read("key", row.read)
    clock.advance(0.999)
    await kept.get_or_read("key", row.read)
    assert row.reads == 1
    clock.advance(0.001)
    await kept.get_or_read("key", row.read)
    assert row.reads == 2


async def test_a_failed_read_reaches_every_waiter_and_is_not_kept() -> None:
    kept: ShortLived[str, str] = ShortLived(FixedClock(NOW))
    row = SlowRow()
    row.fails = True
    asking = [asyncio.ensure_future(kept.get_or_read("key", row.read)) for _ in range(3)]
    await asyncio.sleep(0)
    row.release.set()
    outcomes = await asyncio.gather(*asking, return_exceptions=True)
    assert all(isinstance(outcome, LookupError) for outcome in outcomes)
    row.fails = False
    assert await kept.get_or_read("key", row.read) == "row"
    assert row.reads == 2


async def test_a_caller_going_away_leaves_the_read_to_the_others() -> None:
    kept: ShortLived[str, str] = ShortLived(FixedClock(NOW))
    row = SlowRow()
    leaving = asyncio.ensure_future(kept.get_or_read("key", row.read))
    staying = asyncio.ensure_future(kept.get_or_read("key", row.read))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    row.release.set()
    assert await staying == "row"
    assert row.reads == 1
