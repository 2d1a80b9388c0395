"""GET /api/v1/meta-templates/bulk-sends/{id}/messages/: a bulk send's recipients, paginated.

Filter ``status``: pending, sending, sent, delivered, read, failed or cancelled (read in any
case). Every recipient is listed, with its status; one not sent yet has a null wamid and times.
Pagination is DRF's (``pagination``).
"""

from __future__ import annotations

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import bulk_schemas, openapi, pagination
from rest_bridge.api_key import api_key
from rest_bridge.bulk_bodies import message
from rest_bridge.pagination import PageRequest, page_body, page_request
from rest_bridge.problems import json_response
from rest_bridge.query import Choice, Filters, Query, validated_query
from rest_bridge.routes.bulks import PATH as BULK_PATH
from rest_bridge.routes.bulks import PATH_PARAMETER, bulk_id
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = f"{BULK_PATH}messages/"
SCOPE = "read"
MESSAGE_STATUSES = bulk_schemas.RECIPIENT_STATUSES

FILTERS = Filters(
    fields={
        "status": Choice(
            choices=MESSAGE_STATUSES,
            normalise=str.lower,
            description="Only messages in this status.",
        ),
    }
)
QUERY_FIELDS = (*FILTERS.names, pagination.PAGE, pagination.PAGE_SIZE)


def _parse(query: Query) -> tuple[dict[str, object], PageRequest]:
    return FILTERS.parse(query), page_request(query)


async def list_messages(request: web.Request) -> web.Response:
    key = api_key(request)
    filters, page = await validated_query(request, _parse, api_key=key, scope=SCOPE)
    service = upstream(request)
    ask = mindo_pb2.ListBulkMessagesRequest(
        bulk_send_id=bulk_id(request),
        status=str(filters.get("status", "")),
        page=page.page,
        page_size=page.page_size,
    )
    reply = await service.call(
        service.stub.ListBulkMessages, ask, api_key=key, request_fields=QUERY_FIELDS
    )
    results = [message(item) for item in reply.results]
    return json_response(page_body(request, page, reply.count, results))


OPERATION = {
    "operationId": "listBulkSendMessages",
    "summary": "Messages of a bulk send",
    "description": (
        "One item per unique recipient, paginated as DRF does. Every recipient has a status: "
        "pending → sending → sent → delivered → read, or failed with error_message, or "
        "cancelled (never sent: the bulk was cancelled, or stopped early, and then "
        "error_message is the bulk's stop_reason). pending, sending and cancelled are not in "
        "Mindo's documentation. Needs the read scope."
    ),
    "parameters": [PATH_PARAMETER, *FILTERS.parameters(), *pagination.parameters()],
    "responses": {
        "200": openapi.response(
            "A page of messages.",
            bulk_schemas.page_of("BulkMessage"),
            {
                "Page": {
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [bulk_schemas.MESSAGE_EXAMPLE],
                }
            },
        ),
        "400": openapi.response(
            "The status filter is invalid.",
            openapi.ref("FieldErrors"),
            {
                "Invalid": {
                    "status": ["Select a valid choice. done is not one of the available choices."]
                }
            },
        ),
        "404": openapi.response(
            "No such bulk send, or no such page.",
            openapi.ref("CodedError"),
            {
                "Bulk not found": bulk_schemas.BULK_NOT_FOUND_EXAMPLE,
                "Invalid page": {"error": pagination.INVALID_PAGE, "code": "invalid_page"},
            },
        ),
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (Route(method="GET", path=PATH, handler=list_messages, operation=OPERATION),)
