"""The REST bridge application: the documented HTTP API in front of the gRPC service.

Nothing connects at import time: ``build_app`` only describes the application; its gRPC channel
opens when the application starts and closes when it stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from rest_bridge.middleware import json_errors
from rest_bridge.openapi import build_document
from rest_bridge.routes import ROUTES, Route
from rest_bridge.routes.service import DOCUMENT
from rest_bridge.upstream import channel_context

logger = logging.getLogger(__name__)

# SendMessage waits for Meta; the service bounds that itself, this only guards against a hang.
DEFAULT_RPC_TIMEOUT_SECONDS = 60.0


def build_app(
    grpc_target: str, *, rpc_timeout_seconds: float = DEFAULT_RPC_TIMEOUT_SECONDS
) -> web.Application:
    """The application for the service at ``grpc_target`` (``host:port``)."""
    app = web.Application(middlewares=[json_errors])
    app.cleanup_ctx.append(channel_context(grpc_target, rpc_timeout_seconds))
    app[DOCUMENT] = build_document(ROUTES)
    for route in ROUTES:
        _add(app, route)
    return app


def _add(app: web.Application, route: Route) -> None:
    app.router.add_route(route.method, route.path, route.handler)
    if route.path.endswith("/"):
        # DRF would redirect (losing a POST's body) or 404; serving both spellings is kinder.
        app.router.add_route(route.method, route.path.rstrip("/"), route.handler)


@dataclass(frozen=True, kw_only=True)
class RunningBridge:
    url: str
    port: int
    runner: web.AppRunner

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_bridge(
    grpc_target: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    rpc_timeout_seconds: float = DEFAULT_RPC_TIMEOUT_SECONDS,
) -> RunningBridge:
    """Serves the bridge in the running event loop; ``port=0`` picks a free port."""
    runner = web.AppRunner(build_app(grpc_target, rpc_timeout_seconds=rpc_timeout_seconds))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = int(runner.addresses[0][1])
    url_host = f"[{host}]" if ":" in host else host
    return RunningBridge(url=f"http://{url_host}:{bound_port}", port=bound_port, runner=runner)


def run_bridge(grpc_target: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serves until interrupted (SIGINT/SIGTERM); what ``mindo bridge`` runs."""
    logger.info("REST bridge on %s:%s, gRPC service at %s", host, port, grpc_target)
    web.run_app(build_app(grpc_target), host=host, port=port, print=None)
