"""A real headless browser (Debian's chromium, driven by Playwright) in front of the whole
service: sandbox over HTTP, gRPC server, REST bridge and engine, on a SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

from mindo_sandbox.webhook_config import StatusDelays
from tests.integration.real_stack import RealStack, delivering_stack

# Debian's package, installed by .ci/run; Playwright's own browser downloads are never used.
CHROMIUM = "/usr/bin/chromium"
NUMBER = "813497231850626"
FAILING = {3: 131026, 7: 131026, 11: 131050}  # positions whose delivery Meta fails
FAST = StatusDelays(sent=(1.0, 5.0), delivered=(5.0, 10.0), read=(10.0, 20.0))


def phone(position: int) -> str:
    return f"+5491170{position:06d}"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    failures = {phone(p): code for p, code in FAILING.items()}
    async with delivering_stack(tmp_path, delays=FAST, failures=failures) as running:
        yield running


@pytest.fixture
async def browser(stack: RealStack) -> AsyncIterator[Browser]:
    """Closed before the stack stops (it depends on it), so no page holds a stream open."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    opened = await browser.new_context(accept_downloads=True)
    opened.set_default_timeout(30_000)
    try:
        yield opened
    finally:
        await opened.close()


async def submit_bulk(stack: RealStack, *, recipients: int, pacing: str) -> str:
    """A bulk of ``recipients`` submitted over REST, as a client would; its id."""
    body = {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipients": [
            {"phone": phone(p), "variables": {"order_id": f"O{p}", "status": "ok"}}
            for p in range(recipients)
        ],
        "pacing": pacing,
    }
    headers = {"X-API-Key": stack.api_key}
    url = f"{stack.bridge.url}/api/v1/meta-templates/send-bulk/"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers=headers) as answer,
    ):
        assert answer.status == 202, await answer.text()
        bulk_id: str = (await answer.json())["bulk_send_id"]
    return bulk_id


async def bulk_status(stack: RealStack, bulk_id: str) -> dict[str, object]:
    headers = {"X-API-Key": stack.api_key}
    url = f"{stack.bridge.url}/api/v1/meta-templates/bulk-sends/{bulk_id}/"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as answer:
        body: dict[str, object] = await answer.json()
    return body


async def recipients_listed(stack: RealStack, bulk_id: str, status: str) -> list[str]:
    """The phones the REST API lists for ``status``: how the dashboard must show them."""
    headers = {"X-API-Key": stack.api_key}
    url = (
        f"{stack.bridge.url}/api/v1/meta-templates/bulk-sends/{bulk_id}/messages/"
        f"?status={status}&page_size=100"
    )
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as answer:
        body = await answer.json()
    return [item["recipient_phone"] for item in body["results"]]


async def number_listed(stack: RealStack) -> dict[str, Any]:
    """The demo number as REST business-accounts shows it."""
    headers = {"X-API-Key": stack.api_key}
    url = f"{stack.bridge.url}/api/v1/business-accounts/"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as answer:
        body = await answer.json()
    (number,) = [n for n in body["phoneNumbers"] if n["phoneNumberId"] == NUMBER]
    return dict(number)
