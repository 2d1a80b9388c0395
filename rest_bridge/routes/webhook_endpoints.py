"""Status callbacks (Mindo's addition): the organisation's webhook endpoints.

``POST /api/v1/webhook-endpoints/`` registers one (``{"url", "events"}``; the answer carries the
``id`` and the signing ``secret``, shown this once), ``GET`` lists them, ``DELETE …/{id}/``
removes one; ``POST …/{id}/rotate-secret/`` issues a new secret (the previous one signs too for
24 hours), ``GET …/{id}/attempts/`` lists the latest delivery attempts, and ``POST
…/{id}/replay/`` (``{"from", "to"}``, ISO 8601) sends the events of a time range again.
Changes need the send scope, reads the read scope. An id that is not one of the
organisation's endpoints answers 404 ``webhook_endpoint_not_found``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import openapi
from rest_bridge.api_key import api_key
from rest_bridge.convert import iso_utc, iso_utc_or_null
from rest_bridge.fields import CharField, ListField, Schema
from rest_bridge.inputs import confirm_api_key, validated_body
from rest_bridge.problems import ApiError, coded, json_response
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = "/api/v1/webhook-endpoints/"
ID = "id"
ENDPOINT_PATH = f"{PATH}{{{ID}}}/"
ROTATE_PATH = f"{ENDPOINT_PATH}rotate-secret/"
ATTEMPTS_PATH = f"{ENDPOINT_PATH}attempts/"
REPLAY_PATH = f"{ENDPOINT_PATH}replay/"
READ_SCOPE = "read"
CHANGE_SCOPE = "send"
EVENT_NAMES = (
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "bulk.status_changed",
    "message.received",
    "contact.opted_out",
)
NOT_FOUND_CODE = "webhook_endpoint_not_found"

CREATE_SCHEMA = Schema(
    fields={
        "url": CharField(
            max_length=2048,
            description=(
                "http(s), at most 2 kB; not a loopback or private address (unless the "
                "operator sets MINDO_CALLBACKS_ALLOW_PRIVATE=1)."
            ),
            example="https://example.com/mindo-events",
        ),
        "events": ListField(
            child=CharField(max_length=64),
            max_items=len(EVENT_NAMES),
            description=f"Event types; empty or absent: all ({', '.join(EVENT_NAMES)}).",
            example=["message.delivered", "message.failed"],
        ),
    }
)
REPLAY_SCHEMA = Schema(
    fields={
        "from": CharField(max_length=64, description="ISO 8601; inclusive."),
        "to": CharField(max_length=64, description="ISO 8601; exclusive."),
    }
)


async def create(request: web.Request) -> web.Response:
    key = api_key(request)
    body = await validated_body(request, CREATE_SCHEMA, api_key=key, scope=CHANGE_SCOPE)
    events = body.get("events")
    message = mindo_pb2.CreateWebhookEndpointRequest(
        url=str(body["url"]), events=list(events) if isinstance(events, list) else []
    )
    service = upstream(request)
    reply = await service.call(
        service.stub.CreateWebhookEndpoint, message, api_key=key, request_fields=("url", "events")
    )
    return json_response(endpoint(reply), status=201)


async def list_endpoints(request: web.Request) -> web.Response:
    key = api_key(request)
    service = upstream(request)
    reply = await service.call(
        service.stub.ListWebhookEndpoints, mindo_pb2.ListWebhookEndpointsRequest(), api_key=key
    )
    return json_response({"results": [endpoint(e) for e in reply.results]})


async def delete(request: web.Request) -> web.Response:
    key = api_key(request)
    ref = mindo_pb2.WebhookEndpointRef(id=await _endpoint_id(request, key, CHANGE_SCOPE))
    service = upstream(request)
    await service.call(service.stub.DeleteWebhookEndpoint, ref, api_key=key)
    return web.Response(status=204)


async def rotate(request: web.Request) -> web.Response:
    key = api_key(request)
    ref = mindo_pb2.WebhookEndpointRef(id=await _endpoint_id(request, key, CHANGE_SCOPE))
    service = upstream(request)
    reply = await service.call(service.stub.RotateWebhookEndpointSecret, ref, api_key=key)
    return json_response(endpoint(reply))


async def attempts(request: web.Request) -> web.Response:
    key = api_key(request)
    endpoint_id = await _endpoint_id(request, key, READ_SCOPE)
    service = upstream(request)
    reply = await service.call(
        service.stub.ListWebhookAttempts,
        mindo_pb2.ListWebhookAttemptsRequest(endpoint_id=endpoint_id),
        api_key=key,
    )
    return json_response({"results": [attempt(a) for a in reply.results]})


async def replay(request: web.Request) -> web.Response:
    key = api_key(request)
    endpoint_id = await _endpoint_id(request, key, CHANGE_SCOPE)
    body = await validated_body(
        request, REPLAY_SCHEMA, api_key=key, scope=CHANGE_SCOPE, rule=_times_rule
    )
    message = mindo_pb2.ReplayWebhookEventsRequest(endpoint_id=endpoint_id)
    getattr(message, "from").CopyFrom(_timestamp(_moment(str(body["from"]))))
    message.to.CopyFrom(_timestamp(_moment(str(body["to"]))))
    service = upstream(request)
    reply = await service.call(
        service.stub.ReplayWebhookEvents, message, api_key=key, request_fields=("from",)
    )
    return json_response({"replayed": reply.replayed}, status=202)


def _times_rule(body: dict[str, object]) -> None:
    problems: dict[str, list[str]] = {}
    for name in ("from", "to"):
        try:
            _moment(str(body[name]))
        except ValueError:
            problems[name] = ["Datetime has wrong format. Use ISO 8601, e.g. 2026-12-07T03:00:00Z."]
    if problems:
        raise ApiError(400, problems)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


async def _endpoint_id(request: web.Request, key: str, scope: str) -> int:
    """The path's id; one that cannot be an endpoint's is a 404, once the key is known good."""
    raw = request.match_info[ID]
    if raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    await confirm_api_key(request, api_key=key, scope=scope)
    raise coded(404, "Webhook endpoint not found", NOT_FOUND_CODE)


def endpoint(value: mindo_pb2.WebhookEndpoint) -> dict[str, object]:
    body: dict[str, object] = {
        "id": value.id,
        "url": value.url,
        "events": list(value.events),
        "enabled": value.enabled,
        "disabled_at": iso_utc_or_null(value, "disabled_at"),
        "disabled_reason": value.disabled_reason if value.HasField("disabled_reason") else None,
        "failing_since": iso_utc_or_null(value, "failing_since"),
        "previous_secret_expires_at": iso_utc_or_null(value, "previous_secret_expires_at"),
        "created_at": iso_utc(value.created_at),
    }
    if value.HasField("secret"):
        body["secret"] = value.secret
    return body


def attempt(value: mindo_pb2.WebhookAttempt) -> dict[str, object]:
    return {
        "id": value.id,
        "event_id": value.event_id,
        "event_type": value.event_type,
        "at": iso_utc(value.at),
        "status_code": value.status_code if value.HasField("status_code") else None,
        "error": value.error if value.HasField("error") else None,
        "delivered": value.delivered,
        "duration_ms": value.duration_ms,
    }


# --------------------------------------------------------------------------------------------
# OpenAPI

ENDPOINT_EXAMPLE = {
    "id": 7,
    "url": "https://example.com/mindo-events",
    "events": ["message.delivered", "message.failed"],
    "enabled": True,
    "disabled_at": None,
    "disabled_reason": None,
    "failing_since": None,
    "previous_secret_expires_at": None,
    "created_at": "2026-12-07T03:00:00Z",
}
CREATED_EXAMPLE = {**ENDPOINT_EXAMPLE, "secret": "whsec_3q2-7wEXAMPLEdoNotUse0aB1cD2eF3gH4iJ5kL6mN"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
ENDPOINT_SCHEMA = {
    "type": "object",
    "required": ["id", "url", "events", "enabled", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string", "enum": list(EVENT_NAMES)}},
        "enabled": {
            "type": "boolean",
            "description": "False once it failed for a day without one success (disabled).",
        },
        "disabled_at": _NULLABLE_TIME,
        "disabled_reason": {"type": ["string", "null"]},
        "failing_since": _NULLABLE_TIME,
        "previous_secret_expires_at": _NULLABLE_TIME,
        "created_at": {"type": "string", "format": "date-time"},
        "secret": {
            "type": "string",
            "description": "Only in the answers of create and rotate-secret: keep it.",
        },
    },
}
ATTEMPT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "event_id": {"type": "string"},
        "event_type": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "status_code": {"type": ["integer", "null"]},
        "error": {"type": ["string", "null"]},
        "delivered": {"type": "boolean"},
        "duration_ms": {"type": "integer"},
    },
}
_ID_PARAMETER = {
    "name": ID,
    "in": "path",
    "required": True,
    "description": "The endpoint's id.",
    "schema": {"type": "integer"},
}
_NOT_FOUND = openapi.response(
    "The organisation has no endpoint with this id.",
    openapi.ref("CodedError"),
    {"Not found": {"error": "Webhook endpoint 7 not found", "code": NOT_FOUND_CODE}},
)
_ABOUT = (
    "Mindo's addition: status callbacks. Each event is POSTed as JSON {id, type, created_at, "
    "data} with the header Mindo-Signature: t=<unix>,v1=<hex> (HMAC-SHA256 of "
    "'<t>.<body>' with the endpoint's secret); see the API guide for verifying it."
)


def _results(item: dict[str, object]) -> dict[str, object]:
    return {"type": "object", "properties": {"results": {"type": "array", "items": item}}}


def _body(schema: Schema) -> dict[str, object]:
    return {"required": True, "content": {"application/json": {"schema": schema.json_schema()}}}


CREATE_OPERATION = {
    "operationId": "createWebhookEndpoint",
    "summary": "Register a webhook endpoint",
    "description": f"{_ABOUT} The answer carries the secret, shown this once. Needs send.",
    "requestBody": _body(CREATE_SCHEMA),
    "responses": {
        "201": openapi.response("Registered.", ENDPOINT_SCHEMA, {"OK": CREATED_EXAMPLE}),
        "400": openapi.response(
            "A URL that is not http(s), is private or over 2 kB, or an unknown event name; "
            "nothing is stored.",
            openapi.ref("FieldErrors"),
            {"Private": {"url": ["points at a loopback or private address"]}},
        ),
        "413": {"$ref": "#/components/responses/PayloadTooLarge"},
        "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
        **openapi.common_error_responses(calls_service=True),
    },
}
LIST_OPERATION = {
    "operationId": "listWebhookEndpoints",
    "summary": "The organisation's webhook endpoints",
    "description": f"{_ABOUT} Oldest first, without secrets. Needs read.",
    "responses": {
        "200": openapi.response(
            "The endpoints.",
            {
                "type": "object",
                "properties": {"results": {"type": "array", "items": ENDPOINT_SCHEMA}},
            },
            {"OK": {"results": [ENDPOINT_EXAMPLE]}},
        ),
        **openapi.common_error_responses(calls_service=True),
    },
}
DELETE_OPERATION = {
    "operationId": "deleteWebhookEndpoint",
    "summary": "Remove a webhook endpoint",
    "description": "Removes it with its pending deliveries and attempts. Needs send.",
    "parameters": [_ID_PARAMETER],
    "responses": {
        "204": {"description": "Removed."},
        "404": _NOT_FOUND,
        **openapi.common_error_responses(calls_service=True),
    },
}
ROTATE_OPERATION = {
    "operationId": "rotateWebhookEndpointSecret",
    "summary": "Rotate a webhook endpoint's secret",
    "description": (
        "A new secret, in the answer only. For 24 hours both sign (two v1 values in "
        "Mindo-Signature), so the receiver can switch without losing events. Needs send."
    ),
    "parameters": [_ID_PARAMETER],
    "responses": {
        "200": openapi.response("Rotated.", ENDPOINT_SCHEMA, {"OK": CREATED_EXAMPLE}),
        "404": _NOT_FOUND,
        **openapi.common_error_responses(calls_service=True),
    },
}
ATTEMPTS_OPERATION = {
    "operationId": "listWebhookAttempts",
    "summary": "A webhook endpoint's delivery attempts",
    "description": "The latest 100, newest first. Needs read.",
    "parameters": [_ID_PARAMETER],
    "responses": {
        "200": openapi.response(
            "The attempts.",
            {
                "type": "object",
                "properties": {"results": {"type": "array", "items": ATTEMPT_SCHEMA}},
            },
            {"OK": {"results": []}},
        ),
        "404": _NOT_FOUND,
        **openapi.common_error_responses(calls_service=True),
    },
}
REPLAY_OPERATION = {
    "operationId": "replayWebhookEvents",
    "summary": "Send a time range of events again",
    "description": (
        "Every event of this endpoint that occurred in [from, to) is sent again, with its "
        "original id (receivers deduplicate on it). Needs send."
    ),
    "parameters": [_ID_PARAMETER],
    "requestBody": _body(REPLAY_SCHEMA),
    "responses": {
        "202": openapi.response(
            "Queued.",
            {"type": "object", "properties": {"replayed": {"type": "integer"}}},
            {"OK": {"replayed": 120}},
        ),
        "400": openapi.response(
            "A time that is not ISO 8601, or from not before to.",
            openapi.ref("FieldErrors"),
            {"Order": {"from": ["must be before 'to'"]}},
        ),
        "404": _NOT_FOUND,
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (
    Route(method="GET", path=PATH, handler=list_endpoints, operation=LIST_OPERATION),
    Route(method="POST", path=PATH, handler=create, operation=CREATE_OPERATION),
    Route(method="DELETE", path=ENDPOINT_PATH, handler=delete, operation=DELETE_OPERATION),
    Route(method="POST", path=ROTATE_PATH, handler=rotate, operation=ROTATE_OPERATION),
    Route(method="GET", path=ATTEMPTS_PATH, handler=attempts, operation=ATTEMPTS_OPERATION),
    Route(method="POST", path=REPLAY_PATH, handler=replay, operation=REPLAY_OPERATION),
)
