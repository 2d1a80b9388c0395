"""The OpenAPI 3.1 document, assembled from what each route module declares.

Request schemas come from the validators themselves (``fields.Schema.json_schema``); this module
holds what routes share: error shapes, the common error responses and the security scheme.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rest_bridge.api_key import HEADER, INVALID, MISSING
from rest_bridge.bulk_schemas import COMPONENTS as BULK_COMPONENTS
from rest_bridge.routes.spec import Route

SECURITY_SCHEME = "ApiKeyAuth"
NO_AUTH: list[dict[str, list[str]]] = []

_STRINGS = {"type": "array", "items": {"type": "string"}}

SCHEMAS: Mapping[str, object] = {
    "Error": {
        "description": "A documented error: the message only, verbatim from the service.",
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
        "additionalProperties": False,
    },
    "CodedError": {
        "description": "An error the public documentation does not show: it has a stable code.",
        "type": "object",
        "required": ["error", "code"],
        "properties": {
            "error": {"type": "string"},
            "code": {"type": "string", "examples": ["malformed_json"]},
            "meta_code": {"type": ["integer", "null"], "description": "Meta's error code."},
            "fields": {"type": "object", "additionalProperties": _STRINGS},
            "first_attempt_at": {
                "type": "string",
                "format": "date-time",
                "description": "outcome_unknown: when the send with the key started.",
            },
        },
    },
    "QuotaExceeded": {
        "description": (
            "A recipient not messaged in the organisation's rolling 24 hours does not fit its "
            "limit of unique recipients now (after what running bulks were promised). Nothing "
            "was sent; recipients already messaged in the window still go."
        ),
        "type": "object",
        "required": ["error", "code", "frees_at"],
        "properties": {
            "error": {"type": "string"},
            "code": {"type": "string", "const": "quota_exceeded"},
            "frees_at": {
                "type": "string",
                "format": "date-time",
                "description": "The earliest time a new recipient fits (UTC, with Z).",
            },
        },
        "additionalProperties": False,
    },
    "FieldErrors": {
        "description": (
            "Django REST Framework's validation body: each field maps to its messages, or, for "
            "an object field, each of its keys to their messages; for a list of objects "
            "(recipients), one entry per item, {} for a valid one. A body that is not an "
            'object answers {"non_field_errors": [...]}.'
        ),
        "type": "object",
        "additionalProperties": {
            "oneOf": [
                _STRINGS,
                {
                    "type": "object",
                    "additionalProperties": {"oneOf": [_STRINGS, {"type": "object"}]},
                },
                {"type": "array", "items": {"oneOf": [{"type": "object"}, _STRINGS]}},
            ]
        },
    },
    **BULK_COMPONENTS,
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: object, examples: Mapping[str, object]) -> dict[str, object]:
    named = {title: {"summary": title, "value": value} for title, value in examples.items()}
    return {"application/json": {"schema": schema, "examples": named}}


def response(
    description: str,
    schema: object,
    examples: Mapping[str, object],
    *,
    headers: Mapping[str, object] | None = None,
) -> dict[str, object]:
    described: dict[str, object] = {"description": description}
    if headers:
        described["headers"] = dict(headers)
    described["content"] = json_content(schema, examples)
    return described


def _coded(
    description: str, code: str, message: str, *, headers: Mapping[str, object] | None = None
) -> dict[str, object]:
    example = {code: {"error": message, "code": code}}
    return response(description, ref("CodedError"), example, headers=headers)


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying, rounded up.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


RESPONSES: Mapping[str, object] = {
    "Unauthenticated": response(
        "No API key, or an expired, revoked or unknown one.",
        ref("Error"),
        {"Not authenticated": {"error": MISSING}, "Expired key": {"error": INVALID}},
    ),
    "Forbidden": response(
        "The API key may not use this endpoint.",
        ref("Error"),
        {"Forbidden": {"error": "API Key no tiene acceso a este recurso"}},
    ),
    "PayloadTooLarge": _coded(
        "The body exceeds 1 MiB.", "payload_too_large", "Request body exceeds 1048576 bytes."
    ),
    "UnsupportedMediaType": _coded(
        "A non-empty body that is not application/json.",
        "unsupported_media_type",
        'Unsupported media type "text/plain" in request. Send "application/json".',
    ),
    "RateLimited": _coded(
        "Too many requests.",
        "rate_limited",
        "Too many requests; retry after 3 s",
        headers=RETRY_AFTER,
    ),
    "MetaError": response(
        "Meta answered with an error.",
        ref("CodedError"),
        {
            "meta_error": {
                "error": "(#131000) Something went wrong",
                "code": "meta_error",
                "meta_code": 131000,
            }
        },
    ),
    "Unavailable": response(
        "Meta or the Mindo service cannot be reached; try again later.",
        ref("CodedError"),
        {
            "meta_unavailable": {"error": "Meta unavailable: timeout", "code": "meta_unavailable"},
            "service_unavailable": {"error": "Service unavailable", "code": "service_unavailable"},
        },
    ),
    "Timeout": _coded(
        "The service did not answer in time.", "upstream_timeout", "Upstream timeout"
    ),
    "Internal": _coded("An unexpected error; it is logged.", "internal", "Internal error"),
}


def common_error_responses(*, calls_service: bool) -> dict[str, object]:
    """What a route may answer besides its own cases; calling the service adds its failures."""
    shared: dict[str, object] = {"500": {"$ref": "#/components/responses/Internal"}}
    if calls_service:
        shared["401"] = {"$ref": "#/components/responses/Unauthenticated"}
        shared["403"] = {"$ref": "#/components/responses/Forbidden"}
        shared["503"] = {"$ref": "#/components/responses/Unavailable"}
        shared["504"] = {"$ref": "#/components/responses/Timeout"}
    return shared


# aiohttp's "{name:regex}" placeholder; OpenAPI knows only "{name}".
_PLACEHOLDER_REGEX = re.compile(r"\{(\w+):[^}]*\}")


def documented_path(path: str) -> str:
    """A route's path as OpenAPI writes it: a placeholder's regex is aiohttp's business."""
    return _PLACEHOLDER_REGEX.sub(r"{\1}", path)


def build_document(routes: Iterable[Route]) -> dict[str, object]:
    paths: dict[str, dict[str, object]] = {}
    for route in routes:
        path = documented_path(route.path)
        paths.setdefault(path, {})[route.method.lower()] = dict(route.operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mindo API",
            "version": "1.0.0",
            "description": (
                "Send WhatsApp Business template messages through Meta's Cloud API. Paths ending "
                "in a slash are also served without it."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(SCHEMAS),
            "responses": dict(RESPONSES),
            "securitySchemes": {
                SECURITY_SCHEME: {"type": "apiKey", "in": "header", "name": HEADER}
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }
