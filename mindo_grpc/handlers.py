"""How every unary RPC runs: authenticate with ``x-api-key``, call, translate errors once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import grpc

from mindo_core.access.api_keys import Scope
from mindo_core.services.authenticate import Authenticator, Principal
from mindo_grpc.errors import details_for
from mindo_grpc.status_details import to_status

Request = TypeVar("Request")
Response = TypeVar("Response")
Handler = Callable[[Any, Request, Principal], Awaitable[Response]]
Method = Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]]

API_KEY_METADATA = "x-api-key"


def api_key_of(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == API_KEY_METADATA:
            return str(value)
    return None


def unary(scope: Scope | None) -> Callable[[Handler[Request, Response]], Method[Request, Response]]:
    """Wraps a servicer method ``(self, request, principal)`` into a gRPC unary handler."""

    def decorate(handler: Handler[Request, Response]) -> Method[Request, Response]:
        @wraps(handler)
        async def method(self: Any, request: Request, context: grpc.aio.ServicerContext) -> Any:
            authenticator: Authenticator = self.authenticator
            try:
                principal = await authenticator.authenticate(api_key_of(context), scope)
                return await handler(self, request, principal)
            except Exception as error:  # translated once, here, for every RPC
                await context.abort_with_status(to_status(details_for(error)))

        return method

    return decorate


KeylessHandler = Callable[[Any, Request], Awaitable[Response]]
KeylessMethod = Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]]


def keyless_unary(handler: KeylessHandler[Request, Response]) -> KeylessMethod[Request, Response]:
    """Like ``unary`` for the one RPC that carries its own authentication (a webhook's
    signature, checked by the use case): no API key is asked for."""

    @wraps(handler)
    async def method(self: Any, request: Request, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await handler(self, request)
        except Exception as error:  # translated once, here
            await context.abort_with_status(to_status(details_for(error)))

    return method


StreamHandler = Callable[[Any, Request, Principal], AsyncIterator[Response]]
StreamMethod = Callable[[Any, Request, grpc.aio.ServicerContext], AsyncIterator[Response]]


def server_stream(
    scope: Scope | None,
) -> Callable[[StreamHandler[Request, Response]], StreamMethod[Request, Response]]:
    """Like ``unary``, for server-streaming RPCs written as async generators."""

    def decorate(handler: StreamHandler[Request, Response]) -> StreamMethod[Request, Response]:
        @wraps(handler)
        async def method(
            self: Any, request: Request, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Response]:
            authenticator: Authenticator = self.authenticator
            try:
                principal = await authenticator.authenticate(api_key_of(context), scope)
                async for item in handler(self, request, principal):
                    yield item
            except Exception as error:  # translated once, here, for every streaming RPC
                await context.abort_with_status(to_status(details_for(error)))

        return method

    return decorate
