"""Reading a request body as JSON, as DRF's ``JSONParser`` does, with a size limit.

- An empty body is an empty object whatever its content type (DRF does the same), so a bare POST
  gets the field map of what is missing.
- A non-empty body must be ``application/json`` (parameters ignored) or it is a 415; a missing
  Content-Type is a 415 too (DRF would silently read the body as empty).
- The bytes are UTF-8 (RFC 8259): anything else is a ``malformed_json`` 400, like any parse error,
  including NaN/Infinity, which JSON does not have, and absurd nesting.
"""

from __future__ import annotations

import json

from aiohttp import web

from rest_bridge.problems import ApiError, coded

MAX_BODY_BYTES = 1024 * 1024
CHUNK_BYTES = 64 * 1024
JSON_MEDIA_TYPE = "application/json"


def too_large(limit: int) -> ApiError:
    return coded(413, f"Request body exceeds {limit} bytes.", "payload_too_large")


async def read_json(request: web.Request, *, max_bytes: int = MAX_BODY_BYTES) -> object:
    raw = await read_limited(request, max_bytes)
    if not raw:
        return {}
    _require_json_media_type(request)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as problem:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors; their text is DRF's reason.
        raise coded(400, f"JSON parse error - {_reason(problem)}", "malformed_json") from None


async def read_limited(request: web.Request, max_bytes: int) -> bytes:
    """The raw body, or a 413 ``payload_too_large`` once it exceeds ``max_bytes``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large(max_bytes)
    chunks, size = [], 0
    # Chunked bodies announce no length: count what arrives and stop at the limit.
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _require_json_media_type(request: web.Request) -> None:
    declared = request.headers.get("Content-Type", "")
    if declared.split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE:
        message = f'Unsupported media type "{declared}" in request. Send "{JSON_MEDIA_TYPE}".'
        raise coded(415, message, "unsupported_media_type")


def _refuse_constant(name: str) -> object:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


def _reason(problem: BaseException) -> str:
    if isinstance(problem, RecursionError):
        return "nesting too deep"
    return str(problem)
