"""The gRPC service behind the bridge: one channel per application, opened on startup."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import grpc
from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from mindo_grpc.status_details import from_rpc_error
from rest_bridge.error_table import api_error

if TYPE_CHECKING:
    from mindo_grpc._pb.mindo.v1.mindo_pb2_grpc import MindoAsyncStub

Request = TypeVar("Request")
Response = TypeVar("Response")


@dataclass(frozen=True, kw_only=True)
class Upstream:
    stub: MindoAsyncStub
    timeout_seconds: float

    async def call(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[Request, Response],
        message: Request,
        *,
        api_key: str | None,
        request_fields: tuple[str, ...] = (),
    ) -> Response:
        """``method(message)`` as the caller's key; a failure raises its HTTP answer.

        ``api_key=None`` sends no key: for the RPCs that authenticate otherwise (webhooks).
        """
        metadata = () if api_key is None else (("x-api-key", api_key),)
        try:
            return await method(message, metadata=metadata, timeout=self.timeout_seconds)
        except grpc.aio.AioRpcError as error:
            raise api_error(from_rpc_error(error), request_fields=request_fields) from None

    async def stream(
        self,
        method: grpc.aio.UnaryStreamMultiCallable[Request, Response],
        message: Request,
        *,
        api_key: str,
        request_fields: tuple[str, ...] = (),
    ) -> AsyncGenerator[Response, None]:
        """The items of a server-streaming ``method(message)``; a failure raises its HTTP answer.

        No deadline for the whole stream (a large export takes as long as it takes); a caller
        that goes away cancels it.
        """
        call = method(message, metadata=(("x-api-key", api_key),))
        try:
            async for item in call:
                yield item
        except grpc.aio.AioRpcError as error:
            raise api_error(from_rpc_error(error), request_fields=request_fields) from None
        finally:
            call.cancel()


UPSTREAM = web.AppKey("mindo_upstream", Upstream)


def upstream(request: web.Request) -> Upstream:
    # config_dict: a sub-application (the dashboard) reads its parent's channel.
    return request.config_dict[UPSTREAM]


def channel_context(
    grpc_target: str, timeout_seconds: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the channel lives exactly as long as the running application."""

    async def open_channel(app: web.Application) -> AsyncIterator[None]:
        async with grpc.aio.insecure_channel(grpc_target) as channel:
            stub = mindo_pb2_grpc.MindoStub(channel)  # on an aio channel: a MindoAsyncStub
            app[UPSTREAM] = Upstream(stub=stub, timeout_seconds=timeout_seconds)
            yield

    return open_channel
