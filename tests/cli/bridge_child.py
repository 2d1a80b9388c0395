"""A real ``mindo bridge`` process for the CLI tests: started with the environment given, asked
for ``/healthz`` until it answers, stopped with SIGTERM; what it wrote to stderr is the log."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass

import aiohttp
import pytest

from tests.e2e.stack import free_port


@dataclass(frozen=True)
class BridgeRun:
    stderr: str
    returncode: int | None


async def run_bridge_until_healthy(extra_env: dict[str, str]) -> BridgeRun:
    """The bridge with ``extra_env`` over this environment (its HTTP address a free port, its
    gRPC service nowhere), run until it has answered ``/healthz`` once."""
    port = free_port()
    env = {
        **os.environ,
        "MINDO_HTTP_ADDRESS": f"127.0.0.1:{port}",
        "MINDO_GRPC_ADDRESS": "127.0.0.1:1",
        **extra_env,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mindo_cli", "bridge", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        await _healthy(port)
    finally:
        child.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(child.communicate(), 20)
    return BridgeRun(stderr=errors.decode(), returncode=child.returncode)


async def _healthy(port: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    assert answer.status == 200
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    pytest.fail("the bridge never answered /healthz")
