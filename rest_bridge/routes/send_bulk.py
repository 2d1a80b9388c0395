"""POST /api/v1/meta-templates/send-bulk/: accept a bulk send (202); the service sends it later.

The body may be up to ``MAX_BODY_BYTES`` (64 MiB, this route only): 100,000 recipients of about
200 bytes each, with room to spare. The recipients go to the service as protobuf wire bytes
(``recipients``), which keeps the bridge's own cost for 100,000 well under the JSON parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, cast

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import bulk_schemas, openapi
from rest_bridge.api_key import api_key
from rest_bridge.bulk_bodies import accepted
from rest_bridge.fields import CharField, DictField, Schema
from rest_bridge.inputs import validated_body
from rest_bridge.problems import ApiError, json_response
from rest_bridge.recipients import MAX_RECIPIENTS, Recipients, RecipientsField
from rest_bridge.routes.send import (
    IDEMPOTENCY_CONFLICTS,
    IDEMPOTENCY_HEADER,
    idempotency_key_of,
)
from rest_bridge.routes.spec import Route
from rest_bridge.template_fields import sender_and_template
from rest_bridge.upstream import upstream

PATH = "/api/v1/meta-templates/send-bulk/"
SCOPE = "send"
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
# Verbatim from the Send bulk page's "400 - Empty recipients" example.
EMPTY_RECIPIENTS = "recipients es requerido y no puede estar vacio"


@dataclass(frozen=True, kw_only=True)
class PacingField(CharField):
    """Text for the service to read ("max", "tier" or a number: numbers arrive as text)."""

    def json_schema(self) -> dict[str, object]:
        return {
            "oneOf": [
                {"type": "string", "enum": ["max", "tier"]},
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": r"^\s*[0-9]*\.?[0-9]+\s*$"},
            ],
            "default": "max",
            "description": self.description,
            "examples": ["max", "tier", 25],
        }


SCHEMA = Schema(
    fields={
        **sender_and_template("the messages"),
        "recipients": RecipientsField(),
        "pacing": PacingField(
            max_length=32,
            required=False,
            description=(
                'Not in Mindo\'s documentation. How fast to send: "max" (the default: the '
                "number's throughput), \"tier\" (the spacing Mindo recommends for the number's "
                "messaging tier, 60 s / daily limit) or a cap in messages per second, such as "
                "25 or 0.5, from 0.01 to the number's throughput (80, 1,000 for HIGH, 20 "
                "shared with the Business app); outside that range: 400 naming the range."
            ),
        ),
        "send_at": CharField(
            max_length=64,
            required=False,
            description=(
                "Not in Mindo's documentation. When to start: ISO 8601 with a UTC offset, such "
                'as "2025-11-17T09:00:00-03:00" or "…Z", from now to 30 days ahead (else 400 on '
                'send_at). The bulk is SCHEDULED until then (status "scheduled" in the 202); '
                "its quota and estimate are planned from then. Omitted: it starts at once."
            ),
        ),
        "send_window": DictField(
            child=CharField(max_length=8),
            max_items=2,
            max_key_length=8,
            description=(
                'Not in Mindo\'s documentation. {"start": "HH:MM", "end": "HH:MM"}: each recipient '
                "is sent only inside these hours of its own local time (its number's country and "
                "region; the organisation's time zone when unknown). End before start runs past "
                "midnight. The estimate counts the waits. Omitted: any time. Else 400 on "
                "send_window."
            ),
            example={"start": "09:00", "end": "20:00"},
        ),
    }
)


async def send_bulk(request: web.Request) -> web.Response:
    key = api_key(request)
    body = await validated_body(
        request, SCHEMA, api_key=key, scope=SCOPE, max_bytes=MAX_BODY_BYTES, rule=_has_recipients
    )
    service = upstream(request)
    message = to_request(body)
    idempotency_key = idempotency_key_of(request)
    if idempotency_key is not None:
        message.idempotency_key = idempotency_key
    reply = await service.call(
        service.stub.SendBulk, message, api_key=key, request_fields=SCHEMA.names
    )
    return json_response(accepted(reply), status=202)


def _has_recipients(body: dict[str, object]) -> None:
    if cast(Recipients, body["recipients"]).count == 0:
        raise ApiError(400, {"error": EMPTY_RECIPIENTS})


def to_request(body: dict[str, object]) -> mindo_pb2.SendBulkRequest:
    recipients = cast(Recipients, body["recipients"])
    request = mindo_pb2.SendBulkRequest.FromString(recipients.wire)
    request.phone_number_id = str(body["phone_number_id"])
    request.template_name = str(body["template_name"])
    request.language = str(body["language"])
    if "pacing" in body:
        request.pacing = str(body["pacing"])
    if "send_at" in body:
        request.send_at = str(body["send_at"])
    if "send_window" in body:
        window = cast(dict[str, str], body["send_window"])
        request.send_window.start = window.get("start", "")
        request.send_window.end = window.get("end", "")
    return request


_REQUEST_EXAMPLE = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "language": "es",
    "recipients": [
        {
            "phone": "+5491112345678",
            "variables": {"name": "Juan Perez", "code": "ABC123"},
            "button_variables": {"button_0": "ABC-123"},
        },
        {
            "phone": "+5491187654321",
            "variables": {"name": "Maria Garcia", "code": "DEF456"},
            "button_variables": {"button_0": "DEF-456"},
        },
    ],
}

_BAD_REQUEST = {
    "Validation": {
        "phone_number_id": ["This field is required."],
        "recipients": ["This field is required."],
    },
    "Empty recipients": {"error": EMPTY_RECIPIENTS},
    "Invalid recipient fields": {"recipients": [{}, {"phone": ["This field is required."]}]},
    "Invalid recipients": {
        "error": (
            "2 of 3 recipients are invalid; nothing was sent. recipients[1] '12': "
            "not a valid phone number"
        ),
        "code": "invalid_recipients",
        "invalid_count": 2,
        "recipients": [
            {"index": 1, "phone": "12", "reason": "not a valid phone number"},
            {"index": 2, "phone": "+5491199887766", "reason": "variable 'code' is required"},
        ],
    },
    "Too many recipients": {
        "error": (
            f"recipients: Ensure this field has no more than {MAX_RECIPIENTS} elements "
            "(100001 given); split the list into several bulk sends."
        ),
        "code": "too_many_recipients",
    },
    "Template not approved": {"error": "Template 'welcome_message' no tiene estado APPROVED"},
    "Invalid send_at": {
        "send_at": ["2025-11-16T21:00:00Z is in the past (now: 2025-11-16T21:30:00Z)"]
    },
    "Invalid pacing": {
        "pacing": ["'fast' is not 'max', 'tier' or a number of messages per second"]
    },
}

_NOT_FOUND = {
    "Template not found": {
        "error": "Template 'welcome_message' (language: es) no encontrado en este business account"
    },
    "Number not found": {"error": "Numero de WhatsApp con ID '813497231850626' no encontrado"},
}

_TOO_LARGE = openapi.response(
    "The body exceeds 64 MiB (this route's limit).",
    openapi.ref("CodedError"),
    {
        "payload_too_large": {
            "error": f"Request body exceeds {MAX_BODY_BYTES} bytes.",
            "code": "payload_too_large",
        }
    },
)

OPERATION = {
    "operationId": "sendBulk",
    "summary": "Send a template to many recipients (asynchronous)",
    "description": (
        "Validates every recipient, deduplicates the list (the first occurrence of a number "
        "wins) and queues the send; the answer is immediate (202). Follow it with Send status "
        "or Send messages. Up to 100,000 recipients and 64 MiB per request. If any recipient "
        "is invalid, nothing is sent: the 400 lists the first 100 problems. A send that does "
        "not fit the rolling 24 h quota is accepted all the same (can_send false): recipients "
        "beyond the room are sent as the window frees up. Authentication is checked before "
        "the body."
    ),
    "parameters": [
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": False,
            "description": (
                "Makes the submit safe to retry. The same key with the same body within 24 "
                "hours answers the first 202 again (the same bulk_send_id) and makes one bulk, "
                "even for requests racing each other; the same key with another body (or a key "
                "used for a single send) is a 409 idempotency_key_reused. A refused submit (a "
                "4xx) does not use the key up. Keys are per organisation and stored hashed."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "example": "newsletter-2025-11-17",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": SCHEMA.json_schema(),
                "examples": {"Three recipients": {"value": _REQUEST_EXAMPLE}},
            }
        },
    },
    "responses": {
        "202": openapi.response(
            "Accepted and queued.",
            openapi.ref("BulkAccepted"),
            {"Accepted": bulk_schemas.ACCEPTED_EXAMPLE},
        ),
        "400": openapi.response(
            "The body is invalid, or the bulk cannot be sent with it.",
            {
                "oneOf": [
                    openapi.ref(name)
                    for name in ("FieldErrors", "Error", "CodedError", "InvalidRecipients")
                ]
            },
            _BAD_REQUEST,
        ),
        "404": openapi.response(
            "No such template or phone number.", openapi.ref("Error"), _NOT_FOUND
        ),
        "409": openapi.response(
            "The Idempotency-Key belongs to another request, or its first request still runs "
            "in another process (with Retry-After).",
            openapi.ref("CodedError"),
            IDEMPOTENCY_CONFLICTS,
        ),
        "413": _TOO_LARGE,
        "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
        "429": {"$ref": "#/components/responses/RateLimited"},
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (Route(method="POST", path=PATH, handler=send_bulk, operation=OPERATION),)
