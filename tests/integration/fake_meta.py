"""A tiny Graph API stand-in on 127.0.0.1, port 0: it records every request and answers with
whatever the test's ``respond`` function returns."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def not_configured(request: web.Request) -> web.StreamResponse:
    return json_response({"error": {"code": 1, "message": "(#1) fake: no responder set"}}, 500)


def json_response(document: Any, status: int = 200) -> web.Response:
    return web.json_response(document, status=status)


def send_success(wamid: str = "wamid.TEST", wa_id: str = "16505551234") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": f"+{wa_id}", "wa_id": wa_id}],
        "messages": [{"id": wamid, "message_status": "accepted"}],
    }


class FakeMeta:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.respond: Responder = not_configured
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        return await self.respond(request)
