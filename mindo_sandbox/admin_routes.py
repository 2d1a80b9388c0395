"""The sandbox's own API under ``/_sandbox``: the record, and changes to the state at runtime.

Not part of Graph, so its errors are plain ``{"error": "..."}`` bodies. It has no
authentication: the sandbox is a local test tool and listens on 127.0.0.1 by default.
"""

from __future__ import annotations

from aiohttp import web

from mindo_sandbox._json_reading import ConfigError
from mindo_sandbox.admin_http import admin, fail, json_body, since_and_limit
from mindo_sandbox.faults import FaultConfig
from mindo_sandbox.graph_routes import STATE_KEY
from mindo_sandbox.recording import RecordedRequest


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/health", _health)
    app.router.add_get("/_sandbox/requests", admin(_list_requests))
    app.router.add_delete("/_sandbox/requests", _clear_requests)
    app.router.add_post("/_sandbox/templates/{waba_id}", admin(_upsert_template))
    app.router.add_patch("/_sandbox/phone_numbers/{phone_number_id}", admin(_patch_number))
    app.router.add_get("/_sandbox/faults", _get_faults)
    app.router.add_put("/_sandbox/faults", admin(_put_faults))


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _list_requests(request: web.Request) -> web.Response:
    """``?since=<seq>`` for the records after a known one, ``?limit=<n>`` for the last n."""
    selected: list[RecordedRequest] = since_and_limit(request, request.app[STATE_KEY].recorded())
    return web.json_response({"data": [r.to_json() for r in selected]})


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[STATE_KEY].clear_recorded()
    return web.Response(status=204)


async def _upsert_template(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    waba_id = request.match_info["waba_id"]
    if state.waba(waba_id) is None:
        return fail(404, f"unknown WABA {waba_id}")
    data = await json_body(request)
    if not isinstance(data, dict):
        raise ConfigError("the body must be a template object")
    return web.json_response(state.upsert_template(waba_id, data).to_graph())


async def _patch_number(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    phone_number_id = request.match_info["phone_number_id"]
    if state.phone_number(phone_number_id) is None:
        return fail(404, f"unknown phone number {phone_number_id}")
    data = await json_body(request)
    if not isinstance(data, dict):
        raise ConfigError("the body must be an object")
    number = state.patch_phone_number(phone_number_id, data)
    return web.json_response({**number.to_graph(), "throughput_mps": number.throughput_mps})


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].faults.config.to_json())


async def _put_faults(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.set_faults(FaultConfig.from_json(await json_body(request)))
    return web.json_response(state.faults.config.to_json())
