"""GET /api/v1/meta-templates/bulk-sends/: the organisation's bulk sends, filtered, paginated.

Filters (mindo-api.md §9): ``status`` (UPPERCASE, read in any case), ``template`` (a template
id), ``created_after`` / ``created_before`` (``YYYY-MM-DD``, both inclusive). Pagination is
DRF's (``pagination``); items are the list shape, without started_at, estimated_time_minutes
and created_by.
"""

from __future__ import annotations

from typing import cast

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import bulk_schemas, openapi, pagination
from rest_bridge.api_key import api_key
from rest_bridge.bulk_bodies import summary
from rest_bridge.pagination import PageRequest, page_body, page_request
from rest_bridge.problems import json_response
from rest_bridge.query import Choice, Day, Filters, PositiveInteger, Query, validated_query
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = "/api/v1/meta-templates/bulk-sends/"
SCOPE = "read"
BULK_STATUSES = (
    "SCHEDULED",
    "QUEUED",
    "PROCESSING",
    "PAUSED",
    "COMPLETED",
    "PARTIAL",
    "FAILED",
    "CANCELLED",
)

FILTERS = Filters(
    fields={
        "status": Choice(
            choices=BULK_STATUSES,
            normalise=str.upper,
            description="Only bulk sends in this status (any case).",
        ),
        "template": PositiveInteger(description="Only bulk sends of this template ID."),
        "created_after": Day(description="Only bulk sends created on or after this day (UTC)."),
        "created_before": Day(description="Only bulk sends created on or before this day (UTC)."),
    }
)
QUERY_FIELDS = (*FILTERS.names, pagination.PAGE, pagination.PAGE_SIZE)


def _parse(query: Query) -> tuple[dict[str, object], PageRequest]:
    # DRF filters first (400), then paginates (404).
    return FILTERS.parse(query), page_request(query)


async def list_bulks(request: web.Request) -> web.Response:
    key = api_key(request)
    filters, page = await validated_query(request, _parse, api_key=key, scope=SCOPE)
    service = upstream(request)
    reply = await service.call(
        service.stub.ListBulks, to_request(filters, page), api_key=key, request_fields=QUERY_FIELDS
    )
    results = [summary(bulk) for bulk in reply.results]
    return json_response(page_body(request, page, reply.count, results))


def to_request(filters: dict[str, object], page: PageRequest) -> mindo_pb2.ListBulksRequest:
    return mindo_pb2.ListBulksRequest(
        status=str(filters.get("status", "")),
        template_id=cast(int, filters.get("template", 0)),
        created_after=str(filters.get("created_after", "")),
        created_before=str(filters.get("created_before", "")),
        page=page.page,
        page_size=page.page_size,
    )


_INVALID_FILTERS = {
    "status": ["Select a valid choice. DONE is not one of the available choices."],
    "created_after": ["Enter a valid date."],
}

OPERATION = {
    "operationId": "listBulkSends",
    "summary": "List bulk sends",
    "description": (
        "The API key's organisation's bulk sends, newest first, with filters and DRF "
        "pagination: next and previous are absolute URLs (the same query, page changed) or "
        "null. Needs the read scope."
    ),
    "parameters": [*FILTERS.parameters(), *pagination.parameters()],
    "responses": {
        "200": openapi.response(
            "A page of bulk sends.",
            bulk_schemas.page_of("BulkSummary"),
            {
                "Page": {
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [bulk_schemas.SUMMARY_EXAMPLE],
                }
            },
        ),
        "400": openapi.response(
            "A filter's value is invalid.",
            openapi.ref("FieldErrors"),
            {"Invalid": _INVALID_FILTERS},
        ),
        "404": openapi.response(
            "The page does not exist.",
            openapi.ref("CodedError"),
            {"Invalid page": {"error": pagination.INVALID_PAGE, "code": "invalid_page"}},
        ),
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (Route(method="GET", path=PATH, handler=list_bulks, operation=OPERATION),)
