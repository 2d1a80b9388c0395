"""The service as a client sees it, for the benchmarks: the Meta sandbox over HTTP, a fresh SQLite
file, the real wiring (``bootstrap.wire``) and the gRPC server on a free port, with the demo
tenant seeded (``mindo_cli.demo``). Not a benchmark itself (not in ``BENCHMARKS``).

``progress`` lets a benchmark watch the bus the engine publishes on; ``configure_sandbox``
changes the sandbox before the account is connected (numbers and tiers are read then).
``meta_url`` points the service at a sandbox already running elsewhere (another process, so
that its work is not counted as the server's); ``sandbox`` is then None. ``database_url``: an
empty database to use instead of the SQLite file (``database`` is then unused).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from mindo_cli.demo import seed_demo
from mindo_core.adapters.crypto import FernetTokenCipher
from mindo_core.adapters.meta import HttpMetaGateway
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.bootstrap import Services, wire
from mindo_core.domain.clock import SystemClock
from mindo_core.ports.progress import ProgressBus
from mindo_grpc.server import RunningGrpcServer, start_grpc_server
from mindo_sandbox.config import SandboxConfig
from mindo_sandbox.server import RunningSandbox, start_sandbox
from mindo_sandbox.state import SandboxState

SECRET = "bench-grpc-stack-secret-of-at-least-32-characters"
DEMO_NUMBER = "813497231850626"


@dataclass(frozen=True, kw_only=True)
class BenchStack:
    sandbox: RunningSandbox | None
    services: Services
    server: RunningGrpcServer
    api_key: str
    database: Path

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", self.api_key),)


@asynccontextmanager
async def bench_stack(
    config: SandboxConfig | None = None,
    *,
    progress: ProgressBus | None = None,
    configure_sandbox: Callable[[SandboxState], None] = lambda state: None,
    meta_url: str | None = None,
    database_url: str | None = None,
) -> AsyncIterator[BenchStack]:
    sandbox = None
    if meta_url is None:
        sandbox = await start_sandbox(config or SandboxConfig.demo())
        configure_sandbox(sandbox.state)
        meta_url = sandbox.url
    with tempfile.TemporaryDirectory() as workdir:
        database = Path(workdir) / "bench.db"
        url = database_url or f"sqlite:///{database}"
        await asyncio.to_thread(upgrade_database, url)
        stores = await open_stores(url)
        meta = HttpMetaGateway(base_url=meta_url)
        services = wire(stores, meta, FernetTokenCipher(SECRET), SystemClock(), progress=progress)
        server = None
        try:
            seeded = await seed_demo(services, pinned_key=None)
            server = await start_grpc_server(services, "127.0.0.1:0")
            yield BenchStack(
                sandbox=sandbox,
                services=services,
                server=server,
                api_key=seeded.api_key,
                database=database,
            )
        finally:
            if server is not None:
                await server.stop(0)
            await services.bulk_engine.stop()
            await meta.close()
            await stores.close()
            if sandbox is not None:
                await sandbox.stop()
