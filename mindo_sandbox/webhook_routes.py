"""The admin API of webhooks: their settings, the record of posts, and account events.

``PUT /_sandbox/webhooks`` replaces the settings; ``GET /_sandbox/webhooks/sent`` lists every POST
made (exact body, signature, the receiver's status); ``POST /_sandbox/events/<field>`` changes
the sandbox as Meta's event would and posts the notification; ``POST /_sandbox/inbound`` plays a
user writing to a number (``inbound``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from mindo_sandbox.account_events import (
    AccountEvent,
    UnknownObject,
    business_capability_update,
    phone_number_quality_update,
    template_quality_update,
    template_status_update,
)
from mindo_sandbox.admin_http import AdminHandler, admin, fail, json_body, since_and_limit
from mindo_sandbox.graph_routes import STATE_KEY
from mindo_sandbox.inbound import UnknownNumber, inbound_message
from mindo_sandbox.state import SandboxState
from mindo_sandbox.webhook_config import WebhookConfig

EventHandler = Callable[[SandboxState, Any], list[AccountEvent]]


def add_webhook_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/webhooks", _get_config)
    app.router.add_put("/_sandbox/webhooks", admin(_put_config))
    app.router.add_get("/_sandbox/webhooks/sent", admin(_list_sent))
    app.router.add_delete("/_sandbox/webhooks/sent", _clear_sent)
    events: dict[str, EventHandler] = {
        "template_status": lambda state, data: [template_status_update(state, data)],
        "template_quality": lambda state, data: [template_quality_update(state, data)],
        "phone_number_quality_update": lambda state, data: [
            phone_number_quality_update(state, data)
        ],
        "business_capability_update": business_capability_update,
    }
    for name, handler in events.items():
        app.router.add_post(f"/_sandbox/events/{name}", admin(_event(handler)))
    app.router.add_post("/_sandbox/inbound", admin(_inbound))


async def _get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].webhooks.config.to_json())


async def _put_config(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.set_webhooks(WebhookConfig.from_json(await json_body(request)))
    return web.json_response(state.webhooks.config.to_json())


async def _list_sent(request: web.Request) -> web.Response:
    """Every POST made, oldest first; ``pending`` counts what is still to be posted."""
    webhooks = request.app[STATE_KEY].webhooks
    selected = since_and_limit(request, webhooks.log.all())
    return web.json_response(
        {"data": [r.to_json() for r in selected], "pending": webhooks.pending()}
    )


async def _clear_sent(request: web.Request) -> web.Response:
    request.app[STATE_KEY].webhooks.log.clear()
    return web.Response(status=204)


def _event(handler: EventHandler) -> AdminHandler:
    """Applies the event, posts its notifications, and answers with them and what changed."""

    async def endpoint(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        try:
            events = handler(state, await json_body(request))
        except UnknownObject as error:
            return fail(404, str(error))
        posted = [
            state.webhooks.post_account_event(waba_id=e.waba_id, field=e.field, value=e.value)
            for e in events
        ]
        return web.json_response(
            {
                "posted": bool(posted) and all(sent for _, sent in posted),
                "webhooks": [body for body, _ in posted],
                "changed": [dict(obj) for e in events for obj in e.changed],
            }
        )

    return endpoint


async def _inbound(request: web.Request) -> web.Response:
    """Posts the user's message as Meta would; answers with the body and whether it went."""
    state = request.app[STATE_KEY]
    try:
        inbound = inbound_message(state, await json_body(request))
    except UnknownNumber as error:
        return fail(404, str(error))
    posted = state.webhooks.post_now(field="messages", body=inbound.body)
    return web.json_response({"posted": posted, "webhook": inbound.body})
