"""The Meta sandbox in a child process of its own (``python -m mindo_sandbox --port 0``), reached
only over HTTP: its record of requests through ``GET /_sandbox/requests``, its faults through
``PUT /_sandbox/faults``. A test whose engine measures the sandbox's limits uses it so that the
two do not share one event loop: a stall of the test's loop (a loaded machine, a garbage
collection) would otherwise hold the sandbox's answers too, and requests the engine spaced out
would reach the sandbox's throughput limit bunched together, a 130429 Meta would never answer.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from mindo_sandbox.recording import RecordedRequest

_LISTENING = "Meta sandbox listening on "
_STARTUP_SECONDS = 30.0
_STOP_SECONDS = 10.0


@dataclass(frozen=True)
class SandboxChild:
    url: str

    async def recorded(self) -> list[RecordedRequest]:
        """Every request the sandbox recorded, oldest first, as it keeps them itself."""
        url = f"{self.url}/_sandbox/requests"
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            answer.raise_for_status()
            records = (await answer.json())["data"]
        return [_record(data) for data in records]

    async def set_faults(self, faults: dict[str, Any]) -> None:
        await self._send("PUT", "/_sandbox/faults", faults)

    async def upsert_template(self, waba_id: str, template: dict[str, Any]) -> None:
        await self._send("POST", f"/_sandbox/templates/{waba_id}", template)

    async def _send(self, method: str, path: str, data: dict[str, Any]) -> None:
        url = f"{self.url}{path}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, json=data) as answer,
        ):
            answer.raise_for_status()


@asynccontextmanager
async def sandbox_child(*args: str) -> AsyncIterator[SandboxChild]:
    """The demo sandbox (``args``: more of its command-line flags) until the block ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "mindo_sandbox", "--port", "0", "--log-level", "WARNING", *args),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), _STARTUP_SECONDS)).decode()
        assert line.startswith(_LISTENING), f"the sandbox did not start (it said {line!r})"
        yield SandboxChild(url=line.removeprefix(_LISTENING).strip())
    finally:
        await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_SECONDS)
        except TimeoutError:  # a request held on purpose may keep it from ending by itself
            process.kill()
            await process.wait()


def _record(data: dict[str, Any]) -> RecordedRequest:
    body = data["body"]
    return RecordedRequest(
        seq=data["seq"],
        at=data["at"],
        method=data["method"],
        path=data["path"],
        query=data["query"],
        headers=data["headers"],
        raw_body=None if body is None else json.dumps(body).encode(),
        status=data["status"],
        wamid=data["wamid"],
        error_code=data["error_code"],
        faults=tuple(data["faults"]),
    )
