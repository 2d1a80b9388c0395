"""`mindo orgs`: create, list and describe organisations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from mindo_cli.errors import fail
from mindo_cli.formatting import quoted, table
from mindo_cli.operate import command, command_group, operate, operator_settings, out, required_name
from mindo_core.domain.accounts import Organisation, OrganisationId, parse_quality_policy

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

orgs_app = command_group("Organisations: the tenants that own WhatsApp accounts and API keys.")


@command(orgs_app, "create")
def orgs_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A unique name, e.g. 'Acme Retail'.")],
) -> None:
    """Create an organisation: a tenant that owns WhatsApp accounts and API keys.

    Next, connect its WhatsApp Business Account with `mindo accounts connect`."""
    name = required_name(name, "NAME")
    settings = operator_settings()
    organisation = operate(settings, lambda services: services.organisations.create(name))
    shown = out()
    shown.print(f"[green]Created organisation[/green] '{escape(organisation.name)}'.")
    shown.print(
        "Next: connect its WhatsApp Business Account (the token is stored encrypted):\n"
        f"  mindo accounts connect --org {quoted(organisation.name)} "
        "--waba-id WABA_ID --access-token TOKEN"
    )


@dataclass(frozen=True, kw_only=True)
class _Listing:
    organisations: Sequence[Organisation]
    accounts: Counter[OrganisationId]


@command(orgs_app, "list")
def orgs_list() -> None:
    """List every organisation, with its contact e-mail and how many accounts it connected."""
    settings = operator_settings()

    async def work(services: Services) -> _Listing:
        owned = await services.operator_queries.accounts_of(None)
        return _Listing(
            organisations=await services.organisations.list(),
            accounts=Counter(o.organisation.id for o in owned),
        )

    listing = operate(settings, work)
    shown = out()
    if not listing.organisations:
        shown.print("No organisation yet. Create one:\n  mindo orgs create NAME")
        return
    rows = table(f"Organisations ({len(listing.organisations)})", "Name", "E-mail", "Accounts")
    for organisation in listing.organisations:
        rows.add_row(
            escape(organisation.name),
            escape(organisation.profile.email or "-"),
            str(listing.accounts[organisation.id]),
        )
    shown.print(rows)
    shown.print("Details: mindo accounts list --org NAME; mindo keys list --org NAME")


@command(orgs_app, "update")
def orgs_update(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The organisation to update.")],
    email: Annotated[str | None, typer.Option(help="Contact e-mail.")] = None,
    phone: Annotated[str | None, typer.Option(help="Contact phone.")] = None,
    website: Annotated[str | None, typer.Option(help="Web site URL.")] = None,
    address: Annotated[str | None, typer.Option(help="Postal address.")] = None,
    description: Annotated[str | None, typer.Option(help="What the business does.")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone, e.g. America/Argentina/Buenos_Aires.")
    ] = None,
    size: Annotated[
        str | None, typer.Option(help="MICRO, SMALL, MEDIUM, LARGE or ENTERPRISE ('' clears).")
    ] = None,
    company_type: Annotated[
        list[str] | None, typer.Option("--type", help="ECOMMERCE or CLINIC; repeat for several.")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="A business category; repeat for several.")
    ] = None,
    quality_guard: Annotated[
        str | None,
        typer.Option(
            "--quality-guard",
            metavar="POLICY",
            help=(
                "pause (the default): when Meta reports a number's quality RED or FLAGGED, its "
                "tier lowered, or a template's quality RED, the bulks on it pause until resumed; "
                "continue: they carry on."
            ),
        ),
    ] = None,
    unknown_policy: Annotated[
        str | None,
        typer.Option(
            help="fail or resend: what becomes of a recipient whose outcome is unknown once "
            "the webhooks show Meta most likely never received it (default fail)."
        ),
    ] = None,
    unknown_window: Annotated[
        int | None,
        typer.Option(
            help="Minutes the webhooks of later messages must have come without its own "
            "before that policy applies (1-1440, default 10)."
        ),
    ] = None,
) -> None:
    """Set the business profile that GET /api/v1/business-info/ shows, and the organisation's
    settings. Only the options given change."""
    org = required_name(name, "NAME")
    settings = operator_settings()

    if quality_guard is not None and parse_quality_policy(quality_guard) is None:
        fail(f"--quality-guard must be pause or continue, not {quality_guard[:32]!r}.", exit_code=2)

    async def work(services: Services) -> Organisation:
        updated = await services.organisations.update_profile(
            org,
            email=email,
            phone=phone,
            website=website,
            address=address,
            description=description,
            timezone=timezone,
            company_size=size,
            company_types=company_type,
            categories=category,
            unknown_outcome_policy=unknown_policy,
            unknown_outcome_window_minutes=unknown_window,
        )
        if quality_guard is None:
            return updated
        return await services.organisations.set_quality_policy(org, quality_guard)

    updated = operate(settings, work)
    shown = out()
    shown.print(f"[green]Updated the profile of[/green] '{escape(updated.name)}':")
    for label, value in updated.profile.to_json().items():
        text = ", ".join(value) if isinstance(value, list) else value
        shown.print(f"  {label}: {escape(str(text if text not in (None, '') else '-'))}")
    shown.print(f"  quality guard: {updated.quality_policy}")
