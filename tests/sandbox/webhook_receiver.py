"""A real webhook endpoint on a loopback port, and a sandbox posting to it.

The receiver keeps every POST byte for byte and answers as told (a list of statuses answered in
turn, then 200), so tests compare what arrived with what the sandbox says it posted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web

from mindo_sandbox import FakeClock, RunningSandbox, SandboxConfig, WebhookConfig, start_sandbox

from .graph_client import GraphClient

APP_SECRET = "test-app-secret"


@dataclass(frozen=True, kw_only=True)
class ReceivedPost:
    raw: bytes
    signature: str | None
    answered: int

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    @property
    def statuses(self) -> list[dict[str, Any]]:
        statuses: list[dict[str, Any]] = self.body["entry"][0]["changes"][0]["value"]["statuses"]
        return statuses


class Receiver:
    def __init__(self) -> None:
        self.posts: list[ReceivedPost] = []
        self.answers: deque[int] = deque()
        self.hold_seconds = 0.0  # how long each POST is held before it is answered
        self.in_flight = 0
        self.most_in_flight = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/webhooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def answer(self, *statuses: int) -> None:
        """The next POSTs are answered with these statuses, in turn; then 200 again."""
        self.answers.extend(statuses)

    async def _receive(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            raw = await request.read()
            if self.hold_seconds:
                await asyncio.sleep(self.hold_seconds)
            status = self.answers.popleft() if self.answers else 200
            signature = request.headers.get("X-Hub-Signature-256")
            self.posts.append(ReceivedPost(raw=raw, signature=signature, answered=status))
            return web.Response(status=status)
        finally:
            self.in_flight -= 1

    def accepted_posts(self) -> list[ReceivedPost]:
        return [p for p in self.posts if p.answered == 200]

    def statuses(self) -> list[dict[str, Any]]:
        """Every status of every accepted POST, in arrival order."""
        return [s for post in self.accepted_posts() for s in post.statuses]

    def statuses_by_message(self) -> dict[str, list[dict[str, Any]]]:
        by_message: dict[str, list[dict[str, Any]]] = {}
        for status in self.statuses():
            by_message.setdefault(status["id"], []).append(status)
        return by_message


def verifies(raw: bytes, signature: str | None, secret: str = APP_SECRET) -> bool:
    """The receiver's check, as Meta documents it (§6.2)."""
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return signature is not None and hmac.compare_digest(expected, signature)


def webhooks(receiver: Receiver, **settings: Any) -> WebhookConfig:
    """Quick, fixed delays unless told otherwise: sent at once, delivered after 1 s, read 2 s."""
    data: dict[str, Any] = {
        "callback_url": receiver.url,
        "app_secret": APP_SECRET,
        "delays_ms": {"sent": 0, "delivered": 1000, "read": 2000},
        "retry_backoff_ms": 1000,
        **settings,
    }
    return WebhookConfig.from_json(data)


@asynccontextmanager
async def posting_sandbox(
    receiver: Receiver, clock: FakeClock, **settings: Any
) -> AsyncIterator[tuple[RunningSandbox, GraphClient]]:
    """The demo sandbox posting to ``receiver``, and a Graph client for it."""
    config = replace(SandboxConfig.demo(), webhooks=webhooks(receiver, **settings))
    sandbox = await start_sandbox(config, clock=clock)
    try:
        async with aiohttp.ClientSession() as session:
            yield sandbox, GraphClient(session, sandbox.url)
    finally:
        await sandbox.stop()


async def send_then_post(
    sandbox: RunningSandbox, clock: FakeClock, graph: GraphClient, payloads: Iterable[Any]
) -> list[str]:
    """Sends while time stands still, then lets every status be posted; returns the wamids."""
    clock.hold()
    wamids = []
    try:
        for payload in payloads:
            answer = await graph.send(payload)
            assert answer.status == 200, answer.body
            wamids.append(answer.body["messages"][0]["id"])
    finally:
        clock.release()
    await sandbox.state.webhooks.drain()
    return wamids
