"""GET /api/v1/contact-lookup/?phone=…: who a number is to the key's organisation (§11).

200 whether or not the contact exists (``found``); camelCase fields, as documented. The phone is
normalised by the service (every documented form); a missing or empty ``phone`` answers DRF's
``{"phone": ["This field is required."]}`` and one that cannot be a number ``{"phone": [why]}``,
both 400, after the key is checked. Needs the read scope.
"""

from __future__ import annotations

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import openapi
from rest_bridge.api_key import api_key
from rest_bridge.convert import iso_utc_or_null
from rest_bridge.fields import Invalid
from rest_bridge.problems import json_response
from rest_bridge.query import Query, last, validated_query
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = "/api/v1/contact-lookup/"
PHONE = "phone"
SCOPE = "read"
REQUIRED = "This field is required."


def _phone(query: Query) -> str:
    phone = last(query, PHONE)
    if phone is None or not phone.strip():
        raise Invalid({PHONE: [REQUIRED]})
    return phone


async def lookup_contact(request: web.Request) -> web.Response:
    key = api_key(request)
    phone = await validated_query(request, _phone, api_key=key, scope=SCOPE)
    service = upstream(request)
    reply = await service.call(
        service.stub.LookupContact,
        mindo_pb2.LookupContactRequest(phone=phone),
        api_key=key,
        request_fields=(PHONE,),
    )
    return json_response(to_body(reply))


def to_body(reply: mindo_pb2.LookupContactResponse) -> dict[str, object]:
    return {
        "found": reply.found,
        "contact": _contact(reply.contact) if reply.HasField("contact") else None,
        "hasReplied": reply.has_replied,
        "lastReplyAt": iso_utc_or_null(reply, "last_reply_at"),
        "sessionWindowActive": reply.session_window_active,
        "sessionExpiresAt": iso_utc_or_null(reply, "session_expires_at"),
        "optedOut": reply.opted_out,
        "optedOutAt": iso_utc_or_null(reply, "opted_out_at"),
    }


def _contact(contact: mindo_pb2.Contact) -> dict[str, object]:
    return {
        "id": contact.id,
        "fullName": contact.full_name if contact.HasField("full_name") else None,
        "phone": contact.phone,
        "email": contact.email if contact.HasField("email") else None,
        "contactListId": contact.contact_list_id if contact.HasField("contact_list_id") else None,
        "contactListName": (
            contact.contact_list_name if contact.HasField("contact_list_name") else None
        ),
        "source": contact.source,
        "createdAt": iso_utc_or_null(contact, "created_at"),
    }


# --------------------------------------------------------------------------------------------
# OpenAPI

# The documentation's example.
FOUND_EXAMPLE = {
    "found": True,
    "contact": {
        "id": 123,
        "fullName": "Juan Perez",
        "phone": "+5492235961983",
        "email": "juan@ejemplo.com",
        "contactListId": 5,
        "contactListName": "Lista Principal",
        "source": "organic",
        "createdAt": "2025-01-15T10:30:00Z",
    },
    "hasReplied": True,
    "lastReplyAt": "2025-03-28T14:22:00Z",
    "sessionWindowActive": True,
    "sessionExpiresAt": "2025-03-29T14:22:00Z",
    "optedOut": False,
    "optedOutAt": None,
}
NOT_FOUND_EXAMPLE = {
    "found": False,
    "contact": None,
    "hasReplied": False,
    "lastReplyAt": None,
    "sessionWindowActive": False,
    "sessionExpiresAt": None,
    "optedOut": False,
    "optedOutAt": None,
}
INVALID_EXAMPLE = {PHONE: ["invalid phone number 'abc': it contains letters; use digits only"]}

_TIME = {"type": ["string", "null"], "format": "date-time", "description": "UTC, with Z."}


def _object(properties: dict[str, object]) -> dict[str, object]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


CONTACT_SCHEMA = _object(
    {
        "id": {"type": "integer"},
        "fullName": {
            "type": ["string", "null"],
            "description": "The name set for the contact, else their WhatsApp profile name.",
        },
        "phone": {"type": "string", "description": "E.164, with a leading +."},
        "email": {"type": ["string", "null"]},
        "contactListId": {
            "type": ["integer", "null"],
            "description": "Always null today: Mindo has no contact lists yet.",
        },
        "contactListName": {
            "type": ["string", "null"],
            "description": "Always null today: Mindo has no contact lists yet.",
        },
        "source": {
            "type": "string",
            "enum": ["organic", "outbound"],
            "description": (
                "organic: they wrote to one of the organisation's numbers first; outbound: the "
                "organisation sent them a message first."
            ),
        },
        "createdAt": {"type": "string", "format": "date-time", "description": "UTC, with Z."},
    }
)

SCHEMA = _object(
    {
        "found": {"type": "boolean"},
        "contact": {"oneOf": [CONTACT_SCHEMA, {"type": "null"}]},
        "hasReplied": {"type": "boolean", "description": "Whether they ever wrote in."},
        "lastReplyAt": {**_TIME, "description": "When they last wrote (Meta's time), UTC."},
        "sessionWindowActive": {
            "type": "boolean",
            "description": "Whether less than 24 hours have passed since their last message.",
        },
        "sessionExpiresAt": {
            **_TIME,
            "description": "lastReplyAt + 24 h; in the past once the window has closed.",
        },
        "optedOut": {
            "type": "boolean",
            "description": (
                "Mindo's addition: on the organisation's suppression list (they wrote STOP, "
                "BAJA, CANCELAR, PARAR, SAIR or UNSUBSCRIBE, and not START or ALTA since; or the "
                "organisation added them: Suppression list). "
                "Marketing templates are not sent to them."
            ),
        },
        "optedOutAt": {**_TIME, "description": "Since when (their first stop word), UTC."},
    }
)

OPERATION = {
    "operationId": "lookupContact",
    "summary": "Look up a contact by phone",
    "description": (
        "Who a phone number is to the API key's organisation: its contact, whether they have "
        "written in, whether WhatsApp's 24-hour customer-service window is open, and whether "
        "they opted out of marketing messages (optedOut, optedOutAt: Mindo's addition). Answers "
        "200 even when there is no such contact (found: false, contact: null); another "
        "organisation's contact is not found. A contact is created when someone writes to one "
        "of the organisation's numbers (source organic) or when the organisation sends them a "
        "message with Send message (source outbound). Needs the read scope."
    ),
    "parameters": [
        {
            "name": PHONE,
            "in": "query",
            "required": True,
            "description": (
                "E.164 with or without +, Argentina's 15 form, spaces and dashes: "
                "+5492235961983, 5492235961983, +54223155961983, 54223155961983 and "
                "+54 223 15-596-1983 are one number. Outside Argentina, use E.164 with the "
                "country code."
            ),
            "schema": {"type": "string"},
            "example": "+5492235961983",
        }
    ],
    "responses": {
        "200": openapi.response(
            "The lookup, found or not.",
            SCHEMA,
            {"Found": FOUND_EXAMPLE, "Not found": NOT_FOUND_EXAMPLE},
        ),
        "400": openapi.response(
            "The phone is missing or cannot be a phone number.",
            openapi.ref("FieldErrors"),
            {"Not a number": INVALID_EXAMPLE, "Missing": {PHONE: [REQUIRED]}},
        ),
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (Route(method="GET", path=PATH, handler=lookup_contact, operation=OPERATION),)
