"""GET /api/v1/meta-templates/messages/{message_id}/: one message's delivery status (§5).

The id is Meta's wamid, base64 with ``=`` padding, so it may hold ``+``, ``/`` and ``=``:
everything between ``messages/`` and the final ``/`` is the id (percent-encoded or not). An
unknown wamid and another organisation's answer alike: 404 ``message_not_found``. The service
authenticates the key and needs its read scope.

The body is the documented shape in the documented order. ``recipient.contact_id`` and
``contact_name`` are the organisation's contact with the recipient's phone (``contact-lookup``),
null when there is none (or it has no name). Times are ISO 8601 UTC with ``Z``, null
when they have not happened; ``delivery_status.error_code`` (Meta's code) is null unless the
message failed; empty strings are null where the documentation shows null.
"""

from __future__ import annotations

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import openapi
from rest_bridge.api_key import api_key
from rest_bridge.convert import iso_utc_or_null, text_or_null
from rest_bridge.problems import json_response
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PARAMETER = "message_id"
# The regex lets the id run over "/" (base64); the final "/" still ends it.
PATH = f"/api/v1/meta-templates/messages/{{{PARAMETER}:.+}}/"


async def get_message(request: web.Request) -> web.Response:
    key = api_key(request)
    service = upstream(request)
    message = mindo_pb2.GetMessageRequest(message_id=request.match_info[PARAMETER])
    reply = await service.call(service.stub.GetMessage, message, api_key=key)
    return json_response(to_body(reply))


def to_body(message: mindo_pb2.Message) -> dict[str, object]:
    template = message.template
    return {
        "id": message.id,
        "template": {
            "id": template.id,
            "name": template.name,
            "language": template.language,
            "category": template.category,
        },
        "recipient": _recipient(message.recipient),
        "variables_used": dict(message.variables_used),
        "delivery_status": _delivery(message.delivery_status),
        "meta_message_id": message.meta_message_id,
        "was_successful": message.was_successful,
        "error_message": text_or_null(message.error_message),
        "sent_at": iso_utc_or_null(message, "sent_at"),
    }


def _recipient(recipient: mindo_pb2.MessageRecipient) -> dict[str, object]:
    return {
        "phone": recipient.phone,
        "contact_name": recipient.contact_name if recipient.HasField("contact_name") else None,
        "contact_id": recipient.contact_id if recipient.HasField("contact_id") else None,
    }


def _delivery(status: mindo_pb2.DeliveryStatus) -> dict[str, object]:
    return {
        "current": text_or_null(status.current),
        "sent_at": iso_utc_or_null(status, "sent_at"),
        "delivered_at": iso_utc_or_null(status, "delivered_at"),
        "read_at": iso_utc_or_null(status, "read_at"),
        "failed_at": iso_utc_or_null(status, "failed_at"),
        "error_code": status.error_code if status.HasField("error_code") else None,
        "error_message": text_or_null(status.error_message),
    }


# --------------------------------------------------------------------------------------------
# OpenAPI

WAMID = "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA="

# The documentation's example.
EXAMPLE = {
    "id": 123,
    "template": {"id": 45, "name": "welcome_message", "language": "es", "category": "MARKETING"},
    "recipient": {"phone": "+5491112345678", "contact_name": "Juan Perez", "contact_id": 789},
    "variables_used": {"name": "Juan Perez", "code": "ABC123"},
    "delivery_status": {
        "current": "read",
        "sent_at": "2025-11-16T21:30:00Z",
        "delivered_at": "2025-11-16T21:30:05Z",
        "read_at": "2025-11-16T21:31:00Z",
        "failed_at": None,
        "error_code": None,
        "error_message": None,
    },
    "meta_message_id": WAMID,
    "was_successful": True,
    "error_message": None,
    "sent_at": "2025-11-16T21:30:00Z",
}

_TIME = {"type": ["string", "null"], "format": "date-time", "description": "UTC, with Z."}
_NULL_TEXT = {"type": ["string", "null"]}


def _object(properties: dict[str, object]) -> dict[str, object]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


SCHEMA = _object(
    {
        "id": {"type": "integer", "description": "Mindo's id of the send record."},
        "template": _object(
            {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "language": {"type": "string"},
                "category": {"type": "string", "examples": ["MARKETING", "UTILITY"]},
            }
        ),
        "recipient": _object(
            {
                "phone": {"type": "string", "description": "E.164, with a leading +."},
                "contact_name": {
                    "type": ["string", "null"],
                    "description": "The contact's name (contact-lookup's fullName), if known.",
                },
                "contact_id": {
                    "type": ["integer", "null"],
                    "description": "The organisation's contact with this phone, if any.",
                },
            }
        ),
        "variables_used": {"type": "object", "additionalProperties": {"type": "string"}},
        "delivery_status": _object(
            {
                "current": {
                    "type": ["string", "null"],
                    "enum": ["sent", "delivered", "read", "failed", None],
                },
                "sent_at": _TIME,
                "delivered_at": _TIME,
                "read_at": _TIME,
                "failed_at": _TIME,
                "error_code": {"type": ["integer", "null"], "description": "Meta's error code."},
                "error_message": _NULL_TEXT,
            }
        ),
        "meta_message_id": {"type": "string", "description": "The wamid of the path."},
        "was_successful": {
            "type": "boolean",
            "description": "Whether Meta accepted the send.",
        },
        "error_message": {**_NULL_TEXT, "description": "Why the send failed, if it did."},
        "sent_at": _TIME,
    }
)

NOT_FOUND_EXAMPLE = {"error": f"Message '{WAMID}' no encontrado", "code": "message_not_found"}

OPERATION = {
    "operationId": "getMessage",
    "summary": "Delivery status of one message",
    "description": (
        "The current delivery status of a template message by its wamid (Send message's "
        "message_id), updated as Meta's status webhooks arrive. recipient.contact_id and "
        "contact_name are the organisation's contact with the recipient's phone (see "
        "contact-lookup), null when there is none. Only the organisation that sent the message "
        "sees it. Needs the read scope."
    ),
    "parameters": [
        {
            "name": PARAMETER,
            "in": "path",
            "required": True,
            "description": (
                "Meta's wamid, as Send message answered it. It may contain +, / and =; "
                "everything up to the final / is the id."
            ),
            "schema": {"type": "string"},
            "example": WAMID,
        }
    ],
    "responses": {
        "200": openapi.response("The message's status.", SCHEMA, {"Read": EXAMPLE}),
        "404": openapi.response(
            "No such message for this API key's organisation.",
            openapi.ref("CodedError"),
            {"Message not found": NOT_FOUND_EXAMPLE},
        ),
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (Route(method="GET", path=PATH, handler=get_message, operation=OPERATION),)
