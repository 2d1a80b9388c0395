"""The REST bridge application: the documented HTTP API in front of the gRPC service.

Nothing connects at import time: ``build_app`` only describes the application; its gRPC channel
opens when the application starts and closes when it stops.

The webhook secrets come from the environment (``WebhookSecrets.from_env``) unless the caller
passes them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from rest_bridge.access_log import PathOnlyAccessLogger
from rest_bridge.dashboard import build_dashboard
from rest_bridge.metrics import METRICS, BridgeMetrics
from rest_bridge.middleware import json_errors
from rest_bridge.openapi import build_document
from rest_bridge.routes import ROUTES, Route
from rest_bridge.routes.service import DOCUMENT
from rest_bridge.upstream import channel_context
from rest_bridge.webhook_forwarder import forwarder_context
from rest_bridge.webhook_secrets import WEBHOOK_SECRETS, WebhookSecrets

logger = logging.getLogger(__name__)

# SendMessage waits for Meta; the service bounds that itself, this only guards against a hang.
DEFAULT_RPC_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, kw_only=True)
class ConnectionLimits:
    """What one HTTP connection may take of the bridge (docs/operations.md, "The REST bridge's
    connection limits").

    ``header_timeout_seconds`` is aiohttp's keep-alive timeout: aiohttp arms it when a
    connection opens and again when a response is done, and when it fires closes the
    connection if no complete request head has arrived (``RequestHandler._process_keepalive``
    closes only a handler waiting for its next request). Bytes arriving do not re-arm it. So a
    client has this long to send its whole request line and headers, on a new connection or
    after each response (a slowloris is dropped), and an idle keep-alive connection closes
    after it too. A head too long or with too many headers is answered 400 and closed.
    """

    header_timeout_seconds: float = 5.0
    max_request_line_bytes: int = 8190
    max_header_bytes: int = 8190  # one header line, name and value
    max_headers: int = 64

    def handler_args(self) -> dict[str, float | int]:
        return {
            "keepalive_timeout": self.header_timeout_seconds,
            "max_line_size": self.max_request_line_bytes,
            "max_field_size": self.max_header_bytes,
            "max_headers": self.max_headers,
        }


def build_app(
    grpc_target: str,
    *,
    rpc_timeout_seconds: float = DEFAULT_RPC_TIMEOUT_SECONDS,
    webhook_secrets: WebhookSecrets | None = None,
    limits: ConnectionLimits | None = None,
    metrics: BridgeMetrics | None = None,
) -> web.Application:
    """The application for the service at ``grpc_target`` (``host:port``).

    ``webhook_secrets`` defaults to ``MINDO_META_VERIFY_TOKEN`` and ``MINDO_META_APP_SECRET``;
    ``metrics`` to a registry of the application's own.
    """
    # As the application's handler args, the limits hold however it is served (runner, run_app).
    handler_args = (limits or ConnectionLimits()).handler_args()
    if metrics is None:
        metrics = BridgeMetrics(CollectorRegistry())
    # Metrics outermost: they see the status json_errors answers with.
    app = web.Application(middlewares=[metrics.middleware, json_errors], handler_args=handler_args)
    app[METRICS] = metrics
    app.cleanup_ctx.append(channel_context(grpc_target, rpc_timeout_seconds))
    app.cleanup_ctx.append(forwarder_context)
    if webhook_secrets is None:
        webhook_secrets = WebhookSecrets.from_env(os.environ)
    app[WEBHOOK_SECRETS] = webhook_secrets
    app[DOCUMENT] = build_document(ROUTES)
    for route in ROUTES:
        _add(app, route)
    app.router.add_get("/dashboard", _to_dashboard)  # before the sub-application claims it
    app.add_subapp("/dashboard/", build_dashboard())
    return app


async def _to_dashboard(_request: web.Request) -> web.Response:
    return web.Response(status=308, headers={"Location": "/dashboard/"})


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
    webhook_secrets: WebhookSecrets | None = None,
    limits: ConnectionLimits | None = None,
    metrics: BridgeMetrics | None = None,
) -> RunningBridge:
    """Serves the bridge in the running event loop; ``port=0`` picks a free port."""
    app = build_app(
        grpc_target,
        rpc_timeout_seconds=rpc_timeout_seconds,
        webhook_secrets=webhook_secrets,
        limits=limits,
        metrics=metrics,
    )
    app[WEBHOOK_SECRETS].warn_when_missing()
    runner = web.AppRunner(app, access_log_class=PathOnlyAccessLogger)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = int(runner.addresses[0][1])
    url_host = f"[{host}]" if ":" in host else host
    return RunningBridge(url=f"http://{url_host}:{bound_port}", port=bound_port, runner=runner)


def run_bridge(
    grpc_target: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    webhook_secrets: WebhookSecrets | None = None,
) -> None:
    """Serves until interrupted (SIGINT/SIGTERM); what ``python -m rest_bridge`` runs."""
    logger.info("REST bridge on %s:%s, gRPC service at %s", host, port, grpc_target)
    app = build_app(grpc_target, webhook_secrets=webhook_secrets)
    app[WEBHOOK_SECRETS].warn_when_missing()
    web.run_app(app, host=host, port=port, print=None, access_log_class=PathOnlyAccessLogger)
