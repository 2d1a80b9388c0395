"""`mindo templates`: refresh templates from Meta, and list them as last read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from mindo_cli.formatting import quoted, table, template_counts
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
from mindo_core.domain.accounts import BusinessAccount, Organisation
from mindo_core.domain.errors import MetaError, MetaUnavailable
from mindo_core.domain.templates import StoredTemplate
from mindo_core.services.operator_queries import OwnedAccount
from mindo_core.settings import Settings

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

templates_app = command_group("Message templates, as approved at Meta: refresh and list them.")


@dataclass(frozen=True, kw_only=True)
class _Synced:
    organisation: Organisation
    account: BusinessAccount
    templates: Sequence[StoredTemplate] = ()
    added: Sequence[str] = ()
    problem: str | None = None


@command(templates_app, "sync")
def templates_sync(
    org: Annotated[
        str | None,
        typer.Option("--org", help="Only this organisation's accounts. Default: every account."),
    ] = None,
) -> None:
    """Refresh templates from Meta: every page of every connected account's templates.

    New templates become sendable and changed ones (status, text) take effect. Run it after
    creating or editing templates in Meta's WhatsApp Manager."""
    org_name = required_name(org, "--org") if org is not None else None
    settings = operator_settings()

    async def work(services: Services) -> Sequence[_Synced]:
        owned = await services.operator_queries.accounts_of(org_name)
        return [await _sync_one(services, settings, o) for o in owned]

    results = operate(settings, work)
    shown = out()
    if not results:
        where = f"'{escape(org_name)}' has" if org_name else "No organisation has"
        shown.print(f"{where} no connected account, so there is nothing to sync. Connect one:")
        shown.print(
            f"  mindo accounts connect --org {quoted(org_name or 'NAME')} "
            "--waba-id WABA_ID --access-token TOKEN"
        )
        return
    _print_synced(shown, results, org_name)
    failed = [r for r in results if r.problem is not None]
    for result in failed:
        Console(stderr=True, soft_wrap=True).print(
            f"[red]error:[/red] {escape(result.account.waba_id)}: {escape(result.problem or '')}"
        )
    if failed:
        raise typer.Exit(1)


async def _sync_one(services: Services, settings: Settings, owned: OwnedAccount) -> _Synced:
    """One account; a refusal from Meta is reported and the other accounts still sync."""
    account = owned.business_account
    try:
        synced = await services.templates.sync(account)
    except (MetaError, MetaUnavailable) as error:
        problem = meta_problem(error, settings, account.waba_id)
        return _Synced(
            organisation=owned.organisation, account=account, problem=f"{problem} Kept as was."
        )
    return _Synced(
        organisation=owned.organisation,
        account=account,
        templates=synced.templates,
        added=[f"{name} ({language})" for name, language in synced.added],
    )


def _print_synced(shown: Console, results: Iterable[_Synced], org_name: str | None) -> None:
    rows = table(
        "Templates synced from Meta", "Organisation", "WABA", "Templates", "New", whole=("WABA",)
    )
    for result in results:
        rows.add_row(
            escape(result.organisation.name),
            escape(result.account.waba_id),
            "[red]failed[/red]" if result.problem else template_counts(result.templates),
            escape(", ".join(result.added)) or "-",
        )
    shown.print(rows)
    shown.print(f"Next: see them with: mindo templates list --org {quoted(org_name or 'NAME')}")


@dataclass(frozen=True, kw_only=True)
class _Listed:
    account: BusinessAccount
    templates: Sequence[StoredTemplate]


@command(templates_app, "list")
def templates_list(org: OrgOption) -> None:
    """List the templates Mindo knows for an organisation, as last read from Meta.

    Only APPROVED templates can be sent. Refresh with `mindo templates sync`."""
    org = required_name(org, "--org")
    settings = operator_settings()

    async def work(services: Services) -> Sequence[_Listed]:
        owned = await services.operator_queries.accounts_of(org)
        return [
            _Listed(
                account=o.business_account,
                templates=await services.templates.list(o.business_account),
            )
            for o in owned
        ]

    listed = operate(settings, work)
    shown = out()
    if not listed:
        shown.print(f"'{escape(org)}' has no connected account. Connect one:")
        shown.print(
            f"  mindo accounts connect --org {quoted(org)} --waba-id WABA_ID --access-token TOKEN"
        )
        return
    for entry in listed:
        rows = table(
            f"WABA {escape(entry.account.waba_id)}: {template_counts(entry.templates)}",
            "Name",
            "Language",
            "Status",
            "Category",
            "Format",
            whole=("Name",),
        )
        for t in sorted(entry.templates, key=lambda t: (t.name, t.language)):
            rows.add_row(
                escape(t.name),
                escape(t.language),
                escape(t.status),
                escape(t.category),
                escape(t.parameter_format),
            )
        shown.print(rows)
    shown.print(f"Refresh from Meta with: mindo templates sync --org {quoted(org)}")
