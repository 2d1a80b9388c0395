"""A small Graph client for the sandbox tests, payload builders and the error-envelope check."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

DEMO_TOKEN = "sandbox-demo-token"
DEMO_WABA = "104996122399160"
DEMO_NUMBER = "813497231850626"
RECIPIENT = "5491123456789"
FBTRACE_ID = re.compile(r"[A-Za-z0-9_-]{23}")


@dataclass(frozen=True, kw_only=True)
class Answer:
    status: int
    body: Any


class GraphClient:
    """Speaks to the sandbox as Mindo speaks to graph.facebook.com."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def send(
        self,
        payload: Any,
        *,
        token: str | None = DEMO_TOKEN,
        phone_number_id: str = DEMO_NUMBER,
        version: str = "v21.0",
    ) -> Answer:
        url = f"{self.base_url}/{version}/{phone_number_id}/messages"
        return await self.request("POST", url, token=token, json=payload)

    async def send_with_timeout(self, payload: Any, *, seconds: float) -> Answer:
        url = f"{self.base_url}/v21.0/{DEMO_NUMBER}/messages"
        timeout = aiohttp.ClientTimeout(total=seconds)
        return await self.request("POST", url, token=DEMO_TOKEN, json=payload, timeout=timeout)

    async def get(
        self, path: str, *, token: str | None = DEMO_TOKEN, params: Mapping[str, str] | None = None
    ) -> Answer:
        return await self.request("GET", f"{self.base_url}{path}", token=token, params=params)

    async def request(
        self, method: str, url: str, *, token: str | None = None, **kwargs: Any
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(method, url, headers=headers, **kwargs) as response:
            body = await response.json() if response.content_type == "application/json" else None
            if body is None:
                body = await response.text()
            return Answer(status=response.status, body=body)

    async def admin(self, method: str, path: str, json: Any = None) -> Answer:
        return await self.request(method, f"{self.base_url}/_sandbox{path}", json=json)


def template_payload(
    name: str,
    components: list[dict[str, Any]] | None = None,
    *,
    language: str = "es",
    to: str = RECIPIENT,
) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components is not None:
        template["components"] = components
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
    }


def text(value: str, name: str | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"type": "text", "text": value}
    if name is not None:
        param["parameter_name"] = name
    return param


def body(*params: dict[str, Any]) -> dict[str, Any]:
    return {"type": "body", "parameters": list(params)}


def header(*params: dict[str, Any]) -> dict[str, Any]:
    return {"type": "header", "parameters": list(params)}


def url_button(index: int | str, suffix: str) -> dict[str, Any]:
    return {"type": "button", "sub_type": "url", "index": index, "parameters": [text(suffix)]}


def welcome_message(to: str = RECIPIENT) -> dict[str, Any]:
    components = [body(text("Ana", "name"), text("A1B2", "code")), url_button("0", "ana-42")]
    return template_payload("welcome_message", components, to=to)


def order_update(to: str = RECIPIENT) -> dict[str, Any]:
    components = [body(text("#1234", "order_id"), text("en camino", "status"))]
    return template_payload("order_update", components, to=to)


def class_reminder(to: str = RECIPIENT) -> dict[str, Any]:
    components = [
        header(text("Taller de cocina")),
        body(text("Ana"), text("5 de junio"), text("Mar del Plata")),
    ]
    return template_payload("class_reminder", components, to=to)


def assert_graph_error(answer: Answer, *, status: int, code: int, message: str) -> str:
    """The exact Graph envelope; returns ``error_data.details`` for further checks."""
    assert answer.status == status, answer.body
    error = answer.body["error"]
    assert error["message"] == message
    assert error["type"] == "OAuthException"
    assert error["code"] == code
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert FBTRACE_ID.fullmatch(error["fbtrace_id"])
    details: str = error["error_data"]["details"]
    assert details
    return details


RATE_LIMIT_HIT = "(#130429) Rate limit hit"
PAIR_RATE_HIT = "(#131056) (Business Account, Consumer Account) pair rate limit hit"


def recipients(count: int, start: int = 0) -> list[str]:
    """Distinct Argentine mobile numbers, so that the pair rate stays out of the way."""
    return [f"54911{n:08d}" for n in range(start, start + count)]


async def send_all(graph: GraphClient, numbers: list[str]) -> list[Answer]:
    return list(await asyncio.gather(*(graph.send(order_update(to=n)) for n in numbers)))


def statuses(answers: list[Answer]) -> list[int]:
    return sorted(a.status for a in answers)
