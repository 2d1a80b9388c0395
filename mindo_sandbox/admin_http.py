"""What every admin endpoint shares: plain ``{"error": ...}`` answers, JSON bodies, paging."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from aiohttp import web

from mindo_sandbox._json_reading import ConfigError

AdminHandler = Callable[[web.Request], Awaitable[web.Response]]


class _Numbered(Protocol):
    @property
    def seq(self) -> int: ...


Record = TypeVar("Record", bound=_Numbered)


def admin(handler: AdminHandler) -> AdminHandler:
    """Invalid input answers 400 with the reason."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ConfigError as error:
            return fail(400, str(error))

    return wrapped


def fail(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError as exc:
        raise ConfigError("the body must be JSON") from exc


def since_and_limit(request: web.Request, records: Sequence[Record]) -> list[Record]:
    """``?since=<seq>`` for the records after a known one, ``?limit=<n>`` for the last n."""
    since = request.query.get("since", "")
    limit = request.query.get("limit", "")
    if not (since.isdigit() or since == "") or not (limit.isdigit() or limit == ""):
        raise ConfigError("since and limit must be non-negative integers")
    selected = [r for r in records if r.seq > int(since or 0)]
    if limit:
        selected = selected[-int(limit) :] if int(limit) else []
    return selected
