"""Everything the bridge answers is JSON: routing errors, crashes, health and its own docs."""

from __future__ import annotations

import aiohttp
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from rest_bridge import RunningBridge, build_app

from .conftest import SEND_PATH, Post
from .fake_mindo import FakeMindo, sent_reply


async def test_an_unknown_route_is_a_json_404(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/nothing-here/") as response:
        assert response.status == 404
        assert response.content_type == "application/json"
        assert await response.json() == {"error": "Not found", "code": "not_found"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_a_wrong_method_is_a_json_405_that_says_what_is_allowed(
    http: aiohttp.ClientSession, method: str
) -> None:
    async with http.request(method, SEND_PATH) as response:
        assert response.status == 405
        assert response.content_type == "application/json"
        assert response.headers["Allow"] == "POST"
        assert await response.json() == {
            "error": f'Method "{method}" not allowed.',
            "code": "method_not_allowed",
        }


async def test_health_needs_no_key(http: aiohttp.ClientSession, fake: FakeMindo) -> None:
    async with http.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
    assert fake.received == []


async def test_a_reply_the_bridge_cannot_render_is_a_plain_500(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    # Year 33658: a valid protobuf Timestamp field, but no datetime can hold it.
    fake.send_reply = sent_reply(sent_at=Timestamp(seconds=10**12))
    status, _headers, body = await post(valid_body)

    assert status == 500
    assert body == {"error": "Internal error", "code": "internal"}


async def test_the_openapi_document_needs_no_key(
    http: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    async with http.get("/api/v1/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"] == "3.1.0"
    assert fake.received == []


async def _document(bridge: RunningBridge) -> dict[str, object]:
    async with (
        aiohttp.ClientSession(base_url=bridge.url) as http,
        http.get("/api/v1/openapi.json") as response,
    ):
        document: dict[str, object] = await response.json()
        return document


DASHBOARD_PREFIX = "/dashboard"


async def test_every_registered_route_is_documented(bridge: RunningBridge) -> None:
    paths = (await _document(bridge))["paths"]
    assert isinstance(paths, dict)
    for route in build_app("127.0.0.1:1").router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside every GET
        path = route.resource.canonical if route.resource else ""
        if path == DASHBOARD_PREFIX or path.startswith(f"{DASHBOARD_PREFIX}/"):
            continue  # the HTML dashboard's sub-application (docs/dashboard.md), not the API
        documented = paths.get(path) or paths.get(path + "/")
        assert documented, path
        assert route.method.lower() in documented, (route.method, path)


async def test_the_send_operation_documents_its_schema_and_errors(bridge: RunningBridge) -> None:
    document = await _document(bridge)
    operation = document["paths"][SEND_PATH]["post"]  # type: ignore[index]

    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["phone_number_id", "template_name", "recipient_phone"]
    assert schema["properties"]["language"]["default"] == "es"
    assert schema["properties"]["template_name"]["maxLength"] == 512
    assert schema["properties"]["variables"]["maxProperties"] == 100
    examples = operation["responses"]["404"]["content"]["application/json"]["examples"]
    assert examples["Number not found"]["value"] == {
        "error": "Numero de WhatsApp con ID '813497231850626' no encontrado"
    }
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404", "413", "415", "429"}
    assert document["components"]["securitySchemes"]["ApiKeyAuth"] == {  # type: ignore[index]
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }


async def test_every_reference_in_the_document_resolves(bridge: RunningBridge) -> None:
    document = await _document(bridge)
    for reference in _references(document):
        target: object = document
        for part in reference.removeprefix("#/").split("/"):
            assert isinstance(target, dict)
            assert part in target, reference
            target = target[part]


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []
