"""The event loop a long-running process (``mindo serve``, ``worker``, ``bridge``) runs on.

uvloop when it is installed (a Linux dependency) and ``MINDO_EVENT_LOOP`` does not say
``asyncio``: its loop does the same work as asyncio's for less CPU per callback and socket
operation, which is most of what the hot paths spend (docs/benchmarks.md, "Single sends").
Without uvloop, asyncio's own loop, silently: the service behaves the same on either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(event_loop: str) -> LoopFactory | None:
    """uvloop's ``new_event_loop`` when asked for and installed; None: asyncio's default."""
    if event_loop != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], *, event_loop: str) -> T:
    """``asyncio.run(main)`` on the loop ``event_loop`` names (``Settings.event_loop``)."""
    factory = loop_factory(event_loop)
    logging.getLogger(__name__).info("Event loop: %s", "asyncio" if factory is None else "uvloop")
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
