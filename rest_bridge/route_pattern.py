"""What a request is called in logs and metrics: the pattern of the route it matched
(``/api/v1/suppression-list/{phone}/``), never its path, which may carry a phone number."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from aiohttp.web_request import BaseRequest

UNMATCHED: Final = "unmatched"


def route_pattern(request: BaseRequest) -> str:
    info = request.match_info if isinstance(request, web.Request) else None
    if isinstance(info, web.UrlMappingMatchInfo) and info.http_exception is None:
        resource = info.route.resource
        if resource is not None:
            return resource.canonical
    return UNMATCHED
