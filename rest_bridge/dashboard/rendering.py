"""Pages from Jinja templates, every value HTML-escaped (``autoescape``)."""

from __future__ import annotations

from collections.abc import Mapping

import jinja2
from aiohttp import web

TEMPLATES = web.AppKey("dashboard_templates", jinja2.Environment)


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("rest_bridge.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: web.Request, name: str, context: Mapping[str, object], *, status: int = 200
) -> web.Response:
    template = request.app[TEMPLATES].get_template(name)
    return web.Response(
        text=template.render(context), status=status, content_type="text/html", charset="utf-8"
    )
