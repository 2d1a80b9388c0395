"""What a bulk page loads after it renders: the chart's points (summed by the service:
GetBulkTimeline), the failures by Meta code (the failed recipients as the service streams them)
and the CSV export under the session's key. The page itself does not wait for them.
"""

from __future__ import annotations

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.dashboard import insights
from rest_bridge.dashboard.guard import session_of
from rest_bridge.dashboard.pages import RECIPIENT_STATUSES
from rest_bridge.dashboard.rendering import render
from rest_bridge.problems import json_response
from rest_bridge.routes.bulk_messages import export_csv
from rest_bridge.upstream import upstream


async def timeline(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    service = upstream(request)
    ask = mindo_pb2.GetBulkTimelineRequest(bulk_send_id=request.match_info["bulk_id"])
    found = await service.call(service.stub.GetBulkTimeline, ask, api_key=session.api_key)
    return json_response(insights.chart(found))


async def failures(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    service = upstream(request)
    ask = mindo_pb2.ExportBulkMessagesRequest(
        bulk_send_id=request.match_info["bulk_id"], status="failed"
    )
    items = service.stream(service.stub.ExportBulkMessages, ask, api_key=session.api_key)
    try:
        groups = await insights.failures_by_code(items)
    finally:
        await items.aclose()
    return render(request, "failures.html", {"groups": groups})


async def messages_csv(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    status = request.query.get("status", "").lower()
    return await export_csv(
        request,
        session.api_key,
        bulk_send_id=request.match_info["bulk_id"],
        status=status if status in RECIPIENT_STATUSES else "",
    )
