"""How many sends may be in flight at once, over every number of the engine."""

from __future__ import annotations

import asyncio

__all__ = ["SendCapacity"]


class SendCapacity:
    """How many sends may be in flight at once, over every number."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._freed = asyncio.Event()

    def try_take(self) -> bool:
        if self._used >= self._limit:
            return False
        self._used += 1
        return True

    def give_back(self) -> None:
        self._used -= 1
        self._freed.set()

    async def freed(self, at_most: float) -> None:
        """Wait until a send ends (or ``at_most`` seconds pass)."""
        self._freed.clear()
        try:
            async with asyncio.timeout(at_most):
                await self._freed.wait()
        except TimeoutError:
            pass
