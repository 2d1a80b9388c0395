"""Forwards webhook POSTs to the service, many per RPC (``IngestWebhooks``).

Meta often posts one status per POST and asks receivers to keep up with three times the sending
rate. One gRPC call per POST costs the service about a millisecond of CPU, which caps the intake
near 1,000 POSTs a second on two cores. So concurrent POSTs share calls: a POST joins a queue;
while no call is under way the queue goes at once (an idle bridge adds no wait), and while one
is, the POSTs that arrive meanwhile gather and go together in the next call. Each POST is
answered from its own result, only once the service has made its statuses durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.problems import ApiError, coded, internal_error
from rest_bridge.upstream import UPSTREAM, Upstream

logger = logging.getLogger(__name__)

__all__ = ["WebhookForwarder", "forwarder_context", "webhook_forwarder"]

# Bodies are at most 3 MiB; a call carries at most this much (gRPC messages: 64 MiB).
MAX_CALL_BYTES = 16 * 1024 * 1024
MAX_CALL_POSTS = 500
# Calls under way at once: while one waits for its transaction, the next one gathers.
MAX_CALLS = 2

_Waiting = tuple[mindo_pb2.IngestWebhookRequest, "asyncio.Future[mindo_pb2.IngestWebhookResult]"]


@dataclass
class WebhookForwarder:
    upstream: Upstream
    _queue: list[_Waiting] = field(default_factory=list)
    _calls: set[asyncio.Task[None]] = field(default_factory=set)

    async def forward(self, body: bytes, signature: str) -> mindo_pb2.IngestWebhookResult:
        """This POST's result; raises the HTTP answer when the call itself failed."""
        future: asyncio.Future[mindo_pb2.IngestWebhookResult] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.append((mindo_pb2.IngestWebhookRequest(body=body, signature=signature), future))
        # Calls that have returned may still be in the set until their done-callback runs.
        if sum(not call.done() for call in self._calls) < MAX_CALLS:
            call = asyncio.create_task(self._drain(), name="mindo-webhook-forward")
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)
        return await future

    async def close(self) -> None:
        """Cancels the calls under way; their POSTs are answered 503 (Meta posts them again)."""
        for call in list(self._calls):
            call.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        _fail(self._queue, _unavailable())
        self._queue.clear()

    async def _drain(self) -> None:
        while self._queue:
            taken = self._take()
            try:
                await self._call(taken)
            finally:
                # Whatever happened (even cancellation), no POST of the call is left waiting.
                _fail(taken, _unavailable())

    async def _call(self, taken: list[_Waiting]) -> None:
        request = mindo_pb2.IngestWebhooksRequest(posts=[post for post, _ in taken])
        try:
            reply = await self.upstream.call(
                self.upstream.stub.IngestWebhooks, request, api_key=None
            )
        except Exception as error:  # the HTTP answer for every POST of the call
            _fail(taken, error)
            return
        if len(reply.results) != len(taken):
            logger.error(
                "IngestWebhooks answered %d results for %d posts", len(reply.results), len(taken)
            )
            _fail(taken, internal_error())
            return
        for (_, future), result in zip(taken, reply.results, strict=True):
            if not future.done():
                future.set_result(result)

    def _take(self) -> list[_Waiting]:
        taken = [self._queue[0]]
        size = len(taken[0][0].body)
        for item in self._queue[1:MAX_CALL_POSTS]:
            size += len(item[0].body)
            if size > MAX_CALL_BYTES:
                break
            taken.append(item)
        del self._queue[: len(taken)]
        return taken


WEBHOOK_FORWARDER = web.AppKey("mindo_webhook_forwarder", WebhookForwarder)


async def forwarder_context(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context, after the channel's: one forwarder per running application, closed
    before the channel is."""
    forwarder = WebhookForwarder(app[UPSTREAM])
    app[WEBHOOK_FORWARDER] = forwarder
    yield
    await forwarder.close()


def _fail(waiting: list[_Waiting], error: BaseException) -> None:
    for _, future in waiting:
        if not future.done():
            future.set_exception(error)


def _unavailable() -> ApiError:
    return coded(503, "Service unavailable", "service_unavailable")


def webhook_forwarder(request: web.Request) -> WebhookForwarder:
    return request.app[WEBHOOK_FORWARDER]
