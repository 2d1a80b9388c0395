"""What the engine benchmarks share: the service over a fresh SQLite file, talking to a sandbox
at a URL; the bench tenant (its organisation, the sandbox demo account connected, a key); and
a bulk of ``order_update`` to distinct recipients."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from mindo_core.adapters.crypto import FernetTokenCipher
from mindo_core.adapters.meta import HttpMetaGateway
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.bootstrap import Services, wire
from mindo_core.bulks.submission import RecipientInput
from mindo_core.domain.clock import SystemClock
from mindo_core.engine.bulk_engine import EngineSettings
from mindo_core.ports.stores import Stores
from mindo_core.services.authenticate import Principal
from mindo_core.services.submit_bulk import SubmitBulkCommand

# The sandbox's demo account (mindo_sandbox/demo.json).
WABA = "104996122399160"
NUMBER = "813497231850626"
TOKEN = "sandbox-demo-token"
SECRET = "bench-tenant-secret-of-at-least-32-characters!!"
FIRST_PHONE = 40_000_000


def order_command(
    phones: Iterable[int] | int, *, pacing: str | None = None, number: str = NUMBER
) -> SubmitBulkCommand:
    """``order_update`` to +54911<phone> for each phone (``range(n)`` from ``FIRST_PHONE``)."""
    listed = range(FIRST_PHONE, FIRST_PHONE + phones) if isinstance(phones, int) else phones
    return SubmitBulkCommand(
        phone_number_id=number,
        template_name="order_update",
        recipients=[
            RecipientInput(
                phone=f"+54911{phone}",
                variables={"order_id": f"ORD-{phone}", "status": "listo"},
            )
            for phone in listed
        ],
        pacing=pacing,
    )


async def bench_principal(services: Services) -> Principal:
    """The bench organisation with the sandbox's demo account connected, as its key sees it."""
    await services.organisations.create("Bench")
    await services.accounts.connect("Bench", waba_id=WABA, access_token=TOKEN)
    issued = await services.api_keys.issue("Bench")
    return await services.authenticator.authenticate(issued.plaintext, None)


@asynccontextmanager
async def sqlite_services(
    meta_url: str, *, engine_settings: EngineSettings | None = None
) -> AsyncIterator[tuple[Services, Stores]]:
    """The real wiring over a migrated SQLite file in a temporary directory, and the store
    under it (a bench reads bulks as the engine leaves them); the engine (if started) is
    stopped and everything closed on the way out."""
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{Path(workdir) / 'bench.db'}"
        await asyncio.to_thread(upgrade_database, url)
        stores = await open_stores(url)
        meta = HttpMetaGateway(base_url=meta_url)
        services = wire(
            stores,
            meta,
            FernetTokenCipher(SECRET),
            SystemClock(),
            engine_settings=engine_settings,
        )
        try:
            yield services, stores
        finally:
            await services.bulk_engine.stop()
            await meta.close()
            await stores.close()
