"""One bulk send: its status (GET bulk-sends/{id}/), cancelling (POST …/{id}/cancel/), pausing
(…/pause/) and resuming it (…/resume/).

An unknown id, another organisation's and one that is not a bulk id at all answer alike:
404 ``bulk_not_found``. Cancelling stops the recipients not sent yet (sends already on their
way to Meta finish) and answers the status body; a bulk that is already over (COMPLETED,
PARTIAL, FAILED or CANCELLED) answers 400 ``failed_precondition``, as the service's
FAILED_PRECONDITION always does. Pausing and resuming answer the status body too; pausing a
bulk that is over, or resuming one that is not PAUSED, is that same 400.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import grpc
from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import bulk_schemas, openapi
from rest_bridge.api_key import api_key
from rest_bridge.bulk_bodies import detail
from rest_bridge.problems import json_response
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

if TYPE_CHECKING:
    from mindo_grpc._pb.mindo.v1.mindo_pb2_grpc import MindoAsyncStub

_BulkRequest = TypeVar(
    "_BulkRequest",
    mindo_pb2.GetBulkRequest,
    mindo_pb2.CancelBulkRequest,
    mindo_pb2.PauseBulkRequest,
    mindo_pb2.ResumeBulkRequest,
)

PARAMETER = "bulk_send_id"
PATH = f"/api/v1/meta-templates/bulk-sends/{{{PARAMETER}}}/"
CANCEL_PATH = f"{PATH}cancel/"
PAUSE_PATH = f"{PATH}pause/"
RESUME_PATH = f"{PATH}resume/"

PATH_PARAMETER = {
    "name": PARAMETER,
    "in": "path",
    "required": True,
    "description": "The bulk_send_id that Send bulk answered.",
    "schema": {"type": "string", "format": "uuid"},
}


def bulk_id(request: web.Request) -> str:
    return request.match_info[PARAMETER]


def _bulk_call(
    rpc: Callable[[MindoAsyncStub], grpc.aio.UnaryUnaryMultiCallable[_BulkRequest, mindo_pb2.Bulk]],
    request_type: type[_BulkRequest],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A route that calls ``rpc`` on the bulk of the path and answers its detail body. No body
    is read: whatever is sent is ignored."""

    async def handle(request: web.Request) -> web.Response:
        key = api_key(request)
        service = upstream(request)
        message = request_type(bulk_send_id=bulk_id(request))
        reply = await service.call(rpc(service.stub), message, api_key=key)
        return json_response(detail(reply))

    return handle


get_bulk = _bulk_call(lambda stub: stub.GetBulk, mindo_pb2.GetBulkRequest)
cancel_bulk = _bulk_call(lambda stub: stub.CancelBulk, mindo_pb2.CancelBulkRequest)
pause_bulk = _bulk_call(lambda stub: stub.PauseBulk, mindo_pb2.PauseBulkRequest)
resume_bulk = _bulk_call(lambda stub: stub.ResumeBulk, mindo_pb2.ResumeBulkRequest)


NOT_FOUND = openapi.response(
    "No such bulk send for this API key's organisation.",
    openapi.ref("CodedError"),
    {"Bulk not found": bulk_schemas.BULK_NOT_FOUND_EXAMPLE},
)

_STATUS = openapi.response(
    "The bulk send's status and counters.",
    openapi.ref("BulkDetail"),
    {"Completed": bulk_schemas.DETAIL_EXAMPLE},
)

GET_OPERATION = {
    "operationId": "getBulkSend",
    "summary": "Status and progress of a bulk send",
    "description": (
        "Counters for sent, delivered, read and failed messages, and the progress percentage. "
        "stop_reason (not in Mindo's documentation) appears only when the bulk stopped early. "
        "Needs the read scope."
    ),
    "parameters": [PATH_PARAMETER],
    "responses": {
        "200": _STATUS,
        "404": NOT_FOUND,
        **openapi.common_error_responses(calls_service=True),
    },
}

_ALREADY_OVER = {
    "error": (
        f"Bulk send '{bulk_schemas.BULK_ID}' is already COMPLETED; only a QUEUED, PROCESSING or "
        "PAUSED bulk send can be cancelled"
    ),
    "code": "failed_precondition",
}

CANCEL_OPERATION = {
    "operationId": "cancelBulkSend",
    "summary": "Cancel a bulk send",
    "description": (
        "Not in Mindo's documentation (its CANCELLED status is). Stops a QUEUED, PROCESSING or "
        "PAUSED bulk send: recipients not sent yet are not sent (cancelled_count); messages "
        "already on their way to Meta finish and are counted. Answers the bulk's status. No "
        "body. Needs the send scope."
    ),
    "parameters": [PATH_PARAMETER],
    "responses": {
        "200": _STATUS,
        "400": openapi.response(
            "The bulk send is already over.",
            openapi.ref("CodedError"),
            {"Already over": _ALREADY_OVER},
        ),
        "404": NOT_FOUND,
        **openapi.common_error_responses(calls_service=True),
    },
}

_NOT_PAUSABLE = {
    "error": (
        f"Bulk send '{bulk_schemas.BULK_ID}' is COMPLETED; only a QUEUED or PROCESSING bulk "
        "send can be paused"
    ),
    "code": "failed_precondition",
}

PAUSE_OPERATION = {
    "operationId": "pauseBulkSend",
    "summary": "Pause a bulk send",
    "description": (
        "Not in Mindo's documentation. A QUEUED or PROCESSING bulk send becomes PAUSED: no new "
        "message of it starts (those already on their way to Meta finish and are counted); "
        "its pending recipients wait. Pausing a PAUSED one changes nothing. Answers the "
        "bulk's status. No body. Needs the send scope."
    ),
    "parameters": [PATH_PARAMETER],
    "responses": {
        "200": _STATUS,
        "400": openapi.response(
            "The bulk send is over.",
            openapi.ref("CodedError"),
            {"Over": _NOT_PAUSABLE},
        ),
        "404": NOT_FOUND,
        **openapi.common_error_responses(calls_service=True),
    },
}

_NOT_PAUSED = {
    "error": (
        f"Bulk send '{bulk_schemas.BULK_ID}' is PROCESSING; only a PAUSED bulk send can be resumed"
    ),
    "code": "failed_precondition",
}

RESUME_OPERATION = {
    "operationId": "resumeBulkSend",
    "summary": "Resume a paused bulk send",
    "description": (
        "Not in Mindo's documentation. A PAUSED bulk send goes on where it stopped (PROCESSING, "
        "or QUEUED if it had not started): its pending recipients are sent, each once, and "
        "estimated_time_minutes is planned again from now. Answers the bulk's status. No "
        "body. Needs the send scope."
    ),
    "parameters": [PATH_PARAMETER],
    "responses": {
        "200": _STATUS,
        "400": openapi.response(
            "The bulk send is not PAUSED.",
            openapi.ref("CodedError"),
            {"Not paused": _NOT_PAUSED},
        ),
        "404": NOT_FOUND,
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (
    Route(method="GET", path=PATH, handler=get_bulk, operation=GET_OPERATION),
    Route(method="POST", path=CANCEL_PATH, handler=cancel_bulk, operation=CANCEL_OPERATION),
    Route(method="POST", path=PAUSE_PATH, handler=pause_bulk, operation=PAUSE_OPERATION),
    Route(method="POST", path=RESUME_PATH, handler=resume_bulk, operation=RESUME_OPERATION),
)
