"""A Graph answer before it becomes an HTTP response, with what the record needs to know."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mindo_sandbox.graph_errors import GraphError


@dataclass(frozen=True, kw_only=True)
class GraphReply:
    status: int
    body: Mapping[str, Any] | str  # a str for a bare server error without Graph's envelope
    wamid: str | None = None
    error_code: int | None = None
    faults: tuple[str, ...] = ()

    @classmethod
    def ok(cls, body: Mapping[str, Any]) -> GraphReply:
        return cls(status=200, body=body)

    @classmethod
    def error(cls, error: GraphError, faults: tuple[str, ...] = ()) -> GraphReply:
        return cls(
            status=error.http_status, body=error.envelope(), error_code=error.code, faults=faults
        )

    def response(self) -> web.Response:
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body)
        return web.json_response(self.body, status=self.status)
