"""Webhook endpoints over the real stack (REST to the bridge, gRPC to the service, a SQLite
file): bad input is a 400 that stores nothing, the secret is shown once, rotation, removal,
the 404s, and replay; and a real receiver gets a bulk recipient's event, signed."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mindo_core.callbacks.signing import SIGNATURE_HEADER, verify
from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack, real_stack

PATH = "/api/v1/webhook-endpoints/"
PHONE = "+5491150000001"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path, callbacks_allow_private=False) as running:
        yield running


async def rest(
    stack: RealStack, method: str, path: str, body: object = None, key: str | None = None
) -> tuple[int, Any]:
    headers = {"X-API-Key": key or stack.api_key}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{stack.bridge.url}{path}", json=body, headers=headers) as answer,
    ):
        text = await answer.text()
        return answer.status, (json.loads(text) if text else None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://127.0.0.1:9/x"}, "url"),
        ({"url": "http://10.0.0.7/x"}, "url"),
        ({"url": "https://example.com/" + "a" * 2100}, "url"),
        ({"url": "https://example.com/x", "events": ["message.exploded"]}, "events"),
        ({"url": "https://example.com/x", "events": "message.read"}, "events"),
        ({}, "url"),
    ],
)
async def test_bad_input_is_a_400_and_stores_nothing(
    stack: RealStack, body: dict[str, object], field: str
) -> None:
    status, answer = await rest(stack, "POST", PATH, body)

    assert status == 400, answer
    assert field in answer
    assert len(json.dumps(answer)) < 1500  # the echo is bounded
    assert await rest(stack, "GET", PATH) == (200, {"results": []})


async def test_an_endpoint_shows_its_secret_once_rotates_and_is_removed(stack: RealStack) -> None:
    status, created = await rest(
        stack, "POST", PATH, {"url": "https://hooks.example.com/m", "events": ["message.read"]}
    )
    assert status == 201, created
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["message.read"]
    assert created["enabled"] is True

    _, listed = await rest(stack, "GET", PATH)
    assert [e["id"] for e in listed["results"]] == [created["id"]]
    assert "secret" not in listed["results"][0]

    status, rotated = await rest(stack, "POST", f"{PATH}{created['id']}/rotate-secret/")
    assert status == 200
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"].endswith("Z")

    status, replayed = await rest(
        stack,
        "POST",
        f"{PATH}{created['id']}/replay/",
        {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"},
    )
    assert (status, replayed) == (202, {"replayed": 0})
    status, bad = await rest(
        stack, "POST", f"{PATH}{created['id']}/replay/", {"from": "yesterday", "to": "today"}
    )
    assert status == 400
    assert "from" in bad

    assert (await rest(stack, "DELETE", f"{PATH}{created['id']}/"))[0] == 204
    for path in (f"{PATH}{created['id']}/", f"{PATH}abc/"):
        status, missing = await rest(stack, "DELETE", path)
        assert (status, missing["code"]) == (404, "webhook_endpoint_not_found")
    status, _ = await rest(stack, "GET", f"{PATH}{created['id']}/attempts/")
    assert status == 404


async def test_a_key_is_needed(stack: RealStack) -> None:
    status, _ = await rest(stack, "GET", PATH, key="mindo_" + "x" * 24)
    assert status == 401


async def test_the_routes_are_in_the_openapi_document(stack: RealStack) -> None:
    _, document = await rest(stack, "GET", "/api/v1/openapi.json")
    paths = document["paths"]
    assert {"get", "post"} <= set(paths[PATH])
    assert "post" in paths[f"{PATH}{{id}}/replay/"]


async def test_a_receiver_gets_a_bulk_recipients_sent_event_signed(tmp_path: Path) -> None:
    received: list[tuple[bytes, str]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers.get(SIGNATURE_HEADER, "")))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with real_stack(tmp_path, callbacks_allow_private=True) as stack:
            await stack.services.bulk_engine.start()
            stack.services.callback_delivery.start()
            try:
                _, created = await rest(
                    stack, "POST", PATH, {"url": f"http://127.0.0.1:{port}/hook"}
                )
                status, accepted = await rest(
                    stack,
                    "POST",
                    "/api/v1/meta-templates/send-bulk/",
                    {
                        "phone_number_id": "813497231850626",
                        "template_name": "order_update",
                        "language": "es",
                        "recipients": [
                            {
                                "phone": "+5491150000001",
                                "variables": {"order_id": "1", "status": "x"},
                            }
                        ],
                    },
                )
                assert status == 202, accepted

                async def sent_event() -> bool:
                    return any(b"message.sent" in body for body, _ in received)

                await eventually(sent_event)
            finally:
                await stack.services.callback_delivery.stop()
                await stack.services.bulk_engine.stop()
    finally:
        await runner.cleanup()
    body, header = next((b, h) for b, h in received if b"message.sent" in b)
    assert verify(header, body, created["secret"], now=time.time())
    event = json.loads(body)
    assert event["data"]["phone"] == PHONE
    assert event["data"]["bulk_send_id"] == accepted["bulk_send_id"]
