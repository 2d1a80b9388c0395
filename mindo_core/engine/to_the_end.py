"""``to_the_end``: await a store write that a cancellation must not cut halfway.

A SQLite transaction cut by a cancellation (the engine stopping) can leave the write lock with a
connection nobody returns, and every later write then fails ("database is locked"). So the write
runs to its end, and the cancellation follows it.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

__all__ = ["to_the_end"]

T = TypeVar("T")


async def to_the_end(write: asyncio.Future[T]) -> T:
    """``write``'s result; cancelled meanwhile, the write still finishes before this raises."""
    try:
        return await asyncio.shield(write)
    except asyncio.CancelledError:
        await asyncio.wait([write])
        raise
