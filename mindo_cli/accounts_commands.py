"""`mindo accounts`: connect a WhatsApp Business Account to an organisation, and list them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from mindo_cli.errors import CliError
from mindo_cli.formatting import quoted, table, template_counts, tier
from mindo_cli.meta_problems import meta_problem
from mindo_cli.operate import (
    OrgOption,
    command,
    command_group,
    operate,
    operator_settings,
    out,
    required_name,
)
from mindo_core.domain.accounts import PhoneNumber
from mindo_core.domain.errors import MetaError, MetaUnavailable
from mindo_core.services.connect_account import ConnectedAccount
from mindo_core.services.operator_queries import OwnedAccount

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

accounts_app = command_group("WhatsApp Business Accounts (WABAs): connect one to an organisation.")


@command(accounts_app, "connect")
def accounts_connect(
    org: OrgOption,
    waba_id: Annotated[
        str, typer.Option("--waba-id", help="The WhatsApp Business Account id (from Meta).")
    ],
    access_token: Annotated[
        str,
        typer.Option(
            "--access-token",
            envvar="MINDO_META_ACCESS_TOKEN",
            show_envvar=True,
            prompt="Meta access token",
            hide_input=True,
            help="A Meta access token for that account (a System User token). Prefer the "
            "environment variable or the prompt: a command line stays in the shell history.",
        ),
    ],
    name: Annotated[
        str, typer.Option("--name", help="A label for the account. Default: the WABA id.")
    ] = "",
) -> None:
    """Connect a WhatsApp Business Account to an organisation.

    Reads the account's phone numbers and all its templates from Meta (or the sandbox, at
    MINDO_META_BASE_URL), then stores them with the access token, encrypted. A token Meta
    refuses stores nothing. Running it again refreshes the account and replaces the token."""
    org, waba = required_name(org, "--org"), required_name(waba_id, "--waba-id")
    token = required_name(access_token, "--access-token")
    settings = operator_settings()

    async def work(services: Services) -> ConnectedAccount:
        try:
            return await services.accounts.connect(
                org, waba_id=waba, access_token=token, name=name.strip()
            )
        except (MetaError, MetaUnavailable) as error:
            problem = meta_problem(error, settings, waba)
            raise CliError(f"{problem} Nothing was stored.") from None

    connected = operate(settings, work)
    _print_connected(out(), org, connected)


def _print_connected(shown: Console, org: str, connected: ConnectedAccount) -> None:
    account = connected.business_account
    label = f" ('{escape(account.name)}')" if account.name != account.waba_id else ""
    shown.print(
        f"[green]Connected[/green] WhatsApp Business Account {escape(account.waba_id)}{label} "
        f"to '{escape(org)}'. Its access token is stored encrypted."
    )
    _print_numbers(shown, connected.phone_numbers)
    shown.print(f"Templates: {template_counts(connected.templates)}.")
    shown.print(
        "Next: issue an API key for your application:\n"
        f"  mindo keys create --org {quoted(org)} --name LABEL"
    )


def _print_numbers(shown: Console, numbers: Sequence[PhoneNumber], title: str = "") -> None:
    if not numbers:
        shown.print(
            "[yellow]The account has no phone number yet[/yellow]: add one in Meta's "
            "WhatsApp Manager, then run this command again."
        )
        return
    rows = table(
        title or f"Phone numbers ({len(numbers)})",
        "phone_number_id",
        "Number",
        "Verified name",
        "Quality",
        "Limit",
        "Throughput",
        whole=("phone_number_id", "Number"),
    )
    for number in numbers:
        rows.add_row(
            number.phone_number_id,
            escape(number.display_phone_number),
            escape(number.verified_name),
            escape(number.quality_rating),
            escape(tier(number.messaging_limit_tier)),
            escape(number.throughput_level),
        )
    shown.print(rows)


@dataclass(frozen=True, kw_only=True)
class _Listed:
    owned: OwnedAccount
    numbers: Sequence[PhoneNumber]


@command(accounts_app, "list")
def accounts_list(
    org: Annotated[
        str | None,
        typer.Option("--org", help="Only this organisation's accounts. Default: every account."),
    ] = None,
) -> None:
    """List the connected WhatsApp Business Accounts and their phone numbers, as last read
    from Meta."""
    org_name = required_name(org, "--org") if org is not None else None
    settings = operator_settings()

    async def work(services: Services) -> Sequence[_Listed]:
        queries = services.operator_queries
        owned = await queries.accounts_of(org_name)
        return [
            _Listed(owned=o, numbers=await queries.numbers_of(o.business_account)) for o in owned
        ]

    listed = operate(settings, work)
    shown = out()
    if not listed:
        where = f"'{escape(org_name)}' has" if org_name else "No organisation has"
        shown.print(f"{where} no connected account. Connect one:")
        shown.print(
            f"  mindo accounts connect --org {quoted(org_name or 'NAME')} "
            "--waba-id WABA_ID --access-token TOKEN"
        )
        return
    for entry in listed:
        account = entry.owned.business_account
        title = f"{escape(entry.owned.organisation.name)}: WABA {escape(account.waba_id)}" + (
            f" ('{escape(account.name)}')" if account.name != account.waba_id else ""
        )
        if entry.numbers:
            _print_numbers(shown, entry.numbers, title)
        else:
            shown.print(f"{title}: no phone number yet (add one in Meta's WhatsApp Manager).")
