"""GET /api/v1/meta-templates/bulk-sends/{id}/messages/: a bulk send's recipients, paginated.

Filter ``status``: pending, sending, sent, delivered, read, failed or cancelled (read in any
case). Every recipient is listed, with its status; one not sent yet has a null wamid and times.
Pagination is DRF's (``pagination``).

``format=csv``: every recipient (no pages) as CSV (``bulk_csv``), streamed from the service's
ExportBulkMessages RPC in chunks, so a large bulk is never held whole in memory. A failure
before the first byte (bad key, no such bulk) is the usual JSON answer; one after it cuts the
connection, so a client never takes a truncated export for a whole one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import bulk_csv, bulk_schemas, openapi, pagination
from rest_bridge.api_key import api_key
from rest_bridge.bulk_bodies import message
from rest_bridge.pagination import PageRequest, page_body, page_request
from rest_bridge.problems import ApiError, json_response
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
        "format": Choice(
            choices=("json", "csv"),
            normalise=str.lower,
            description=(
                "json (the default): a page of messages. csv: every message of the bulk send "
                "(page and page_size are ignored) as a streamed CSV file."
            ),
        ),
    }
)
QUERY_FIELDS = (*FILTERS.names, pagination.PAGE, pagination.PAGE_SIZE)
# Rows written per chunk of a CSV export (about 20 kB).
ROWS_PER_CHUNK: Final = 200

logger = logging.getLogger(__name__)


def _parse(query: Query) -> tuple[dict[str, object], PageRequest]:
    return FILTERS.parse(query), page_request(query)


async def list_messages(request: web.Request) -> web.StreamResponse:
    key = api_key(request)
    filters, page = await validated_query(request, _parse, api_key=key, scope=SCOPE)
    if filters.get("format") == "csv":
        return await export_csv(
            request, key, bulk_send_id=bulk_id(request), status=str(filters.get("status", ""))
        )
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


async def export_csv(
    request: web.Request, key: str, *, bulk_send_id: str, status: str
) -> web.StreamResponse:
    """The bulk's recipients (``status``: only those; "": all) streamed as CSV as ``key``."""
    service = upstream(request)
    ask = mindo_pb2.ExportBulkMessagesRequest(bulk_send_id=bulk_send_id, status=status)
    items = service.stream(
        service.stub.ExportBulkMessages, ask, api_key=key, request_fields=QUERY_FIELDS
    )
    try:
        first = await anext(items, None)  # a refusal answers in JSON, before any CSV is sent
        response = web.StreamResponse(headers=_csv_headers(bulk_send_id))
        response.enable_chunked_encoding()
        await response.prepare(request)
        head = [bulk_csv.COLUMNS] + ([] if first is None else [bulk_csv.row(first)])
        await response.write(bulk_csv.encode(head))
        try:
            await _write_rows(response, items)
        except ApiError as problem:
            logger.warning("CSV export cut short: the service answered %s", problem.status)
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response
    finally:
        await items.aclose()


async def _write_rows(
    response: web.StreamResponse, items: AsyncIterator[mindo_pb2.BulkMessage]
) -> None:
    rows: list[tuple[str, ...]] = []
    async for item in items:
        rows.append(bulk_csv.row(item))
        if len(rows) == ROWS_PER_CHUNK:
            await response.write(bulk_csv.encode(rows))
            rows = []
    if rows:
        await response.write(bulk_csv.encode(rows))


def _csv_headers(bulk_send_id: str) -> dict[str, str]:
    # The id is a UUID once the service has found it; anything else is left out of the name.
    name = "".join(c for c in bulk_send_id if c.isalnum() or c == "-")[:64]
    return {
        "Content-Type": f"{bulk_csv.MEDIA_TYPE}; charset=utf-8",
        "Content-Disposition": f'attachment; filename="bulk-send-{name}-messages.csv"',
    }


CSV_EXAMPLE: Final = (
    "position,phone,status,wamid,error_code,error_message,sent_at,delivered_at,read_at,failed_at,"
    "resent_at\r\n"
    "0,+447700900123,read,wamid.HBgLMTU1NTAxMDAwMDEVAgARGBI,,,2025-11-20T10:00:01Z,"
    "2025-11-20T10:00:03Z,2025-11-20T10:05:00Z,,\r\n"
    "1,+447700900124,failed,,131026,Message undeliverable,,,,2025-11-20T10:00:02Z,\r\n"
)


def _with_csv(described: dict[str, object]) -> dict[str, object]:
    """The 200 answer's JSON content, and the CSV one of ``format=csv``."""
    content = dict(described["content"])  # type: ignore[call-overload]
    content[bulk_csv.MEDIA_TYPE] = {
        "schema": {
            "type": "string",
            "description": (
                "A header row, then one row per recipient in submission order (position from "
                "0): " + ", ".join(bulk_csv.COLUMNS) + ". RFC 4180 quoting, CRLF line ends, "
                "UTF-8; times in ISO 8601 UTC; an empty cell for what is not known. A cell "
                "starting with =, +, -, @, tab or carriage return is prefixed with ' so that "
                "a spreadsheet never runs it as a formula, except a signed whole number such "
                "as an E.164 phone. Sent chunked as it is read: a connection cut before the "
                "end of the chunked body means the export is incomplete."
            ),
        },
        "example": CSV_EXAMPLE,
    }
    return {**described, "content": content}


OPERATION = {
    "operationId": "listBulkSendMessages",
    "summary": "Messages of a bulk send",
    "description": (
        "One item per unique recipient, paginated as DRF does. Every recipient has a status: "
        "pending → sending → sent → delivered → read, or failed with error_message, or "
        "cancelled (never sent: the bulk was cancelled, or stopped early, and then "
        "error_message is the bulk's stop_reason). pending, sending and cancelled are not in "
        "Mindo's documentation. format=csv exports every message at once (Mindo's "
        "addition). Needs the read scope."
    ),
    "parameters": [PATH_PARAMETER, *FILTERS.parameters(), *pagination.parameters()],
    "responses": {
        "200": _with_csv(
            openapi.response(
                "A page of messages; with format=csv, every message as a CSV file.",
                bulk_schemas.page_of("BulkMessage"),
                {
                    "Page": {
                        "count": 1,
                        "next": None,
                        "previous": None,
                        "results": [bulk_schemas.MESSAGE_EXAMPLE],
                    }
                },
            )
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
