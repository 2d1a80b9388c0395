"""Every answer is JSON: early answers, routing errors and unexpected failures alike."""

from __future__ import annotations

import logging

from aiohttp import web

from rest_bridge.problems import ApiError, coded, internal_error
from rest_bridge.route_pattern import route_pattern
from rest_bridge.routes.spec import Handler

logger = logging.getLogger(__name__)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as problem:
        return problem.response()
    except web.HTTPException as exc:
        return _http_exception(request, exc).response()
    except Exception:
        # The client learns nothing of the failure; the log keeps the whole traceback.
        logger.exception("Unhandled error on %s %s", request.method, route_pattern(request))
        return internal_error().response()


def _http_exception(request: web.Request, exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return coded(404, "Not found", "not_found")
    if exc.status == 405:
        problem = coded(405, f'Method "{request.method}" not allowed.', "method_not_allowed")
        problem.headers["Allow"] = exc.headers.get("Allow", "")
        return problem
    code = exc.reason.lower().replace(" ", "_")
    return ApiError(exc.status, {"error": exc.reason, "code": code}, headers=_kept(exc))


def _kept(exc: web.HTTPException) -> dict[str, str]:
    # The body is rewritten, so its own content headers no longer apply.
    dropped = {"content-type", "content-length"}
    return {name: value for name, value in exc.headers.items() if name.lower() not in dropped}
