"""The delivery worker skips the outbox while no endpoint exists (``CallbackSubscriptions``,
re-read once a second): an endpoint another process adds meanwhile still has its events
claimed, once this process has read the endpoints again. Two stores on one SQLite file play
the API process and the worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.adapters.sql.outbox import REFRESH_SECONDS
from mindo_core.ports.stores import Stores
from tests.contract.tenants import tenant
from tests.contract.test_callback_store_contract import claim, endpoint, event


@pytest.fixture
async def api_and_worker(tmp_path: Path) -> AsyncIterator[tuple[Stores, Stores]]:
    url = f"sqlite:///{tmp_path / 'mindo.db'}"
    await asyncio.to_thread(upgrade_database, url)
    api, worker = await open_stores(url), await open_stores(url)
    try:
        yield api, worker
    finally:
        await api.close()
        await worker.close()


async def test_an_endpoint_added_elsewhere_has_its_events_claimed_after_a_refresh(
    api_and_worker: tuple[Stores, Stores],
) -> None:
    api, worker = api_and_worker
    assert await claim(worker) == []  # the worker has read: no endpoint anywhere
    acme = await tenant(api)
    hook = await endpoint(api, acme.organisation.id)
    assert await api.callback_outbox.enqueue([event(acme.organisation.id)]) == 1

    await asyncio.sleep(REFRESH_SECONDS * 1.1)
    claimed = await claim(worker)

    assert [d.endpoint_id for d in claimed] == [hook.id]
