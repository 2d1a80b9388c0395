"""`mindo callbacks`: an organisation's status-callback endpoints: add one (its signing secret
printed once), list them, remove one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from mindo_cli.formatting import quoted, table, when
from mindo_cli.operate import (
    OrgOption,
    command,
    command_group,
    operate,
    operator_settings,
    out,
    required_name,
)
from mindo_core.callbacks.model import EVENT_TYPES, WebhookEndpoint, WebhookEndpointId

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services
    from mindo_core.services.webhook_endpoints import EndpointWithSecret

callbacks_app = command_group(
    "Status callbacks: the URLs an organisation's events (message sent, delivered, read, "
    "failed; bulk status changes; inbound messages; opt-outs) are posted to, signed."
)

UrlOption = Annotated[str, typer.Option("--url", help="The endpoint: an http(s) URL.")]
EventsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--event", help=f"An event to send (repeatable); all by default: {', '.join(EVENT_TYPES)}."
    ),
]
IdArgument = Annotated[int, typer.Argument(help="The endpoint's id (see mindo callbacks list).")]


@command(callbacks_app, "add")
def callbacks_add(org: OrgOption, url: UrlOption, event: EventsOption = None) -> None:
    """Register an endpoint; its signing secret is printed this once."""
    org = required_name(org, "--org")

    async def work(services: Services) -> EndpointWithSecret:
        organisation = await services.operator_queries.organisation_named(org)
        return await services.webhook_endpoints.add(organisation.id, url, event or [])

    created = operate(operator_settings(), work)
    shown = out()
    shown.print(f"Endpoint {created.endpoint.id} of {escape(org)}: {escape(created.endpoint.url)}")
    shown.print(f"Events: {', '.join(sorted(created.endpoint.events))}")
    shown.print("Signing secret (shown only now; verify Mindo-Signature with it):")
    shown.print(created.secret, markup=False, highlight=False)


@command(callbacks_app, "list")
def callbacks_list(org: OrgOption) -> None:
    """List an organisation's endpoints."""
    org = required_name(org, "--org")

    async def work(services: Services) -> Sequence[WebhookEndpoint]:
        organisation = await services.operator_queries.organisation_named(org)
        return await services.webhook_endpoints.list(organisation.id)

    endpoints = operate(operator_settings(), work)
    shown = out()
    if not endpoints:
        shown.print(f"'{escape(org)}' has no callback endpoint. Add one:")
        shown.print(f"  mindo callbacks add --org {quoted(org)} --url https://…")
        return
    rows = table(f"Callback endpoints of {escape(org)}", "Id", "URL", "Events", "State", "Since")
    for endpoint in endpoints:
        state = "disabled" if endpoint.disabled_at is not None else "enabled"
        if endpoint.disabled_at is None and endpoint.failing_since is not None:
            state = "failing"
        rows.add_row(
            str(endpoint.id),
            escape(endpoint.url),
            str(len(endpoint.events)) if len(endpoint.events) < len(EVENT_TYPES) else "all",
            state,
            when(endpoint.created_at, "", zone=""),
        )
    shown.print(rows)


@command(callbacks_app, "remove")
def callbacks_remove(org: OrgOption, endpoint_id: IdArgument) -> None:
    """Remove an endpoint, with its pending deliveries."""
    org = required_name(org, "--org")

    async def work(services: Services) -> None:
        organisation = await services.operator_queries.organisation_named(org)
        await services.webhook_endpoints.remove(organisation.id, WebhookEndpointId(endpoint_id))

    operate(operator_settings(), work)
    out().print(f"Endpoint {endpoint_id} of {escape(org)} removed.")
