"""Running the sandbox: ``build_app`` for an aiohttp app, ``start_sandbox`` for a live server."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from yarl import URL

from mindo_sandbox.admin_routes import add_admin_routes
from mindo_sandbox.clock import Clock
from mindo_sandbox.config import SandboxConfig
from mindo_sandbox.graph_routes import STATE_KEY, add_graph_routes
from mindo_sandbox.state import SandboxState
from mindo_sandbox.webhook_routes import add_webhook_routes

logger = logging.getLogger("mindo_sandbox")

# Held ("timed out") requests are released when the sandbox stops; this bounds the rest.
_SHUTDOWN_TIMEOUT_S = 5.0


def build_app(state: SandboxState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    add_admin_routes(app)
    add_webhook_routes(app)
    add_graph_routes(app)  # last: it ends with the catch-all that answers Graph's "unsupported"
    app.on_startup.append(_start_webhooks)
    app.on_cleanup.append(_stop_webhooks)
    return app


async def _start_webhooks(app: web.Application) -> None:
    await app[STATE_KEY].webhooks.start()


async def _stop_webhooks(app: web.Application) -> None:
    await app[STATE_KEY].webhooks.stop()


@dataclass(kw_only=True)
class RunningSandbox:
    url: str  # base URL, e.g. http://127.0.0.1:43125 ; Graph paths follow: /v21.0/...
    port: int
    state: SandboxState
    _runner: web.AppRunner

    async def stop(self) -> None:
        self.state.closing.set()
        await self._runner.cleanup()
        logger.info("Meta sandbox at %s stopped", self.url)

    async def __aenter__(self) -> RunningSandbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def start_sandbox(
    config: SandboxConfig | SandboxState,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock | None = None,
    access_log: bool = False,
) -> RunningSandbox:
    """Start serving; ``port=0`` picks a free port (read it from ``.port``/``.url``).

    The access log is off by default: it costs time on the hot path.
    """
    state = config if isinstance(config, SandboxState) else SandboxState(config, clock=clock)
    state.closing.clear()
    runner = web.AppRunner(
        build_app(state),
        access_log=logger if access_log else None,
        access_log_class=_PathOnlyAccessLogger,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    sock = _listen(host, port)
    # Meta's front ends take any number of new connections; aiohttp's default backlog (128)
    # let the kernel drop those of several workers opening hundreds at once, which they saw
    # as connections cut after the request left (outcome unknown).
    await web.SockSite(runner, sock, backlog=_BACKLOG).start()
    bound_port = sock.getsockname()[1]
    url = str(URL.build(scheme="http", host=host, port=bound_port))
    logger.info("Meta sandbox listening on %s", url)
    return RunningSandbox(url=url, port=bound_port, state=state, _runner=runner)


class _PathOnlyAccessLogger(AbstractAccessLogger):
    """Method, path and status: never the query string, which may carry ``access_token``."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms", request.method, request.path, response.status, time * 1000
        )


_BACKLOG = 4096


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock
