"""SQLite's writers take turns in this process: urgent ones (a client waiting) first, each kind
in the order it asked, and a writer cancelled while waiting never keeps or loses the turn."""

from __future__ import annotations

import asyncio

from mindo_core.adapters.sql.writer_turns import WriterTurns


async def _writer(turns: WriterTurns, name: str, order: list[str], *, urgent: bool) -> None:
    async with turns.turn(urgent=urgent):
        order.append(name)
        await asyncio.sleep(0)


async def test_urgent_writers_go_before_the_others_each_kind_in_order() -> None:
    turns = WriterTurns()
    order: list[str] = []
    async with turns.turn():
        tasks = [
            asyncio.create_task(_writer(turns, name, order, urgent=name.startswith("urgent")))
            for name in ("engine-1", "urgent-1", "engine-2", "urgent-2")
        ]
        await asyncio.sleep(0)  # every writer is waiting
    await asyncio.gather(*tasks)

    assert order == ["urgent-1", "urgent-2", "engine-1", "engine-2"]


async def test_a_writer_cancelled_while_waiting_does_not_hold_up_the_next() -> None:
    turns = WriterTurns()
    order: list[str] = []
    async with turns.turn():
        gone = asyncio.create_task(_writer(turns, "gone", order, urgent=True))
        after = asyncio.create_task(_writer(turns, "after", order, urgent=False))
        await asyncio.sleep(0)
        gone.cancel()
    await after

    assert order == ["after"]
    assert gone.cancelled()


async def test_a_writer_cancelled_as_it_was_handed_the_turn_passes_it_on() -> None:
    turns = WriterTurns()
    order: list[str] = []
    holder = turns.turn()
    await holder.__aenter__()
    handed = asyncio.create_task(_writer(turns, "handed", order, urgent=False))
    after = asyncio.create_task(_writer(turns, "after", order, urgent=False))
    await asyncio.sleep(0)
    await holder.__aexit__(None, None, None)  # the turn is handed to the first waiter...
    handed.cancel()  # ...which is cancelled before it runs
    await asyncio.wait_for(after, timeout=5)

    assert order == ["after"]
    async with turns.turn():  # and the turn is free once everyone is done
        pass
