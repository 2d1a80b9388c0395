"""The bridge's Prometheus metrics: request latency per route and answers by status, served at
``GET /metrics`` in Prometheus' text format.

Routes are labelled by their pattern (``/api/v1/meta-templates/bulk-sends/{id}/``), never by
the path asked for, so a client cannot grow the label set; a path no route matches is
``unmatched``. The registry is the application's own (``build_app`` makes it unless given one),
never prometheus_client's global default.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from rest_bridge.route_pattern import route_pattern

PATH: Final = "/metrics"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BridgeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.latency = Histogram(
            "mindo_bridge_request_seconds",
            "Time to answer an HTTP request, by method and route.",
            ("method", "route"),
            registry=registry,
        )
        self.responses = Counter(
            "mindo_bridge_responses",
            "HTTP answers by method, route and status code.",
            ("method", "route", "status"),
            registry=registry,
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500  # what a client gets from an exception escaping every handler
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            route = route_pattern(request)
            self.latency.labels(request.method, route).observe(time.perf_counter() - started)
            self.responses.labels(request.method, route, str(status)).inc()

    def exposition(self) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


METRICS = web.AppKey("mindo_bridge_metrics", BridgeMetrics)
