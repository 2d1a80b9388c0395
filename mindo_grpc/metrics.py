"""The service's Prometheus metrics, kept at the edge: the core reports sends, the engine's
pacing and webhook statuses' lag through its ``Telemetry`` port, a gRPC interceptor times every
RPC, and a small HTTP server answers Prometheus' scrapes at ``GET /metrics`` on
``MINDO_METRICS_ADDRESS`` (off by default), with ``GET /healthz`` beside it for a worker, which
has no gRPC health service.

The registry is created by whoever runs the service (``mindo serve``) and passed in, never
prometheus_client's global default; labels come from bounded sets (outcomes, Meta's codes,
registered RPC names).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import grpc
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from mindo_core.ports.callbacks import CallbackBacklog
from mindo_core.ports.telemetry import CallbackOutcome, SendOutcome

PATH: Final = "/metrics"
HEALTH_PATH: Final = "/healthz"
# Webhook statuses arrive from seconds to hours after Meta's time for them.
_LAG_BUCKETS: Final = (0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600)
# A call starting after its slot: milliseconds when healthy, seconds when the engine lags.
_LATENESS_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
NO_CODE: Final = ""


class ServiceMetrics:
    """Every metric of the service, over one registry; a ``SendTelemetry`` for the core."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.sends = Counter(
            "mindo_meta_sends",
            "Calls to Meta's send endpoint (single sends and bulk recipients) by outcome "
            "(accepted, refused, unavailable, unknown) and Meta's error code (empty if none).",
            ("outcome", "meta_code"),
            registry=registry,
        )
        self.send_seconds = Histogram(
            "mindo_meta_send_seconds",
            "Time of one call to Meta's send endpoint.",
            registry=registry,
        )
        self.pending = Gauge(
            "mindo_bulk_recipients_pending",
            "Recipients not sent yet of the bulks that run (QUEUED or PROCESSING), at scrape.",
            registry=registry,
        )
        self.callbacks = Counter(
            "mindo_callback_attempts",
            "POSTs of status callbacks to organisations' endpoints by outcome (delivered; "
            "retry: failed, tried again later; given_up).",
            ("outcome",),
            registry=registry,
        )
        self.callback_seconds = Histogram(
            "mindo_callback_attempt_seconds",
            "Time of one status-callback POST.",
            registry=registry,
        )
        self.callback_backlog = Gauge(
            "mindo_callback_backlog",
            "Status-callback deliveries by state at scrape: pending (due or waiting to retry) "
            "and failed (given up).",
            ("state",),
            registry=registry,
        )
        self.number_sends = Counter(
            "mindo_number_bulk_sends",
            "Bulk recipients' calls to Meta started, by the sending number's phone_number_id.",
            ("phone_number_id",),
            registry=registry,
        )
        self.number_rate = Gauge(
            "mindo_number_rate",
            "Messages a second the engine paces the number at now (below its cap after a "
            "130429 slow-down), at its last send.",
            ("phone_number_id",),
            registry=registry,
        )
        self.number_cap = Gauge(
            "mindo_number_rate_cap",
            "The number's throughput cap (Meta's messages a second), at its last send.",
            ("phone_number_id",),
            registry=registry,
        )
        self.slot_lateness = Histogram(
            "mindo_send_slot_lateness_seconds",
            "How long after its throughput slot (the number's gate) a bulk call to Meta started.",
            buckets=_LATENESS_BUCKETS,
            registry=registry,
        )
        self.status_lag = Histogram(
            "mindo_webhook_status_lag_seconds",
            "How long after Meta's own time for it a delivery status webhook arrived.",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.rpc_seconds = Histogram(
            "mindo_grpc_request_seconds",
            "Time to answer a gRPC call (a streaming one: until its stream ends), by method.",
            ("method",),
            registry=registry,
        )
        self.rpcs = Counter(
            "mindo_grpc_requests",
            "gRPC calls by method and status code.",
            ("method", "code"),
            registry=registry,
        )

    def meta_send_finished(
        self, *, outcome: SendOutcome, meta_code: int | None, seconds: float
    ) -> None:
        code = NO_CODE if meta_code is None else str(meta_code)
        self.sends.labels(outcome, code).inc()
        self.send_seconds.observe(seconds)

    def send_started(
        self, *, phone_number_id: str, late_seconds: float, rate: float, cap: float
    ) -> None:
        self.number_sends.labels(phone_number_id).inc()
        self.number_rate.labels(phone_number_id).set(rate)
        self.number_cap.labels(phone_number_id).set(cap)
        self.slot_lateness.observe(late_seconds)

    def statuses_received(self, lags_seconds: Sequence[float]) -> None:
        for lag in lags_seconds:
            self.status_lag.observe(max(0.0, lag))

    def callback_attempted(self, *, outcome: CallbackOutcome, seconds: float) -> None:
        self.callbacks.labels(outcome).inc()
        self.callback_seconds.observe(seconds)

    def interceptor(self) -> grpc.aio.ServerInterceptor:
        return _RpcTiming(self)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _RpcTiming(grpc.aio.ServerInterceptor):
    """Times each RPC's handler and counts it by the status it ended with."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:  # no such method: gRPC answers UNIMPLEMENTED, nothing to label
            return None
        method = handler_call_details.method.rpartition("/")[2]
        # gRPC's handlers are named tuples; a changed copy keeps every other field.
        named: Any = handler
        if handler.unary_unary is not None:
            timed: grpc.RpcMethodHandler[Any, Any] = named._replace(
                unary_unary=self._unary(method, handler.unary_unary)
            )
            return timed
        if handler.unary_stream is not None:
            streamed: grpc.RpcMethodHandler[Any, Any] = named._replace(
                unary_stream=self._stream(method, handler.unary_stream)
            )
            return streamed
        return handler  # Mindo has no client-streaming RPC

    def _unary(self, method: str, behaviour: Any) -> Any:
        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            try:
                return await behaviour(request, context)
            finally:
                self._observe(method, context, started)

        return timed

    def _stream(self, method: str, behaviour: Any) -> Any:
        async def timed(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            started = time.perf_counter()
            try:
                async for item in behaviour(request, context):
                    yield item
            finally:
                self._observe(method, context, started)

        return timed

    def _observe(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any], started: float
    ) -> None:
        self._metrics.rpc_seconds.labels(method).observe(time.perf_counter() - started)
        code = context.code()  # set by an abort; None when the handler returned normally
        name = code.name if isinstance(code, grpc.StatusCode) else "OK"
        self._metrics.rpcs.labels(method, name).inc()


@dataclass(kw_only=True)
class _Health:
    serving: bool = True


@dataclass(frozen=True, kw_only=True)
class RunningMetricsServer:
    url: str
    runner: web.AppRunner
    health: _Health

    def drain(self) -> None:
        """``/healthz`` answers 503 NOT_SERVING from now on (the process is draining)."""
        self.health.serving = False

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_metrics_server(
    metrics: ServiceMetrics,
    address: str,
    *,
    pending_recipients: Callable[[], Awaitable[int]],
    callback_backlog: Callable[[], Awaitable[CallbackBacklog]] | None = None,
) -> RunningMetricsServer:
    """Answers ``GET /metrics`` and ``GET /healthz`` on ``address`` (HOST:PORT; port 0 picks a
    free one)."""
    health = _Health()

    async def scrape(request: web.Request) -> web.Response:
        del request
        metrics.pending.set(await pending_recipients())
        if callback_backlog is not None:
            backlog = await callback_backlog()
            metrics.callback_backlog.labels("pending").set(backlog.pending)
            metrics.callback_backlog.labels("failed").set(backlog.failed)
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(request: web.Request) -> web.Response:
        del request
        if health.serving:
            return web.json_response({"status": "SERVING"})
        return web.json_response({"status": "NOT_SERVING"}, status=503)

    app = web.Application()
    app.router.add_get(PATH, scrape)
    app.router.add_get(HEALTH_PATH, healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        await web.TCPSite(runner, host, int(port)).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = int(runner.addresses[0][1])
    url_host = f"[{host}]" if ":" in host else host
    return RunningMetricsServer(url=f"http://{url_host}:{bound}", runner=runner, health=health)
