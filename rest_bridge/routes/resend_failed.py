"""POST …/bulk-sends/{id}/resend-failed/: a new bulk of a finished bulk's recipients that failed
for a reason worth retrying (202, the shape of Send bulk's answer plus what was taken and left).

The body is optional: ``error_codes`` (Meta's codes to resend instead of Mindo's table) and
``pacing`` (the new bulk's; the first bulk's when omitted). ``Idempotency-Key`` as for Send
bulk. A bulk that can still send, or one with nothing to resend, answers 409 with its code.
"""

from __future__ import annotations

from typing import cast

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import bulk_schemas, openapi
from rest_bridge.api_key import api_key
from rest_bridge.bulk_bodies import resent
from rest_bridge.fields import IntegerField, ListField, Schema
from rest_bridge.inputs import validated_body
from rest_bridge.problems import json_response
from rest_bridge.routes.bulks import NOT_FOUND, PATH_PARAMETER, bulk_id
from rest_bridge.routes.bulks import PATH as BULK_PATH
from rest_bridge.routes.send import IDEMPOTENCY_CONFLICTS, IDEMPOTENCY_HEADER, idempotency_key_of
from rest_bridge.routes.send_bulk import PacingField
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = f"{BULK_PATH}resend-failed/"
SCOPE = "send"
MAX_ERROR_CODES = 100  # as the service (mindo_grpc.convert_bulks)

SCHEMA = Schema(
    fields={
        "error_codes": ListField(
            child=IntegerField(),
            max_items=MAX_ERROR_CODES,
            description=(
                "Meta's error codes to resend: only recipients that failed with one of them are "
                "taken. Omitted or empty: Mindo's table of codes worth retrying (docs/api.md)."
            ),
        ),
        "pacing": PacingField(
            max_length=32,
            required=False,
            description="As Send bulk's pacing. Omitted: the first bulk's pacing.",
        ),
    }
)


async def resend_failed(request: web.Request) -> web.Response:
    key = api_key(request)
    body = await validated_body(request, SCHEMA, api_key=key, scope=SCOPE)
    service = upstream(request)
    message = mindo_pb2.ResendFailedRequest(
        bulk_send_id=bulk_id(request), error_codes=cast(list[int], body.get("error_codes", []))
    )
    if "pacing" in body:
        message.pacing = str(body["pacing"])
    idempotency_key = idempotency_key_of(request)
    if idempotency_key is not None:
        message.idempotency_key = idempotency_key
    reply = await service.call(
        service.stub.ResendFailed, message, api_key=key, request_fields=SCHEMA.names
    )
    return json_response(resent(reply), status=202)


_RESENT_EXAMPLE = {
    **bulk_schemas.ACCEPTED_EXAMPLE,
    "bulk_send_id": "5b1c7d2e-3f4a-4b5c-8d6e-7f8091a2b3c4",
    "total_recipients": 2,
    "unique_recipients": 2,
    "parent_bulk_send_id": bulk_schemas.BULK_ID,
    "resent_count": 2,
    "left_count": 98,
    "left_by_reason": {"succeeded": 95, "opted_out": 1, "permanent_error": 2},
}

_CONFLICTS = {
    "Still sending": {
        "error": (
            f"Bulk send '{bulk_schemas.BULK_ID}' is PROCESSING; its failed recipients can be "
            "resent once it is COMPLETED, PARTIAL, FAILED or CANCELLED"
        ),
        "code": "bulk_still_sending",
    },
    "Nothing to resend": {
        "error": (
            f"Bulk send '{bulk_schemas.BULK_ID}' has no recipient to resend "
            "(3 succeeded, 1 permanent_error)"
        ),
        "code": "nothing_to_resend",
    },
    **IDEMPOTENCY_CONFLICTS,
}

OPERATION = {
    "operationId": "resendFailedBulkSend",
    "summary": "Resend a finished bulk send's failed recipients",
    "description": (
        "Not in Mindo's documentation. Makes a new bulk send, linked to this one "
        "(parent_bulk_send_id), of its recipients that failed for a reason worth retrying "
        "(Meta's temporary errors and throttling, its per-user marketing limit, no answer, an "
        "account or template problem that stopped the bulk) and those skipped when it stopped "
        "early; or, with error_codes, of those that failed with one of the codes. Never one "
        "that was sent, delivered or read, opted out or is on the suppression list, whose "
        "outcome is unknown after a crash, or that was cancelled. Each goes with the variables "
        "it was sent with, on the same number and template (still APPROVED), planned against "
        "the quota as any bulk. The 202 is Send bulk's with resent_count, left_count and "
        "left_by_reason. Needs the send scope."
    ),
    "parameters": [
        PATH_PARAMETER,
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": False,
            "description": (
                "As Send bulk's: the same key and body within 24 hours answer the first 202 "
                "again and make one bulk; the same key with another request is a 409."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        },
    ],
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": SCHEMA.json_schema(),
                "examples": {
                    "Mindo's table": {"value": {}},
                    "These codes": {"value": {"error_codes": [131049, 131026], "pacing": "10"}},
                },
            }
        },
    },
    "responses": {
        "202": openapi.response(
            "The new bulk send, accepted.",
            openapi.ref("BulkResent"),
            {"Resent": _RESENT_EXAMPLE},
        ),
        "400": openapi.response(
            "The body is invalid, or the template is no longer APPROVED.",
            {"oneOf": [openapi.ref(name) for name in ("FieldErrors", "Error", "CodedError")]},
            {"Bad codes": {"error_codes": {"0": ["A valid integer is required."]}}},
        ),
        "404": NOT_FOUND,
        "409": openapi.response(
            "The bulk send can still send, nothing of it is worth resending, or the "
            "Idempotency-Key belongs to another request.",
            openapi.ref("CodedError"),
            _CONFLICTS,
        ),
        "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (Route(method="POST", path=PATH, handler=resend_failed, operation=OPERATION),)
