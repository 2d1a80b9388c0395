"""The sandbox's event loop: uvloop when installed, unless ``--event-loop asyncio`` (or
``MINDO_EVENT_LOOP=asyncio``, the variable the service reads for its own) asks for asyncio's.

Its own module and not the service's: the sandbox imports nothing of Mindo. A benchmark's Meta
should cost as little CPU as it can on a machine whose cores the measured process shares.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

EVENT_LOOP_ENV = "MINDO_EVENT_LOOP"
EVENT_LOOPS = ("uvloop", "asyncio")


def default_event_loop() -> str:
    chosen = os.environ.get(EVENT_LOOP_ENV, "").strip().lower()
    return chosen if chosen in EVENT_LOOPS else "uvloop"


def _loop_factory(event_loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if event_loop != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], *, event_loop: str) -> T:
    """``asyncio.run(main)`` on the named loop (asyncio's when uvloop is not installed)."""
    with asyncio.Runner(loop_factory=_loop_factory(event_loop)) as runner:
        return runner.run(main)
