"""What a route module declares: its handler and its OpenAPI operation, side by side."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, kw_only=True)
class Route:
    method: str
    path: str
    handler: Handler
    # The OpenAPI 3.1 operation object for this method and path.
    operation: Mapping[str, object]
