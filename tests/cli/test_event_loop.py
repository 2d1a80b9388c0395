"""The long-running processes run on uvloop (installed on Linux) unless MINDO_EVENT_LOOP says
asyncio, and serve alike on either; after start-up their heap is frozen for the collector."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
import uvloop

from mindo_cli.event_loop import loop_factory, run
from mindo_cli.heap import YOUNG_THRESHOLD, settle_start_up_heap
from mindo_core.domain.errors import InvalidRequest
from mindo_core.settings import Settings
from tests.cli.bridge_child import run_bridge_until_healthy


@pytest.mark.parametrize(("chosen", "logged"), [("", "uvloop"), ("asyncio", "asyncio")])
async def test_the_bridge_serves_on_the_event_loop_chosen(chosen: str, logged: str) -> None:
    run = await run_bridge_until_healthy({"MINDO_EVENT_LOOP": chosen})

    assert f"Event loop: {logged}" in run.stderr
    assert run.returncode == 0


def test_a_run_on_uvloop_runs_on_uvloops_loop() -> None:
    async def loop_kind() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    assert run(loop_kind(), event_loop="uvloop") is uvloop.Loop
    assert not issubclass(run(loop_kind(), event_loop="asyncio"), uvloop.Loop)
    assert loop_factory("asyncio") is None


@pytest.mark.parametrize(("raw", "expected"), [("", "uvloop"), ("AsyncIO", "asyncio")])
def test_the_event_loop_setting_is_uvloop_unless_asyncio(raw: str, expected: str) -> None:
    assert Settings.from_env({"MINDO_EVENT_LOOP": raw}).event_loop == expected


def test_another_event_loop_is_refused_at_start() -> None:
    with pytest.raises(InvalidRequest) as raised:
        Settings.from_env({"MINDO_EVENT_LOOP": "tokio"})

    assert "MINDO_EVENT_LOOP" in str(raised.value.field_errors)


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_are_frozen_and_young_collections_spaced() -> None:
    settle_start_up_heap()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
