"""Importing contacts (Mindo's addition): POST /api/v1/contacts/, GET /api/v1/contact-lists/.

camelCase, as the documented contact-lookup. An import is all or nothing and needs the send
scope: a body whose shape is wrong answers DRF's 400 (``{"contacts": {"3": {"phone": [...]}}}``,
the first 20 items at fault), a row that cannot be a contact answers 400 ``invalid_contacts``
with the rows at fault by index, and in both cases nothing is stored. The CLI imports files of
any size (``mindo contacts import``); over REST a request carries at most 5,000 contacts.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import openapi
from rest_bridge.api_key import api_key
from rest_bridge.convert import iso_utc_or_null
from rest_bridge.fields import CharField, ListField, Schema
from rest_bridge.inputs import validated_body
from rest_bridge.problems import json_response
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = "/api/v1/contacts/"
LISTS_PATH = "/api/v1/contact-lists/"
CONTACTS = "contacts"
LIST_NAME = "contactListName"
MAX_CONTACTS_PER_REQUEST: Final = 5_000
# 5,000 rows of phone, name and email fit with room to spare.
MAX_BODY_BYTES: Final = 4 * 1024 * 1024

CONTACT_SCHEMA = Schema(
    fields={
        "phone": CharField(
            max_length=64,
            description="Any documented form: E.164 with or without +, Argentina's 15 form, "
            "spaces and dashes.",
            example="+5492235961983",
        ),
        "fullName": CharField(
            max_length=256,
            required=False,
            allow_blank=True,
            description="Omitted or empty: an existing contact's name stays.",
            example="Juan Perez",
        ),
        "email": CharField(
            max_length=254,
            required=False,
            allow_blank=True,
            description="Omitted or empty: an existing contact's email stays.",
            example="juan@example.com",
        ),
    }
)

IMPORT_SCHEMA = Schema(
    fields={
        CONTACTS: ListField(
            child=CONTACT_SCHEMA,
            max_items=MAX_CONTACTS_PER_REQUEST,
            required=True,
            allow_empty=False,
        ),
        LIST_NAME: CharField(
            max_length=200,
            required=False,
            allow_blank=True,
            description="Put every contact of the import on this list (created when the "
            "organisation has none of that name). Omitted: each stays on its list.",
            example="VIP customers",
        ),
    }
)


async def import_contacts(request: web.Request) -> web.Response:
    key = api_key(request)
    body = await validated_body(
        request, IMPORT_SCHEMA, api_key=key, scope="send", max_bytes=MAX_BODY_BYTES
    )
    message = mindo_pb2.ImportContactsRequest(
        contacts=[_contact_input(row) for row in _rows(body)],
        contact_list_name=str(body.get(LIST_NAME, "")),
    )
    service = upstream(request)
    reply = await service.call(service.stub.ImportContacts, message, api_key=key)
    return json_response(imported(reply))


async def list_contact_lists(request: web.Request) -> web.Response:
    key = api_key(request)
    service = upstream(request)
    reply = await service.call(
        service.stub.ListContactLists, mindo_pb2.ListContactListsRequest(), api_key=key
    )
    return json_response({"results": [contact_list(listed) for listed in reply.results]})


def _rows(body: dict[str, object]) -> list[dict[str, object]]:
    rows = body[CONTACTS]
    assert isinstance(rows, list)  # ListField made it one
    return rows


def _contact_input(row: dict[str, object]) -> mindo_pb2.ContactInput:
    return mindo_pb2.ContactInput(
        phone=str(row["phone"]),
        full_name=str(row.get("fullName", "")),
        email=str(row.get("email", "")),
    )


def imported(reply: mindo_pb2.ImportContactsResponse) -> dict[str, object]:
    listed = reply.contact_list if reply.HasField("contact_list") else None
    return {
        "created": reply.created,
        "updated": reply.updated,
        "merged": reply.merged,
        "contactList": None if listed is None else contact_list(listed),
    }


def contact_list(listed: mindo_pb2.ContactList) -> dict[str, object]:
    return {
        "id": listed.id,
        "name": listed.name,
        "createdAt": iso_utc_or_null(listed, "created_at"),
        "size": listed.size,
    }


# --------------------------------------------------------------------------------------------
# OpenAPI

LIST_EXAMPLE = {"id": 7, "name": "VIP customers", "createdAt": "2026-12-07T03:40:00Z", "size": 2}
IMPORTED_EXAMPLE = {"created": 1, "updated": 1, "merged": 0, "contactList": LIST_EXAMPLE}
INVALID_EXAMPLE = {
    "error": "1 of 2 contacts are invalid; nothing was imported. contacts[1].phone: invalid "
    "phone number 'abc': it contains letters; use digits only",
    "code": "invalid_contacts",
    "fields": {
        "contacts.1.phone": ["invalid phone number 'abc': it contains letters; use digits only"]
    },
}

LIST_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "createdAt", "size"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time", "description": "UTC, with Z."},
        "size": {"type": "integer", "description": "Contacts on the list now."},
    },
}

IMPORTED_SCHEMA = {
    "type": "object",
    "required": ["created", "updated", "merged", "contactList"],
    "additionalProperties": False,
    "properties": {
        "created": {"type": "integer", "description": "Contacts that did not exist."},
        "updated": {
            "type": "integer",
            "description": "Contacts that existed: the fields given were set, the others kept.",
        },
        "merged": {
            "type": "integer",
            "description": "Rows that repeated a phone given earlier (the later row's fields win).",
        },
        "contactList": {"oneOf": [LIST_SCHEMA, {"type": "null"}]},
    },
}

IMPORT_OPERATION = {
    "operationId": "importContacts",
    "summary": "Import contacts",
    "description": (
        "Mindo's addition. Each row becomes a contact of the organisation (source imported) or "
        "sets the fields it has on the existing contact (its source, dates, replies and "
        "suppression stay). With contactListName every contact is put on that list (a contact "
        "is on one list at most). All or nothing: one row that cannot be a contact refuses the "
        "import and nothing is stored. At most 5,000 contacts a request (the CLI imports a "
        "whole file). Needs the send scope."
    ),
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": IMPORT_SCHEMA.json_schema()}},
    },
    "responses": {
        "200": openapi.response("Imported.", IMPORTED_SCHEMA, {"OK": IMPORTED_EXAMPLE}),
        "400": openapi.response(
            "The body's shape is wrong (DRF's field errors, the first 20 items at fault by "
            "index), or a row cannot be a contact (invalid_contacts, the first 20 fields at "
            "fault as contacts.<index>.<field>). Nothing was stored.",
            {"type": "object"},
            {
                "A row is not a contact": INVALID_EXAMPLE,
                "Wrong shape": {CONTACTS: {"0": {"phone": ["This field is required."]}}},
            },
        ),
        "413": {"$ref": "#/components/responses/PayloadTooLarge"},
        "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
        **openapi.common_error_responses(calls_service=True),
    },
}

LISTS_OPERATION = {
    "operationId": "listContactLists",
    "summary": "The contact lists",
    "description": "Mindo's addition. The organisation's contact lists by name, each with its "
    "size. Needs the read scope.",
    "responses": {
        "200": openapi.response(
            "The lists.",
            {
                "type": "object",
                "required": ["results"],
                "properties": {"results": {"type": "array", "items": LIST_SCHEMA}},
            },
            {"OK": {"results": [LIST_EXAMPLE]}},
        ),
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (
    Route(method="POST", path=PATH, handler=import_contacts, operation=IMPORT_OPERATION),
    Route(method="GET", path=LISTS_PATH, handler=list_contact_lists, operation=LISTS_OPERATION),
)
