"""The dashboard's pages: sign-in and sign-out, the bulks, one bulk, the numbers.

Each page asks the service only for what it shows: one page of bulks, one bulk and one page of
its recipients (never all of them: a 100,000-recipient bulk renders as fast as a small one);
the chart and the failures come after the page, from ``insights_routes``.
"""

from __future__ import annotations

import hmac
from typing import Final

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.bulk_bodies import detail, message, summary
from rest_bridge.convert import iso_utc_or_null
from rest_bridge.dashboard.guard import (
    CSRF_FIELD,
    PREFIX,
    SESSIONS,
    SIGN_IN_COOKIE,
    SIGN_IN_PATH,
    checked_form,
    clear_cookie,
    see_other,
    session_of,
    set_cookie,
    sign_in_token,
)
from rest_bridge.dashboard.rendering import render
from rest_bridge.dashboard.sessions import COOKIE, Session
from rest_bridge.problems import ApiError
from rest_bridge.routes.business_accounts import to_body
from rest_bridge.upstream import upstream

BULK_STATUSES: Final = (
    "SCHEDULED", "QUEUED", "PROCESSING", "PAUSED", "COMPLETED", "PARTIAL", "FAILED", "CANCELLED",
)  # fmt: skip
RECIPIENT_STATUSES: Final = (
    "pending", "sending", "sent", "delivered", "read", "failed", "opted_out", "cancelled",
)  # fmt: skip
BULKS_PER_PAGE: Final = 25
RECIPIENTS_PER_PAGE: Final = 50
# What a button did, shown on the page it returns to (fixed texts: nothing from the URL echoed).
NOTICES: Final = {
    "paused": "The bulk send is paused: no new message of it starts.",
    "resumed": "The bulk send goes on.",
    "cancelled": "The bulk send is cancelled: recipients not sent yet will not be.",
}
# An API key is about 40 characters; anything far longer is not one (and is not echoed).
MAX_KEY_LENGTH: Final = 200


async def home(request: web.Request) -> web.StreamResponse:
    session_of(request)
    return see_other(f"{PREFIX}/bulks/")


async def sign_in_page(request: web.Request) -> web.StreamResponse:
    return _sign_in_form(request, error=None, status=200)


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token, key = form.get(CSRF_FIELD), form.get("api_key")
    expected = request.cookies.get(SIGN_IN_COOKIE)
    if not expected or not isinstance(token, str) or not hmac.compare_digest(token, expected):
        return _sign_in_form(request, error="The form expired. Try again.", status=403)
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        return _sign_in_form(request, error="Enter an API key.", status=400)
    service = upstream(request)
    try:
        info = await service.call(
            service.stub.CheckApiKey, mindo_pb2.CheckApiKeyRequest(), api_key=key.strip()
        )
    except ApiError as problem:
        if problem.status in (401, 403):
            return _sign_in_form(request, error="That API key is not valid.", status=401)
        raise
    session = request.app[SESSIONS].start(
        api_key=key.strip(), organisation_name=info.organisation_name, key_name=info.key_name
    )
    response = see_other(f"{PREFIX}/bulks/")
    set_cookie(request, response, COOKIE, session.id)
    clear_cookie(response, SIGN_IN_COOKIE)
    return response


def _sign_in_form(request: web.Request, *, error: str | None, status: int) -> web.Response:
    token = sign_in_token(request)
    response = render(request, "sign_in.html", {"csrf_token": token, "error": error}, status=status)
    set_cookie(request, response, SIGN_IN_COOKIE, token)
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    await checked_form(request, session)
    request.app[SESSIONS].end(session.id)
    response = see_other(SIGN_IN_PATH)
    clear_cookie(response, COOKIE)
    return response


async def bulks(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    status = _choice(request, "status", BULK_STATUSES, upper=True)
    page = _page(request)
    service = upstream(request)
    ask = mindo_pb2.ListBulksRequest(status=status, page=page, page_size=BULKS_PER_PAGE)
    reply = await service.call(service.stub.ListBulks, ask, api_key=session.api_key)
    context = {
        **_common(session),
        "bulks": [summary(bulk) for bulk in reply.results],
        "count": reply.count,
        "status": status,
        "statuses": BULK_STATUSES,
        "page": page,
        "pages": _pages(reply.count, BULKS_PER_PAGE),
        "live_query": request.query_string,
    }
    return render(request, "bulks.html", context)


async def bulk(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    bulk_send_id = request.match_info["bulk_id"]
    status = _choice(request, "status", RECIPIENT_STATUSES, upper=False)
    page = _page(request)
    service = upstream(request)
    found = await service.call(
        service.stub.GetBulk,
        mindo_pb2.GetBulkRequest(bulk_send_id=bulk_send_id),
        api_key=session.api_key,
    )
    ask = mindo_pb2.ListBulkMessagesRequest(
        bulk_send_id=bulk_send_id, status=status, page=page, page_size=RECIPIENTS_PER_PAGE
    )
    recipients = await service.call(service.stub.ListBulkMessages, ask, api_key=session.api_key)
    context = {
        **_common(session),
        "bulk": detail(found),
        "recipients": [_recipient(item) for item in recipients.results],
        "count": recipients.count,
        "status": status,
        "statuses": RECIPIENT_STATUSES,
        "page": page,
        "pages": _pages(recipients.count, RECIPIENTS_PER_PAGE),
        "notice": NOTICES.get(request.query.get("done", ""), ""),
    }
    return render(request, "bulk.html", context)


async def numbers(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    service = upstream(request)
    reply = await service.call(
        service.stub.ListBusinessAccounts,
        mindo_pb2.ListBusinessAccountsRequest(),
        api_key=session.api_key,
    )
    return render(request, "numbers.html", {**_common(session), "overview": to_body(reply)})


def _recipient(item: mindo_pb2.BulkMessage) -> dict[str, object]:
    """A row of the recipients table: the REST item, with the error code and failure time."""
    return {
        **message(item),
        "position": item.position,
        "error_code": item.error_code if item.HasField("error_code") else None,
        "failed_at": iso_utc_or_null(item, "failed_at"),
    }


def _common(session: Session) -> dict[str, object]:
    return {
        "csrf_token": session.csrf_token,
        "organisation_name": session.organisation_name,
        "key_name": session.key_name,
    }


def _choice(request: web.Request, name: str, choices: tuple[str, ...], *, upper: bool) -> str:
    """A filter from the query: one of ``choices`` or "" (all); anything else reads as all."""
    given = request.query.get(name, "")
    given = given.upper() if upper else given.lower()
    return given if given in choices else ""


def _page(request: web.Request) -> int:
    given = request.query.get("page", "1")
    return int(given) if given.isdigit() and 0 < int(given) < 1_000_000 else 1


def _pages(count: int, per_page: int) -> int:
    return max(1, -(-count // per_page))
