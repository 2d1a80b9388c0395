"""The dashboard as an aiohttp sub-application, mounted by the bridge at ``/dashboard/``.

A sub-application so that its own middleware (``guard``: sessions, HTML errors, security
headers) wraps only its pages; it reads the bridge's gRPC channel through ``config_dict``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from rest_bridge.dashboard import actions, insight_routes, live, pages
from rest_bridge.dashboard.guard import SESSIONS, guard
from rest_bridge.dashboard.rendering import TEMPLATES, environment
from rest_bridge.dashboard.sessions import SessionPolicy, SessionStore

STATIC = Path(__file__).parent / "static"
BULK = "/bulks/{bulk_id:[A-Za-z0-9-]{1,64}}/"


def build_dashboard(policy: SessionPolicy | None = None) -> web.Application:
    app = web.Application(middlewares=[guard])
    app[SESSIONS] = SessionStore(policy)
    app[TEMPLATES] = environment()
    app[live.STREAMS] = live.OpenStreams()
    app.on_shutdown.append(app[live.STREAMS].end_all)
    app.router.add_get("/", pages.home)
    app.router.add_get("/sign-in", pages.sign_in_page)
    app.router.add_post("/sign-in", pages.sign_in)
    app.router.add_post("/sign-out", pages.sign_out)
    app.router.add_get("/bulks/", pages.bulks)
    app.router.add_get("/bulks/events", live.bulks_events)
    app.router.add_get(BULK, pages.bulk)
    app.router.add_get(f"{BULK}events", live.bulk_events)
    app.router.add_get(f"{BULK}timeline.json", insight_routes.timeline)
    app.router.add_get(f"{BULK}failures", insight_routes.failures)
    app.router.add_get(f"{BULK}messages.csv", insight_routes.messages_csv)
    app.router.add_post(BULK + "{action:pause|resume|cancel}", actions.bulk_action)
    app.router.add_get("/numbers/", pages.numbers)
    app.router.add_static("/static/", STATIC)
    return app
