"""A real Meta sandbox on a loopback port, served from its own thread and event loop.

The CLI under test runs in-process (``CliRunner``) and calls ``asyncio.run`` itself, so the
sandbox cannot share the test's loop: it gets a thread of its own, and the test talks to it
over HTTP like any client (``/_sandbox/...`` admin API).
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mindo_sandbox import RunningSandbox, SandboxConfig, start_sandbox

_START_TIMEOUT_S = 10


@dataclass(frozen=True, kw_only=True)
class BackgroundSandbox:
    url: str
    config: SandboxConfig

    def add_template(self, waba_id: str, template: Mapping[str, Any]) -> None:
        """A template created on Meta's side, as if in WhatsApp Manager."""
        request = urllib.request.Request(
            f"{self.url}/_sandbox/templates/{waba_id}",
            data=json.dumps(template).encode(),
            method="POST",
        )
        urllib.request.urlopen(request).close()

    def requests(self) -> list[dict[str, Any]]:
        """Every Graph request the sandbox received, tokens masked."""
        with urllib.request.urlopen(f"{self.url}/_sandbox/requests") as answer:
            return list(json.load(answer)["data"])


@contextmanager
def background_sandbox(config: SandboxConfig) -> Iterator[BackgroundSandbox]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=_serve_forever, args=(loop,), name="sandbox", daemon=True)
    thread.start()
    running: RunningSandbox | None = None
    try:
        started = asyncio.run_coroutine_threadsafe(start_sandbox(config), loop)
        running = started.result(timeout=_START_TIMEOUT_S)
        yield BackgroundSandbox(url=running.url, config=config)
    finally:
        if running is not None:
            asyncio.run_coroutine_threadsafe(running.stop(), loop).result(_START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT_S)


def _serve_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
