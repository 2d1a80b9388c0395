"""The bulk buttons: pause, resume and cancel, each a CSRF-checked POST that redirects back.

A refusal (the bulk is already over, the key may not send) is an error page with the service's
message; a success returns to the bulk's page with a notice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.dashboard.guard import PREFIX, checked_form, see_other, session_of
from rest_bridge.upstream import Upstream, upstream

Action = Callable[[Upstream, str, str], Awaitable[mindo_pb2.Bulk]]


async def _pause(service: Upstream, bulk_send_id: str, key: str) -> mindo_pb2.Bulk:
    ask = mindo_pb2.PauseBulkRequest(bulk_send_id=bulk_send_id)
    return await service.call(service.stub.PauseBulk, ask, api_key=key)


async def _resume(service: Upstream, bulk_send_id: str, key: str) -> mindo_pb2.Bulk:
    ask = mindo_pb2.ResumeBulkRequest(bulk_send_id=bulk_send_id)
    return await service.call(service.stub.ResumeBulk, ask, api_key=key)


async def _cancel(service: Upstream, bulk_send_id: str, key: str) -> mindo_pb2.Bulk:
    ask = mindo_pb2.CancelBulkRequest(bulk_send_id=bulk_send_id)
    return await service.call(service.stub.CancelBulk, ask, api_key=key)


ACTIONS: dict[str, tuple[Action, str]] = {
    "pause": (_pause, "paused"),
    "resume": (_resume, "resumed"),
    "cancel": (_cancel, "cancelled"),
}


async def bulk_action(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    await checked_form(request, session)
    action, done = ACTIONS[request.match_info["action"]]
    bulk_send_id = request.match_info["bulk_id"]
    await action(upstream(request), bulk_send_id, session.api_key)
    return see_other(f"{PREFIX}/bulks/{bulk_send_id}/?done={done}")
