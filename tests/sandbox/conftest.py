"""A real sandbox on a loopback port (port 0), a fake clock, and a Graph client to talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from mindo_sandbox import FakeClock, RunningSandbox, SandboxConfig, start_sandbox

from .graph_client import GraphClient
from .webhook_receiver import Receiver


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig.demo()


@pytest.fixture
async def sandbox(config: SandboxConfig, clock: FakeClock) -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(config, clock=clock)
    yield running
    await running.stop()


@pytest.fixture
async def graph(sandbox: RunningSandbox) -> AsyncIterator[GraphClient]:
    async with aiohttp.ClientSession() as session:
        yield GraphClient(session, sandbox.url)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook endpoint on a loopback port that records every POST."""
    endpoint = Receiver()
    await endpoint.start()
    yield endpoint
    await endpoint.stop()
