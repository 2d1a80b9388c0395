"""Routes about the bridge itself: liveness and the OpenAPI document. No authentication."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from rest_bridge import openapi
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
)
