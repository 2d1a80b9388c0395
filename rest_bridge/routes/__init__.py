"""Every route the bridge serves. Adding an endpoint is adding a module and listing it here."""

from __future__ import annotations

from rest_bridge.routes import (
    bulk_list,
    bulk_messages,
    bulks,
    business_accounts,
    business_info,
    contact_lookup,
    contacts,
    messages,
    resend_failed,
    send,
    send_bulk,
    service,
    suppression_list,
    webhook_endpoints,
    webhooks,
)
from rest_bridge.routes.spec import Route

ROUTES: tuple[Route, ...] = (
    *send.ROUTES,
    *send_bulk.ROUTES,
    *bulk_list.ROUTES,
    *bulks.ROUTES,
    *resend_failed.ROUTES,
    *bulk_messages.ROUTES,
    *messages.ROUTES,
    *business_accounts.ROUTES,
    *business_info.ROUTES,
    *contact_lookup.ROUTES,
    *suppression_list.ROUTES,
    *contacts.ROUTES,
    *webhook_endpoints.ROUTES,
    *webhooks.ROUTES,
    *service.ROUTES,
)

__all__ = ["ROUTES", "Route"]
