"""Every route the bridge serves. Adding an endpoint is adding a module and listing it here."""

from __future__ import annotations

from rest_bridge.routes import send, service
from rest_bridge.routes.spec import Route

ROUTES: tuple[Route, ...] = (*send.ROUTES, *service.ROUTES)

__all__ = ["ROUTES", "Route"]
