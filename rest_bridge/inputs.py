"""A handler's input, with DRF's precedence: authentication before anything about the body.

DRF authenticates before it parses, so a bad key is a 401 whatever the body. The bridge keeps
that order without a round trip on the happy path: a valid body goes straight to the RPC (which
authenticates), and only when the body is at fault does the bridge ask ``CheckApiKey`` first,
so that an invalid key answers its 401 (or 403 without the route's scope) and only a key that
may use the route learns what is wrong with the body.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.fields import Invalid, Schema
from rest_bridge.json_body import MAX_BODY_BYTES, read_json
from rest_bridge.problems import ApiError
from rest_bridge.upstream import upstream

BodyRule = Callable[[dict[str, object]], None]


async def validated_body(
    request: web.Request,
    schema: Schema,
    *,
    api_key: str,
    scope: str,
    max_bytes: int = MAX_BODY_BYTES,
    rule: BodyRule | None = None,
) -> dict[str, object]:
    """The validated body; ``scope`` is what the route needs ("send" or "read"). ``rule`` is a
    route's own check of the validated body, raising ``ApiError``; its refusals follow the
    same precedence."""
    try:
        body = schema.validate(await read_json(request, max_bytes=max_bytes))
        if rule is not None:
            rule(body)
        return body
    except Invalid as invalid:
        await confirm_api_key(request, api_key=api_key, scope=scope)
        raise ApiError(400, invalid.detail) from None
    except ApiError:
        await confirm_api_key(request, api_key=api_key, scope=scope)
        raise


async def confirm_api_key(request: web.Request, *, api_key: str, scope: str) -> None:
    """Raises the service's answer when the key is not valid or lacks ``scope``."""
    service = upstream(request)
    check = mindo_pb2.CheckApiKeyRequest(scope=scope)
    await service.call(service.stub.CheckApiKey, check, api_key=api_key)
