"""Server-sent events: a bulk's counters as they change, and the bulks list kept current.

One bulk's stream relays the service's WatchBulk (a message per change, pushed); the list's
polls ListBulks for the page shown every ``LIST_POLL_SECONDS`` and sends only the rows that
changed. Both send a comment line every ``KEEPALIVE_SECONDS`` so that a closed tab is noticed
(the write fails) and proxies keep the connection open. A session that ends mid-stream gets a
``signed-out`` event and the stream closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Final

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.bulk_bodies import detail, summary
from rest_bridge.dashboard.guard import session_of
from rest_bridge.dashboard.pages import BULK_STATUSES, BULKS_PER_PAGE
from rest_bridge.problems import ApiError
from rest_bridge.upstream import Upstream, upstream


class OpenStreams:
    """The streams being served, so that a stopping bridge ends them at once rather than
    waiting out its shutdown timeout for tabs that never close."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    async def end_all(self, _app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()


STREAMS = web.AppKey("dashboard_streams", OpenStreams)
LIST_POLL_SECONDS: Final = 1.0
KEEPALIVE_SECONDS: Final = 15.0


async def bulk_events(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    service = upstream(request)
    ask = mindo_pb2.WatchBulkRequest(bulk_send_id=request.match_info["bulk_id"])
    response = await _open(request)
    queue: asyncio.Queue[dict[str, object] | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            watched = service.stream(service.stub.WatchBulk, ask, api_key=session.api_key)
            async for bulk in watched:
                await queue.put(detail(bulk))
        finally:
            queue.put_nowait(None)  # the relay's cue: the stream is over, one way or another

    pumping = asyncio.create_task(pump())
    try:
        with request.app[STREAMS].serving():
            await _relay(response, queue, pumping)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, ApiError):
            await pumping
    return response


async def _relay(
    response: web.StreamResponse,
    queue: asyncio.Queue[dict[str, object] | None],
    pumping: asyncio.Task[None],
) -> None:
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
            continue
        if item is not None:
            await _send(response, "bulk", item)
            continue
        with contextlib.suppress(asyncio.CancelledError, ApiError):
            await pumping
        failure = pumping.exception() if not pumping.cancelled() else None
        if failure is None:
            await _send(response, "end", {})
        else:
            await _closing_event(response, failure)
        return


async def bulks_events(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    service = upstream(request)
    status = request.query.get("status", "").upper()
    page = request.query.get("page", "1")
    ask = mindo_pb2.ListBulksRequest(
        status=status if status in BULK_STATUSES else "",
        page=int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1,
        page_size=BULKS_PER_PAGE,
    )
    response = await _open(request)
    try:
        with request.app[STREAMS].serving():
            await _poll(response, service, ask, session.api_key)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


async def _poll(
    response: web.StreamResponse,
    service: Upstream,
    ask: mindo_pb2.ListBulksRequest,
    key: str,
) -> None:
    shown: dict[str, dict[str, object]] = {}
    quiet = 0.0
    while True:
        try:
            reply = await service.call(service.stub.ListBulks, ask, api_key=key)
        except ApiError as problem:
            await _closing_event(response, problem)
            return
        changed = 0
        for bulk in reply.results:
            row = summary(bulk)
            if shown.get(bulk.id) != row:
                shown[bulk.id] = row
                await _send(response, "bulk", row)
                changed += 1
        quiet = 0.0 if changed else quiet + LIST_POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            await response.write(b": keep-alive\n\n")
            quiet = 0.0
        await asyncio.sleep(LIST_POLL_SECONDS)


async def _open(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    await response.prepare(request)
    return response


async def _send(response: web.StreamResponse, event: str, data: object) -> None:
    # json.dumps escapes line breaks, so one event is always one data line.
    await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())


async def _closing_event(response: web.StreamResponse, error: BaseException | None) -> None:
    status = error.status if isinstance(error, ApiError) else 500
    event = "signed-out" if status == 401 else "failed"
    with contextlib.suppress(ConnectionResetError):
        await _send(response, event, {"status": status})
