"""``WriterTurns``: the order in which this process's writers take SQLite's one write lock.

Each writer waits for its turn here instead of in SQLite's busy handler, which polls (up to every
100 ms) and keeps missing a busy writer's next transaction. Urgent writers, whose client is
waiting for the answer (a single send's record, an idempotency key), go before the others (the
bulk engine's claims and outcomes, which nobody waits on by the millisecond); each kind in the
order it asked. The engine cannot starve: a single send's records are written by one group
commit at a time, so urgent turns alternate with the others at worst.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["WriterTurns"]


class WriterTurns:
    def __init__(self) -> None:
        self._taken = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._take(self._urgent if urgent else self._others)
        try:
            yield
        finally:
            self._hand_over()

    async def _take(self, queue: deque[asyncio.Future[None]]) -> None:
        if not self._taken:
            self._taken = True
            return
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.cancelled():
                self._hand_over()  # handed the turn as it was cancelled: the next one has it
            elif waiter in queue:  # not yet passed over by a hand-over
                queue.remove(waiter)
            raise

    def _hand_over(self) -> None:
        """The turn goes to the next live waiter, urgent ones first; with none, it is free."""
        for queue in (self._urgent, self._others):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._taken = False
