"""Routes about the bridge itself: liveness, the OpenAPI document and Prometheus' metrics. No
authentication."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from rest_bridge import openapi
from rest_bridge.metrics import METRICS
from rest_bridge.metrics import PATH as METRICS_PATH
from rest_bridge.problems import json_response
from rest_bridge.routes.spec import Route

OPENAPI_PATH = "/api/v1/openapi.json"
HEALTH_PATH = "/healthz"

# Built once by the application from every route's declaration.
DOCUMENT = web.AppKey("openapi_document", dict[str, Any])


async def openapi_document(request: web.Request) -> web.Response:
    return json_response(request.app[DOCUMENT])


async def health(_request: web.Request) -> web.Response:
    # Liveness of the bridge only: the gRPC channel reconnects on its own.
    return json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    return request.app[METRICS].exposition()


METRICS_OPERATION = {
    "operationId": "metrics",
    "summary": "Prometheus metrics of the bridge.",
    "description": (
        "Prometheus' text format: mindo_bridge_request_seconds (latency, by method and route "
        "pattern) and mindo_bridge_responses_total (by method, route pattern and status). No "
        "personal data; expose it to your monitoring only (docs/operations.md)."
    ),
    "security": openapi.NO_AUTH,
    "responses": {
        "200": {
            "description": "The metrics.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **openapi.common_error_responses(calls_service=False),
    },
}


def _operation(operation_id: str, summary: str, example: object) -> dict[str, object]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "security": openapi.NO_AUTH,
        "responses": {
            "200": openapi.response(summary, {"type": "object"}, {"OK": example}),
            **openapi.common_error_responses(calls_service=False),
        },
    }


ROUTES = (
    Route(
        method="GET",
        path=OPENAPI_PATH,
        handler=openapi_document,
        operation=_operation("getOpenApi", "This OpenAPI document.", {"openapi": "3.1.0"}),
    ),
    Route(
        method="GET",
        path=HEALTH_PATH,
        handler=health,
        operation=_operation("health", "The bridge is up.", {"status": "ok"}),
    ),
    Route(method="GET", path=METRICS_PATH, handler=metrics, operation=METRICS_OPERATION),
)
