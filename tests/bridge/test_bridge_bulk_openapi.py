"""The OpenAPI document describes the bulk routes as they answer.

A small structural check stands in for a JSON Schema validator: types, required and declared
properties, array items and references; enough to catch a field added, renamed or dropped on
one side only.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from rest_bridge import RunningBridge

from .fake_mindo import BULK_ID, GOOD_KEY

BULKS = "/api/v1/meta-templates/bulk-sends/"
OPERATIONS = {
    ("/api/v1/meta-templates/send-bulk/", "post"): "sendBulk",
    (BULKS, "get"): "listBulkSends",
    (BULKS + "{bulk_send_id}/", "get"): "getBulkSend",
    (BULKS + "{bulk_send_id}/cancel/", "post"): "cancelBulkSend",
    (BULKS + "{bulk_send_id}/messages/", "get"): "listBulkSendMessages",
}
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


@pytest.fixture
async def document(bridge: RunningBridge) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(base_url=bridge.url) as http,
        http.get("/api/v1/openapi.json") as response,
    ):
        found: dict[str, Any] = await response.json()
        return found


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def problems(document: dict[str, Any], schema: dict[str, Any], value: Any, at: str) -> list[str]:
    """Where ``value`` departs from ``schema`` (only what these schemas use)."""
    schema = resolve(document, schema)
    if "oneOf" in schema:
        fits = [not problems(document, option, value, at) for option in schema["oneOf"]]
        return [] if any(fits) else [f"{at}: fits no option"]
    declared = schema.get("type")
    kinds = declared if isinstance(declared, list) else [declared] if declared else []
    if kinds and not any(_is(value, kind) for kind in kinds):
        return [f"{at}: {value!r} is not {kinds}"]
    if isinstance(value, dict):
        return _object_problems(document, schema, value, at)
    if isinstance(value, list) and "items" in schema:
        return [
            problem
            for index, item in enumerate(value)
            for problem in problems(document, schema["items"], item, f"{at}[{index}]")
        ]
    return []


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, JSON_TYPES[kind])


def _object_problems(
    document: dict[str, Any], schema: dict[str, Any], value: dict[str, Any], at: str
) -> list[str]:
    properties = schema.get("properties", {})
    found = [f"{at}.{name}: missing" for name in schema.get("required", []) if name not in value]
    if schema.get("additionalProperties") is False:
        found += [f"{at}.{name}: not declared" for name in value if name not in properties]
    for name, item in value.items():
        if name in properties:
            found += problems(document, properties[name], item, f"{at}.{name}")
    return found


def test_the_checker_notices_a_missing_an_extra_and_a_mistyped_field(
    document: dict[str, Any],
) -> None:
    schema = {"$ref": "#/components/schemas/BulkMessage"}
    item = {"recipient_phone": 5, "surprise": 1}

    assert set(problems(document, schema, item, "item")) >= {
        "item.id: missing",
        "item.surprise: not declared",
        "item.recipient_phone: 5 is not ['string']",
    }


def test_every_bulk_operation_is_documented(document: dict[str, Any]) -> None:
    for (path, method), operation_id in OPERATIONS.items():
        operation = document["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert {"401", "403", "500"} <= set(operation["responses"])


def test_every_example_fits_its_schema(document: dict[str, Any]) -> None:
    for path, method in OPERATIONS:
        operation = document["paths"][path][method]
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if content is None:
                continue
            for title, example in content.get("examples", {}).items():
                where = f"{method} {path} {status} {title}"
                assert problems(document, content["schema"], example["value"], where) == []


def test_the_send_bulk_body_schema(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/meta-templates/send-bulk/"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]

    assert schema["required"] == ["phone_number_id", "template_name", "recipients"]
    assert schema["properties"]["language"]["default"] == "es"
    recipients = schema["properties"]["recipients"]
    assert (recipients["minItems"], recipients["maxItems"]) == (1, 100_000)
    assert recipients["items"]["required"] == ["phone"]
    assert set(recipients["items"]["properties"]) == {"phone", "variables", "button_variables"}
    assert schema["properties"]["pacing"]["default"] == "max"
    too_large = operation["responses"]["413"]["content"]["application/json"]["examples"]
    assert "67108864" in too_large["payload_too_large"]["value"]["error"]


@pytest.mark.parametrize(
    ("method", "path", "schema"),
    [
        ("POST", "/api/v1/meta-templates/send-bulk/", "BulkAccepted"),
        ("GET", f"{BULKS}{BULK_ID}/", "BulkDetail"),
        ("POST", f"{BULKS}{BULK_ID}/cancel/", "BulkDetail"),
    ],
)
async def test_what_the_bridge_answers_fits_the_document(
    http: aiohttp.ClientSession, document: dict[str, Any], method: str, path: str, schema: str
) -> None:
    body = {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "recipients": [{"phone": "+5491112345678"}],
    }
    headers = {"X-API-Key": GOOD_KEY}
    async with http.request(method, path, json=body, headers=headers) as response:
        answer = await response.json()

    assert response.status < 300, answer
    assert problems(document, {"$ref": f"#/components/schemas/{schema}"}, answer, "body") == []


@pytest.mark.parametrize(
    ("path", "item"),
    [(BULKS, "BulkSummary"), (f"{BULKS}{BULK_ID}/messages/", "BulkMessage")],
)
async def test_the_pages_fit_the_document(
    http: aiohttp.ClientSession, document: dict[str, Any], path: str, item: str
) -> None:
    async with http.get(path, headers={"X-API-Key": GOOD_KEY}) as response:
        answer = await response.json()
    schema = document["paths"][path.replace(BULK_ID, "{bulk_send_id}")]["get"]["responses"]["200"]

    content = schema["content"]["application/json"]["schema"]
    assert content["properties"]["results"]["items"] == {"$ref": f"#/components/schemas/{item}"}
    assert problems(document, content, answer, "page") == []
