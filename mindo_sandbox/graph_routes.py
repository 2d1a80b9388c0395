"""The Graph API endpoints Mindo uses, answered as graph.facebook.com answers them.

Every handler returns a ``GraphReply`` or raises ``GraphError``; ``_endpoint`` turns either into
the response and records the request, in one place.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from mindo_sandbox.graph_errors import GraphError
from mindo_sandbox.paging import graph_page
from mindo_sandbox.recording import RecordedRequest, mask_headers, mask_query, read_body
from mindo_sandbox.replies import GraphReply
from mindo_sandbox.sending import handle_send, unsupported_request
from mindo_sandbox.state import SandboxState

STATE_KEY = web.AppKey("mindo_sandbox.state", SandboxState)

_VERSION = r"{version:v\d+(?:\.\d+)?}"
_NO_BODY = object()

Handler = Callable[[web.Request, SandboxState, Any], Awaitable[GraphReply]]


def add_graph_routes(app: web.Application) -> None:
    app.router.add_post(f"/{_VERSION}/{{object_id}}/messages", _endpoint(_send_message))
    app.router.add_get(f"/{_VERSION}/{{object_id}}/phone_numbers", _endpoint(_phone_numbers))
    app.router.add_get(f"/{_VERSION}/{{object_id}}/message_templates", _endpoint(_templates))
    app.router.add_get(f"/{_VERSION}/{{object_id}}", _endpoint(_get_object))
    app.router.add_route("*", "/{tail:.*}", _endpoint(_unsupported))


def _endpoint(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def endpoint(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        raw_body = await request.read() if request.body_exists else None
        body = _NO_BODY if raw_body is None else read_body(raw_body)
        try:
            reply = await handler(request, state, body)
        except GraphError as error:
            reply = GraphReply.error(error)
        _record(state, request, raw_body, reply)
        return reply.response()

    return endpoint


def _record(
    state: SandboxState, request: web.Request, raw_body: bytes | None, reply: GraphReply
) -> None:
    state.recorder.add(
        RecordedRequest(
            seq=state.recorder.next_seq(),
            at=state.clock.time(),
            method=request.method,
            path=request.path,
            query=mask_query(request.query),
            headers=mask_headers(request.headers),
            raw_body=raw_body,
            status=reply.status,
            wamid=reply.wamid,
            error_code=reply.error_code,
            faults=reply.faults,
        )
    )


def access_token(request: web.Request) -> str | None:
    """Graph takes the token as ``Authorization: Bearer`` or as an ``access_token`` parameter."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query.get("access_token")


# --------------------------------------------------------------------------------------------
# Handlers


async def _send_message(request: web.Request, state: SandboxState, body: Any) -> GraphReply:
    return await handle_send(
        state,
        phone_number_id=request.match_info["object_id"],
        token=access_token(request),
        payload=None if body is _NO_BODY else body,
    )


async def _phone_numbers(request: web.Request, state: SandboxState, _body: Any) -> GraphReply:
    waba_id = _authorized_waba(request, state, "phone_numbers")
    items = [n.to_graph() for n in state.phone_numbers_of(waba_id)]
    return _paged(request, state, items)


async def _templates(request: web.Request, state: SandboxState, _body: Any) -> GraphReply:
    waba_id = _authorized_waba(request, state, "message_templates")
    entries = state.templates_of(waba_id)
    items = [e.graph for e in entries if _matches(e.graph, request.query)]
    return _paged(request, state, items)


async def _get_object(request: web.Request, state: SandboxState, _body: Any) -> GraphReply:
    object_id = _authorized_object(request, state, "get")
    number = state.phone_number(object_id)
    waba = state.waba(object_id)
    if number is not None:
        item = number.to_graph()
    elif waba is not None:
        item = {"id": waba.waba_id, "name": waba.name}
    else:  # pragma: no cover - _authorized_object only lets known ids through
        raise unsupported_request("get", object_id)
    return GraphReply.ok(select_fields(item, request.query.get("fields")))


async def _unsupported(request: web.Request, _state: SandboxState, _body: Any) -> GraphReply:
    raise GraphError(100, f"Unsupported {request.method.lower()} request.")


# --------------------------------------------------------------------------------------------
# Helpers


def _authorized_object(request: web.Request, state: SandboxState, method: str) -> str:
    token_wabas = state.wabas_of_token(access_token(request))
    object_id = request.match_info["object_id"]
    owner = state.owner_of(object_id)
    if owner is None:
        raise unsupported_request(method, object_id)
    if owner not in token_wabas:
        raise GraphError(200, f"The access token does not have access to object {object_id}.")
    return object_id


def _authorized_waba(request: web.Request, state: SandboxState, edge: str) -> str:
    object_id = _authorized_object(request, state, "get")
    if state.waba(object_id) is None:
        raise GraphError(
            100,
            f"Tried accessing nonexisting field ({edge}) on node type "
            "(WhatsAppBusinessPhoneNumber)",
        )
    return object_id


def _paged(
    request: web.Request, state: SandboxState, items: Sequence[Mapping[str, Any]]
) -> GraphReply:
    page = graph_page(
        items,
        url=request.url,
        default_limit=state.limits.page_size,
        max_limit=state.limits.max_page_size,
    )
    fields = request.query.get("fields")
    if fields:
        page["data"] = [select_fields(item, fields) for item in page["data"]]
    return GraphReply.ok(page)


def _matches(template: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    """Graph's template filters: ``status`` and ``category`` (comma-separated lists),
    ``language`` (exact) and ``name`` (a substring, as Graph's search does)."""
    for key in ("status", "category"):
        wanted = query.get(key)
        if wanted and template[key] not in {v.strip().upper() for v in wanted.split(",")}:
            return False
    if query.get("language") and template["language"] != query["language"]:
        return False
    return not query.get("name") or query["name"] in template["name"]


_NESTED = re.compile(r"\{[^{}]*\}")


def select_fields(item: Mapping[str, Any], fields: str | None) -> dict[str, Any]:
    """Graph's ``fields=a,b{c}``: only those fields, and always the id."""
    if not fields:
        return dict(item)
    while _NESTED.search(fields):
        fields = _NESTED.sub("", fields)
    names = {f.strip() for f in fields.split(",")} | {"id"}
    return {k: v for k, v in item.items() if k in names}
