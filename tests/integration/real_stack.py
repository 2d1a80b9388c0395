"""The whole service in-process, over real sockets: the Meta sandbox over HTTP, the gRPC server
on a free port, the REST bridge on a free port, and a SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from mindo_cli.demo import seed_demo
from mindo_core.bootstrap import Services, open_services
from mindo_core.settings import Settings
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from mindo_grpc.metrics import ServiceMetrics
from mindo_grpc.server import RunningGrpcServer, start_grpc_server
from mindo_sandbox.config import SandboxConfig
from mindo_sandbox.server import RunningSandbox, start_sandbox
from mindo_sandbox.webhook_config import StatusDelays, StatusShares, WebhookConfig
from rest_bridge.app import RunningBridge, start_bridge
from rest_bridge.webhook_secrets import WebhookSecrets

DEMO_KEY = "mindo_IntegrationKey0123456789"
SECRET = "integration-tests-secret-key-of-32+-characters"
# Meta's app secret, shared by the sandbox (signing), the bridge and the service (checking).
APP_SECRET = "integration-app-secret"
VERIFY_TOKEN = "integration-verify-token"


@dataclass
class RealStack:
    sandbox: RunningSandbox
    services: Services
    grpc_server: RunningGrpcServer
    bridge: RunningBridge
    channel: grpc.aio.Channel
    database: Path
    api_key: str

    @property
    def stub(self) -> mindo_pb2_grpc.MindoStub:
        return mindo_pb2_grpc.MindoStub(self.channel)

    def metadata(self, key: str | None = None) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", key if key is not None else self.api_key),)

    def message_rows(self) -> list[tuple[str | None, str, str]]:
        with sqlite3.connect(self.database) as db:
            return db.execute("SELECT wamid, status, recipient_phone FROM messages").fetchall()

    def webhooks_to_bridge(self, **changes: Any) -> None:
        """The sandbox posts Meta's webhooks, signed, to the bridge (after 10 ms by default)."""
        settings: dict[str, Any] = {"flush_interval_ms": 10.0, **changes}
        callback = f"{self.bridge.url}/webhooks/meta"
        config = WebhookConfig(callback_url=callback, app_secret=APP_SECRET, **settings)
        self.sandbox.state.set_webhooks(config)

    def sent_payloads(self) -> list[dict[str, object]]:
        return [
            r.body
            for r in self.sandbox.state.recorder.all()
            if r.method == "POST" and r.path.endswith("/messages") and r.wamid is not None
        ]


@asynccontextmanager
async def real_stack(
    workdir: Path, *, metrics: ServiceMetrics | None = None, **settings_overrides: Any
) -> AsyncIterator[RealStack]:
    """``metrics``: the service reports its sends to them and times its RPCs, as under
    ``MINDO_METRICS_ADDRESS``."""
    sandbox = await start_sandbox(SandboxConfig.demo())
    database = workdir / "mindo.db"
    settings = Settings(
        database_url=f"sqlite:///{database}",
        secret_key=SECRET,
        meta_base_url=sandbox.url,
        meta_timeout_seconds=2.0,
        **{"meta_app_secret": APP_SECRET, **settings_overrides},
    )
    try:
        async with open_services(
            settings, telemetry=metrics, callback_telemetry=metrics
        ) as services:
            seeded = await seed_demo(services, pinned_key=DEMO_KEY)
            interceptors = () if metrics is None else (metrics.interceptor(),)
            server = await start_grpc_server(services, "127.0.0.1:0", interceptors=interceptors)
            secrets = WebhookSecrets(verify_token=VERIFY_TOKEN, app_secret=APP_SECRET)
            bridge = await start_bridge(server.target, "127.0.0.1", 0, webhook_secrets=secrets)
            channel = grpc.aio.insecure_channel(server.target)
            try:
                yield RealStack(
                    sandbox, services, server, bridge, channel, database, seeded.api_key
                )
            finally:
                await channel.close()
                await bridge.stop()
                await server.stop(0)
    finally:
        await sandbox.stop()


@asynccontextmanager
async def delivering_stack(
    workdir: Path, *, delays: StatusDelays, failures: Mapping[str, int]
) -> AsyncIterator[RealStack]:
    """``real_stack`` with its engine running and the sandbox posting every message's
    delivered and read statuses to the bridge after ``delays``, but Meta's failure ``code`` for
    each E.164 phone of ``failures``."""
    async with real_stack(workdir) as running:
        running.webhooks_to_bridge(
            delays_ms=delays,
            shares=StatusShares(delivered=1.0, read=1.0),
            failures={phone.removeprefix("+"): code for phone, code in failures.items()},
        )
        await running.services.bulk_engine.start()
        try:
            yield running
        finally:
            await running.services.bulk_engine.stop()
