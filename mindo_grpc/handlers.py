"""How every unary RPC runs: authenticate with ``x-api-key``, call, translate errors once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from typing import Protocol, TypeVar

import grpc

from mindo_core.access.api_keys import Scope
from mindo_core.services.authenticate import Authenticator, Principal
from mindo_grpc.errors import details_for
from mindo_grpc.status_details import to_status


class Authenticating(Protocol):
    """A servicer whose RPCs ask for an API key: the decorators authenticate with this."""

    @property
    def authenticator(self) -> Authenticator: ...


Servicer = TypeVar("Servicer", bound=Authenticating)
AnyServicer = TypeVar("AnyServicer")
Request = TypeVar("Request")
Response = TypeVar("Response")
Context = grpc.aio.ServicerContext[Request, Response]

Handler = Callable[[Servicer, Request, Principal], Awaitable[Response]]
Method = Callable[[Servicer, Request, Context[Request, Response]], Awaitable[Response]]

API_KEY_METADATA = "x-api-key"


def api_key_of(context: Context[Request, Response]) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == API_KEY_METADATA:
            return str(value)
    return None


def unary(
    scope: Scope | None,
) -> Callable[[Handler[Servicer, Request, Response]], Method[Servicer, Request, Response]]:
    """Wraps a servicer method ``(self, request, principal)`` into a gRPC unary handler."""

    def decorate(
        handler: Handler[Servicer, Request, Response],
    ) -> Method[Servicer, Request, Response]:
        @wraps(handler)
        async def method(
            self: Servicer, request: Request, context: Context[Request, Response]
        ) -> Response:
            try:
                principal = await self.authenticator.authenticate(api_key_of(context), scope)
                return await handler(self, request, principal)
            except Exception as error:  # translated once, here, for every RPC
                await context.abort_with_status(to_status(details_for(error)))

        return method

    return decorate


DeadlinedHandler = Callable[[Servicer, Request, Principal, float | None], Awaitable[Response]]


def unary_with_deadline(
    scope: Scope | None,
) -> Callable[[DeadlinedHandler[Servicer, Request, Response]], Method[Servicer, Request, Response]]:
    """Like ``unary``, for an RPC that honours the client's deadline: the handler also gets the
    seconds the client still waits (``context.time_remaining()``; None without a deadline)."""

    def decorate(
        handler: DeadlinedHandler[Servicer, Request, Response],
    ) -> Method[Servicer, Request, Response]:
        @wraps(handler)
        async def method(
            self: Servicer, request: Request, context: Context[Request, Response]
        ) -> Response:
            try:
                principal = await self.authenticator.authenticate(api_key_of(context), scope)
                return await handler(self, request, principal, context.time_remaining())
            except Exception as error:  # translated once, here, for every RPC
                await context.abort_with_status(to_status(details_for(error)))

        return method

    return decorate


KeylessHandler = Callable[[AnyServicer, Request], Awaitable[Response]]
KeylessMethod = Callable[[AnyServicer, Request, Context[Request, Response]], Awaitable[Response]]


def keyless_unary(
    handler: KeylessHandler[AnyServicer, Request, Response],
) -> KeylessMethod[AnyServicer, Request, Response]:
    """Like ``unary`` for the one RPC that carries its own authentication (a webhook's
    signature, checked by the use case): no API key is asked for."""

    @wraps(handler)
    async def method(
        self: AnyServicer, request: Request, context: Context[Request, Response]
    ) -> Response:
        try:
            return await handler(self, request)
        except Exception as error:  # translated once, here
            await context.abort_with_status(to_status(details_for(error)))

    return method


StreamHandler = Callable[[Servicer, Request, Principal], AsyncIterator[Response]]
StreamMethod = Callable[[Servicer, Request, Context[Request, Response]], AsyncIterator[Response]]


def server_stream(
    scope: Scope | None,
) -> Callable[
    [StreamHandler[Servicer, Request, Response]], StreamMethod[Servicer, Request, Response]
]:
    """Like ``unary``, for server-streaming RPCs written as async generators."""

    def decorate(
        handler: StreamHandler[Servicer, Request, Response],
    ) -> StreamMethod[Servicer, Request, Response]:
        @wraps(handler)
        async def method(
            self: Servicer, request: Request, context: Context[Request, Response]
        ) -> AsyncIterator[Response]:
            try:
                principal = await self.authenticator.authenticate(api_key_of(context), scope)
                async for item in handler(self, request, principal):
                    yield item
            except Exception as error:  # translated once, here, for every streaming RPC
                await context.abort_with_status(to_status(details_for(error)))

        return method

    return decorate
