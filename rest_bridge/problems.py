"""JSON responses, and the exception a handler raises to answer early with one."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web

JSON = "application/json"


def json_response(
    body: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(body=_encode(body), status=status, headers=headers, content_type=JSON)


def _encode(body: object) -> bytes:
    text = json.dumps(body, ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8; escaped JSON still carries it faithfully.
        return json.dumps(body).encode()


class ApiError(Exception):
    """An HTTP error answer; the middleware renders it, so handlers can simply raise."""

    def __init__(
        self, status: int, body: object, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return json_response(self.body, status=self.status, headers=self.headers)


def coded(status: int, message: str, code: str) -> ApiError:
    """An error the documentation does not show: it carries a stable ``code``."""
    return ApiError(status, {"error": message, "code": code})


def internal_error() -> ApiError:
    return coded(500, "Internal error", "internal")
