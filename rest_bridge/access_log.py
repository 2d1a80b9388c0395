"""The access log names the route a request matched, not its path or query: contact-lookup
carries a phone number in its query and the suppression list in its path, and personal data
never reaches a log line."""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from rest_bridge.route_pattern import route_pattern


class PathOnlyAccessLogger(AbstractAccessLogger):
    """aiohttp's default line, with the route's pattern in place of its path and query."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs',
            request.remote,
            request.method,
            route_pattern(request),
            response.status,
            response.body_length,
            time,
        )
