"""The organisation's suppression list (Mindo's addition): GET and POST
/api/v1/suppression-list/, DELETE /api/v1/suppression-list/{phone}/.

Listing is paginated as the bulk listings are (``page``, ``page_size``; needs the read scope).
Adding (a body ``{"phone": …}``) and removing need the send scope: both change who receives
marketing templates. A phone that cannot be a number answers 400 ``{"phone": [why]}``; removing
one not on the list answers 404 ``not_suppressed``. Adding answers the entry (200, whether it
was on the list already or not: adding is idempotent); removing answers 204.
"""

from __future__ import annotations

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import openapi, pagination
from rest_bridge.api_key import api_key
from rest_bridge.convert import iso_utc_or_null
from rest_bridge.fields import CharField, Schema
from rest_bridge.inputs import validated_body
from rest_bridge.pagination import page_body, page_request
from rest_bridge.problems import json_response
from rest_bridge.query import validated_query
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = "/api/v1/suppression-list/"
PHONE = "phone"
ENTRY_PATH = f"{PATH}{{{PHONE}}}/"
READ_SCOPE = "read"
CHANGE_SCOPE = "send"

SCHEMA = Schema(
    fields={
        PHONE: CharField(
            max_length=64,
            description=(
                "Any documented form: E.164 with or without +, Argentina's 15 form, spaces "
                "and dashes."
            ),
            example="+5492235961983",
        )
    }
)


async def list_suppressed(request: web.Request) -> web.Response:
    key = api_key(request)
    page = await validated_query(request, page_request, api_key=key, scope=READ_SCOPE)
    service = upstream(request)
    message = mindo_pb2.ListSuppressedPhonesRequest(page=page.page, page_size=page.page_size)
    reply = await service.call(service.stub.ListSuppressedPhones, message, api_key=key)
    results = [entry(e) for e in reply.results]
    return json_response(page_body(request, page, reply.count, results))


async def suppress(request: web.Request) -> web.Response:
    key = api_key(request)
    body = await validated_body(request, SCHEMA, api_key=key, scope=CHANGE_SCOPE)
    service = upstream(request)
    reply = await service.call(
        service.stub.SuppressPhone,
        mindo_pb2.SuppressPhoneRequest(phone=str(body[PHONE])),
        api_key=key,
        request_fields=(PHONE,),
    )
    return json_response(entry(reply))


async def unsuppress(request: web.Request) -> web.Response:
    key = api_key(request)
    service = upstream(request)
    await service.call(
        service.stub.UnsuppressPhone,
        mindo_pb2.UnsuppressPhoneRequest(phone=request.match_info[PHONE]),
        api_key=key,
        request_fields=(PHONE,),
    )
    return web.Response(status=204)


def entry(suppressed: mindo_pb2.SuppressedPhone) -> dict[str, object]:
    name = suppressed.contact_name if suppressed.HasField("contact_name") else None
    return {
        "phone": suppressed.phone,
        "since": iso_utc_or_null(suppressed, "since"),
        "contactId": suppressed.contact_id,
        "contactName": name,
    }


# --------------------------------------------------------------------------------------------
# OpenAPI

ENTRY_EXAMPLE = {
    "phone": "+5492235961983",
    "since": "2026-12-07T02:40:00Z",
    "contactId": 123,
    "contactName": "Juan Perez",
}
INVALID_EXAMPLE = {PHONE: ["invalid phone number 'abc': it contains letters; use digits only"]}
NOT_SUPPRESSED_EXAMPLE = {
    "error": "This phone is not on the organisation's suppression list",
    "code": "not_suppressed",
}

ENTRY_SCHEMA = {
    "type": "object",
    "required": ["phone", "since", "contactId", "contactName"],
    "additionalProperties": False,
    "properties": {
        "phone": {"type": "string", "description": "E.164, with a leading +."},
        "since": {
            "type": "string",
            "format": "date-time",
            "description": (
                "UTC, with Z: when it was put on the list (the first stop word, Meta's "
                "opt-out, or the organisation's addition)."
            ),
        },
        "contactId": {"type": "integer", "description": "The contact (see Look up contact)."},
        "contactName": {"type": ["string", "null"], "description": "The contact's name."},
    },
}

PAGE_SCHEMA = {
    "type": "object",
    "required": ["count", "next", "previous", "results"],
    "properties": {
        "count": {"type": "integer"},
        "next": {"type": ["string", "null"], "format": "uri"},
        "previous": {"type": ["string", "null"], "format": "uri"},
        "results": {"type": "array", "items": ENTRY_SCHEMA},
    },
}

_BAD_PHONE = openapi.response(
    "The phone is missing or cannot be a phone number.",
    openapi.ref("FieldErrors"),
    {"Not a number": INVALID_EXAMPLE},
)

_ABOUT = (
    "Those on the organisation's suppression list receive no marketing template: Send message "
    "answers 409 recipient_opted_out and a bulk send skips them (opted_out). A contact goes on "
    "it by writing a stop word or through Meta's opt-out, and the organisation can add and "
    "remove phones here."
)

LIST_OPERATION = {
    "operationId": "listSuppressedPhones",
    "summary": "The suppression list",
    "description": (
        f"Mindo's addition. {_ABOUT} Latest added first, paginated as the bulk listings. "
        "Needs the read scope."
    ),
    "parameters": [
        {
            "name": pagination.PAGE,
            "in": "query",
            "schema": {"type": "integer", "minimum": 1},
            "description": "1 by default.",
        },
        {
            "name": pagination.PAGE_SIZE,
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            "description": "20 by default; at most 100.",
        },
    ],
    "responses": {
        "200": openapi.response(
            "A page of the list.",
            PAGE_SCHEMA,
            {"OK": {"count": 1, "next": None, "previous": None, "results": [ENTRY_EXAMPLE]}},
        ),
        "404": openapi.response(
            "The page does not exist.",
            openapi.ref("CodedError"),
            {"Invalid page": {"error": pagination.INVALID_PAGE, "code": "invalid_page"}},
        ),
        **openapi.common_error_responses(calls_service=True),
    },
}

ADD_OPERATION = {
    "operationId": "suppressPhone",
    "summary": "Add a phone to the suppression list",
    "description": (
        f"Mindo's addition. {_ABOUT} The phone stays on the list until removed here or until "
        "they write START or ALTA. The contact is created (source outbound) when there is "
        "none. Adding a phone already on the list changes nothing and answers it (since keeps "
        "its first date). Needs the send scope."
    ),
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SCHEMA.json_schema()}},
    },
    "responses": {
        "200": openapi.response("On the list.", ENTRY_SCHEMA, {"OK": ENTRY_EXAMPLE}),
        "400": _BAD_PHONE,
        "413": {"$ref": "#/components/responses/PayloadTooLarge"},
        "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
        **openapi.common_error_responses(calls_service=True),
    },
}

REMOVE_OPERATION = {
    "operationId": "unsuppressPhone",
    "summary": "Remove a phone from the suppression list",
    "description": (
        "Mindo's addition. They receive marketing templates again (until they write a stop "
        "word again). A stop word they wrote before the removal, delivered late, does not put "
        "them back. Needs the send scope."
    ),
    "parameters": [
        {
            "name": PHONE,
            "in": "path",
            "required": True,
            "description": "Any documented form (URL-encoded), e.g. +5492235961983.",
            "schema": {"type": "string"},
        }
    ],
    "responses": {
        "204": {"description": "Removed."},
        "400": _BAD_PHONE,
        "404": openapi.response(
            "The phone is not on the list (404 rather than 204, so that a mistyped number "
            "does not look removed).",
            openapi.ref("CodedError"),
            {"Not on the list": NOT_SUPPRESSED_EXAMPLE},
        ),
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (
    Route(method="GET", path=PATH, handler=list_suppressed, operation=LIST_OPERATION),
    Route(method="POST", path=PATH, handler=suppress, operation=ADD_OPERATION),
    Route(method="DELETE", path=ENTRY_PATH, handler=unsuppress, operation=REMOVE_OPERATION),
)
