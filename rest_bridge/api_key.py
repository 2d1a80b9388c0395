"""The caller's API key, read from the ``X-API-Key`` header and forwarded as gRPC metadata."""

from __future__ import annotations

from aiohttp import web

from rest_bridge.problems import ApiError

HEADER = "X-API-Key"
# The documented bodies; the bridge answers these itself without asking the service.
MISSING = "Este endpoint requiere autenticacion con API Key (header X-API-Key)"
INVALID = "API Key expirada"

# Real keys are 30 characters; anything far longer could not be a key and would only bloat the
# gRPC metadata.
MAX_LENGTH = 256


def api_key(request: web.Request) -> str:
    """The key to forward; a missing key or one gRPC metadata cannot carry is a 401."""
    value = request.headers.get(HEADER, "").strip()
    if not value:
        raise ApiError(401, {"error": MISSING})
    if not _forwardable(value):
        # The service answers unknown keys with this same body, so nothing is revealed.
        raise ApiError(401, {"error": INVALID})
    return value


def _forwardable(value: str) -> bool:
    return len(value) <= MAX_LENGTH and all("!" <= char <= "~" for char in value)
