"""Operator commands: `mindo orgs | keys | accounts | templates`.

Each command opens the services from the environment (MINDO_DATABASE_URL, MINDO_SECRET_KEY,
MINDO_META_BASE_URL...), does one use case, and prints what happened and what to do next.
Meta access tokens are only ever passed to the use case: never logged, echoed nor printed back.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mindo_cli.durations import DurationError, parse_duration
from mindo_core.access.api_keys import ALL_SCOPES, ApiKey, Scope
from mindo_core.domain.accounts import BusinessAccount, Organisation, PhoneNumber
from mindo_core.domain.errors import MetaError, MetaUnavailable, MindoError
from mindo_core.domain.templates import StoredTemplate
from mindo_core.services import operator_queries
from mindo_core.services.connect_account import ConnectedAccount
from mindo_core.services.issue_api_key import IssuedKey
from mindo_core.settings import Settings

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

T = TypeVar("T")

orgs_app = typer.Typer(
    help="Organisations: the tenants that own WhatsApp accounts and API keys.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="API keys: what clients send as X-API-Key. Shown once, stored as a hash.",
    no_args_is_help=True,
)
accounts_app = typer.Typer(
    help="WhatsApp Business Accounts (WABAs): connect one to an organisation.",
    no_args_is_help=True,
)
templates_app = typer.Typer(
    help="Message templates, as approved at Meta: refresh and list them.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Adds the operator commands to the `mindo` application."""
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(keys_app, name="keys")
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(templates_app, name="templates")


F = TypeVar("F", bound=Callable[..., None])


def _command(app: typer.Typer, name: str) -> Callable[[F], F]:
    """``app.command`` with the docstring as help, its paragraphs reflowed: Typer keeps a
    docstring's line breaks, which the help screen then wraps a second time."""

    def decorate(function: F) -> F:
        paragraphs = inspect.cleandoc(function.__doc__ or "").split("\n\n")
        text = "\n\n".join(" ".join(p.split()) for p in paragraphs)
        app.command(name, help=text)(function)
        return function

    return decorate


OrgOption = Annotated[str, typer.Option("--org", help="Name of the organisation.")]


# --------------------------------------------------------------------------------------------
# Running a use case


def _out() -> Console:
    # Made per command, not at import: the console reads the terminal (and COLUMNS) when built.
    return Console(soft_wrap=True)


def _fail(message: str) -> NoReturn:
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except MindoError as error:
        _fail(error.message)


def _operate(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Runs one use case over freshly opened services; a Mindo error ends the command with a
    clear message and exit code 1."""

    # Imported here, not at the top: it loads the database and HTTP stacks, which `mindo
    # --help` and the other commands should not wait for.
    from mindo_core.bootstrap import open_services

    async def run() -> T:
        async with open_services(settings) as services:
            return await work(services)

    try:
        return asyncio.run(run())
    except MindoError as error:
        _fail(error.message)


def _meta_problem(error: MetaError | MetaUnavailable, settings: Settings, waba_id: str) -> str:
    """What Meta's refusal (or silence) means for the operator, and what to check."""
    if isinstance(error, MetaUnavailable):
        return f"Could not reach Meta at {settings.meta_base_url}: {error.reason}."
    code = error.meta_code
    details = error.detail.details
    said = f"{error.message}: {details}" if details and details != error.detail.title else ""
    said = (said or error.message).rstrip(".") + "."
    if code in (0, 190):
        return (
            f"Meta refused the access token: {said} The token is invalid or has expired: "
            "create a new one (a System User token with whatsapp_business_management and "
            "whatsapp_business_messaging) and try again."
        )
    if code == 10 or 200 <= code < 300:
        return (
            f"The access token may not read WhatsApp Business Account {waba_id}: {said} "
            "Check the WABA id, and that the token's System User has that account assigned."
        )
    if code == 100:
        return (
            f"Meta did not accept WhatsApp Business Account {waba_id}: {said} Check the id: "
            "it is the WhatsApp Business Account id, not a phone number id."
        )
    return f"Meta answered with an error: {said}"


# --------------------------------------------------------------------------------------------
# Parsing operator input


def _name(value: str, flag: str) -> str:
    name = value.strip()
    if not name:
        raise typer.BadParameter("must not be empty", param_hint=flag)
    return name


def _expiry(text: str | None) -> timedelta | None:
    if text is None or text.strip().lower() == "never":
        return None
    try:
        return parse_duration(text)
    except DurationError as error:
        raise typer.BadParameter(str(error), param_hint="--expires-in") from None


def _scopes(text: str) -> frozenset[Scope]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    known: dict[str, Scope] = {scope: scope for scope in ALL_SCOPES}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        what = f"unknown scope '{unknown[0]}'" if unknown else "no scope given"
        choices = ", ".join(sorted(ALL_SCOPES))
        raise typer.BadParameter(f"{what}: choose from {choices}", param_hint="--scope")
    return frozenset(known[name] for name in names)


# --------------------------------------------------------------------------------------------
# mindo orgs


@_command(orgs_app, "create")
def orgs_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A unique name, e.g. 'Acme Retail'.")],
) -> None:
    """Create an organisation: a tenant that owns WhatsApp accounts and API keys.

    Next, connect its WhatsApp Business Account with `mindo accounts connect`."""
    name = _name(name, "NAME")
    settings = _settings()
    organisation = _operate(
        settings, lambda services: services.stores.organisations.create_organisation(name)
    )
    out = _out()
    out.print(f"[green]Created organisation[/green] '{escape(organisation.name)}'.")
    out.print(
        "Next: connect its WhatsApp Business Account (the token is stored encrypted):\n"
        f"  mindo accounts connect --org {_quoted(organisation.name)} "
        "--waba-id WABA_ID --access-token TOKEN"
    )


@_command(orgs_app, "update")
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
) -> None:
    """Set the business profile that GET /api/v1/business-info/ shows. Only the options given
    change."""
    from mindo_core.services.organisation_profile import update_profile

    org = _name(name, "NAME")
    settings = _settings()
    updated = _operate(
        settings,
        lambda services: update_profile(
            services.stores.organisations,
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
        ),
    )
    profile = updated.profile
    out = _out()
    out.print(f"[green]Updated the profile of[/green] '{escape(updated.name)}':")
    for label, value in profile.to_json().items():
        shown = ", ".join(value) if isinstance(value, list) else value
        out.print(f"  {label}: {escape(str(shown if shown not in (None, '') else '-'))}")


# --------------------------------------------------------------------------------------------
# mindo keys


@dataclass(frozen=True, kw_only=True)
class _NewKey:
    issued: IssuedKey
    phone_numbers: Sequence[PhoneNumber]


@_command(keys_app, "create")
def keys_create(
    org: OrgOption,
    name: Annotated[
        str, typer.Option("--name", help="A label to recognise the key by, e.g. 'billing-app'.")
    ] = "default",
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in",
            help="Lifetime: a number and m, h, d or w (90m, 12h, 30d, 1w). Default: never.",
        ),
    ] = None,
    scope: Annotated[
        str,
        typer.Option("--scope", help="Comma-separated: send (send messages), read (look up)."),
    ] = "send,read",
) -> None:
    """Issue an API key for an organisation and print it, once.

    Only the key's hash is stored: copy the key when it is printed, it cannot be shown
    again. `mindo keys list` shows its prefix; `mindo keys revoke PREFIX` ends it."""
    org, label = _name(org, "--org"), _name(name, "--name")
    lifetime, scopes = _expiry(expires_in), _scopes(scope)
    settings = _settings()

    async def work(services: Services) -> _NewKey:
        issued = await services.api_keys.issue(org, name=label, scopes=scopes, expires_in=lifetime)
        numbers = await operator_queries.phone_numbers_of(
            org, organisations=services.stores.organisations, accounts=services.stores.accounts
        )
        return _NewKey(issued=issued, phone_numbers=numbers)

    created = _operate(settings, work)
    _print_new_key(_out(), settings, org, created)


def _print_new_key(out: Console, settings: Settings, org: str, created: _NewKey) -> None:
    key = created.issued.api_key
    out.print(
        f"[green]Created API key[/green] '{escape(key.name)}' for '{escape(org)}' "
        f"(scopes: {', '.join(sorted(key.scopes))}; expires: {_when(key.expires_at, 'never')})."
    )
    out.print(f"\n  [bold]{created.issued.plaintext}[/bold]\n")
    out.print(
        "[yellow]Copy it now: this is the only time it is shown[/yellow] "
        f"(Mindo keeps its hash; `mindo keys list` shows it as {key.display_prefix})."
    )
    if not created.phone_numbers:
        out.print(
            "Next: this organisation has no WhatsApp number yet; connect one:\n"
            f"  mindo accounts connect --org {_quoted(org)} --waba-id WABA_ID "
            "--access-token TOKEN"
        )
        return
    out.print(f"Next: try it against the REST bridge:\n  {_curl(settings, created)}")


def _curl(settings: Settings, created: _NewKey) -> str:
    base = f"http://{settings.http_address}/api/v1"
    header = f"-H 'X-API-Key: {created.issued.plaintext}'"
    if created.issued.api_key.allows("read"):
        return f"curl {base}/business-accounts/ {header}"
    number = created.phone_numbers[0].phone_number_id
    body = (
        f'{{"phone_number_id": "{number}", "template_name": "TEMPLATE_NAME", '
        '"recipient_phone": "+5491112345678", "variables": {}}'
    )
    return (
        f"curl -X POST {base}/meta-templates/send/ {header} "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )


@dataclass(frozen=True, kw_only=True)
class _KeyListing:
    keys: Sequence[ApiKey]
    now: datetime


@_command(keys_app, "list")
def keys_list(org: OrgOption) -> None:
    """List an organisation's API keys: prefix, label, scopes, expiry and state.

    Only the prefix of each key is shown; the whole key was printed once, when created."""
    org = _name(org, "--org")
    settings = _settings()

    async def work(services: Services) -> _KeyListing:
        return _KeyListing(keys=await services.api_keys.list(org), now=services.clock.now())

    listing = _operate(settings, work)
    out = _out()
    if not listing.keys:
        out.print(f"'{escape(org)}' has no API keys. Create one:")
        out.print(f"  mindo keys create --org {_quoted(org)} --name LABEL")
        return
    table = _table(
        f"API keys of {escape(org)}",
        "Prefix",
        "Name",
        "Scopes",
        "Created (UTC)",
        "Expires (UTC)",
        "State",
        whole=("Prefix", "State"),
    )
    for key in sorted(listing.keys, key=lambda k: k.created_at):
        table.add_row(
            key.display_prefix,
            escape(key.name),
            ",".join(sorted(key.scopes)),
            _when(key.created_at, "", zone=""),
            _when(key.expires_at, "never", zone=""),
            _state(key, listing.now),
        )
    out.print(table)
    out.print("Revoke one with: mindo keys revoke PREFIX")


def _state(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "[red]revoked[/red]"
    if not key.is_usable_at(now):
        return "[yellow]expired[/yellow]"
    return "[green]active[/green]"


@_command(keys_app, "revoke")
def keys_revoke(
    key_prefix: Annotated[
        str,
        typer.Argument(
            metavar="KEY_PREFIX",
            help="The prefix `mindo keys list` shows (like mindo_AbC123), or the whole key.",
        ),
    ],
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="The key's organisation. Without it, every organisation with a connected "
            "account is searched.",
        ),
    ] = None,
) -> None:
    """Revoke an API key at once: requests with it are refused from now on.

    Revoking cannot be undone; issue a new key with `mindo keys create`."""
    org_name = _name(org, "--org") if org is not None else None
    settings = _settings()
    revoked = _operate(
        settings,
        lambda services: operator_queries.revoke_key(
            key_prefix,
            org_name,
            organisations=services.stores.organisations,
            accounts=services.stores.accounts,
            api_keys=services.stores.api_keys,
            clock=services.clock,
        ),
    )
    name = revoked.organisation.name
    out = _out()
    out.print(
        f"[green]Revoked[/green] API key {revoked.api_key.display_prefix} "
        f"('{escape(revoked.api_key.name)}') of '{escape(name)}': requests with it now fail."
    )
    out.print(f"Next: issue a replacement if needed: mindo keys create --org {_quoted(name)}")


# --------------------------------------------------------------------------------------------
# mindo accounts


@_command(accounts_app, "connect")
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
    org, waba = _name(org, "--org"), _name(waba_id, "--waba-id")
    token = _name(access_token, "--access-token")
    settings = _settings()

    async def work(services: Services) -> ConnectedAccount:
        try:
            return await services.accounts.connect(
                org, waba_id=waba, access_token=token, name=name.strip()
            )
        except (MetaError, MetaUnavailable) as error:
            raise _Refused(_meta_problem(error, settings, waba)) from None

    connected = _operate(settings, work)
    _print_connected(_out(), org, connected)


class _Refused(MindoError):
    """Meta refused; nothing was stored."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem} Nothing was stored.")


def _print_connected(out: Console, org: str, connected: ConnectedAccount) -> None:
    account = connected.business_account
    label = f" ('{escape(account.name)}')" if account.name != account.waba_id else ""
    out.print(
        f"[green]Connected[/green] WhatsApp Business Account {escape(account.waba_id)}{label} "
        f"to '{escape(org)}'. Its access token is stored encrypted."
    )
    _print_numbers(out, connected.phone_numbers)
    out.print(f"Templates: {_template_counts(connected.templates)}.")
    out.print(
        "Next: issue an API key for your application:\n"
        f"  mindo keys create --org {_quoted(org)} --name LABEL"
    )


def _print_numbers(out: Console, numbers: Sequence[PhoneNumber]) -> None:
    if not numbers:
        out.print(
            "[yellow]The account has no phone number yet[/yellow]: add one in Meta's "
            "WhatsApp Manager, then run this command again."
        )
        return
    table = _table(
        f"Phone numbers ({len(numbers)})",
        "phone_number_id",
        "Number",
        "Verified name",
        "Quality",
        "Limit",
        "Throughput",
        whole=("phone_number_id", "Number"),
    )
    for number in numbers:
        table.add_row(
            number.phone_number_id,
            escape(number.display_phone_number),
            escape(number.verified_name),
            escape(number.quality_rating),
            escape(number.messaging_limit_tier),
            escape(number.throughput_level),
        )
    out.print(table)


def _template_counts(templates: Sequence[StoredTemplate]) -> str:
    by_status = Counter(t.status.upper() for t in templates)
    detail = ", ".join(f"{count} {status.lower()}" for status, count in sorted(by_status.items()))
    return f"{len(templates)}" + (f" ({detail})" if detail else "")


# --------------------------------------------------------------------------------------------
# mindo templates


@dataclass(frozen=True, kw_only=True)
class _Synced:
    organisation: Organisation
    account: BusinessAccount
    templates: Sequence[StoredTemplate] = ()
    added: Sequence[str] = ()
    problem: str | None = None


@_command(templates_app, "sync")
def templates_sync(
    org: Annotated[
        str | None,
        typer.Option("--org", help="Only this organisation's accounts. Default: every account."),
    ] = None,
) -> None:
    """Refresh templates from Meta: every page of every connected account's templates.

    New templates become sendable and changed ones (status, text) take effect. Run it after
    creating or editing templates in Meta's WhatsApp Manager."""
    org_name = _name(org, "--org") if org is not None else None
    settings = _settings()

    async def work(services: Services) -> Sequence[_Synced]:
        owned = await operator_queries.accounts_of(
            org_name, organisations=services.stores.organisations, accounts=services.stores.accounts
        )
        return [await _sync_one(services, settings, o) for o in owned]

    results = _operate(settings, work)
    out = _out()
    if not results:
        where = f"'{escape(org_name)}' has" if org_name else "No organisation has"
        out.print(f"{where} no connected account, so there is nothing to sync. Connect one:")
        out.print(
            f"  mindo accounts connect --org {_quoted(org_name or 'NAME')} "
            "--waba-id WABA_ID --access-token TOKEN"
        )
        return
    _print_synced(out, results, org_name)
    failed = [r for r in results if r.problem is not None]
    for result in failed:
        Console(stderr=True, soft_wrap=True).print(
            f"[red]error:[/red] {escape(result.account.waba_id)}: {escape(result.problem or '')}"
        )
    if failed:
        raise typer.Exit(1)


async def _sync_one(
    services: Services, settings: Settings, owned: operator_queries.OwnedAccount
) -> _Synced:
    """One account; a refusal from Meta is reported and the other accounts still sync."""
    account = owned.business_account
    before = {
        (t.name, t.language) for t in await services.stores.templates.list_templates(account.id)
    }
    try:
        templates = await services.accounts.sync_templates(account)
    except (MetaError, MetaUnavailable) as error:
        problem = _meta_problem(error, settings, account.waba_id)
        return _Synced(
            organisation=owned.organisation, account=account, problem=f"{problem} Kept as was."
        )
    added = sorted(
        f"{t.name} ({t.language})" for t in templates if (t.name, t.language) not in before
    )
    return _Synced(
        organisation=owned.organisation, account=account, templates=templates, added=added
    )


def _print_synced(out: Console, results: Iterable[_Synced], org_name: str | None) -> None:
    table = _table(
        "Templates synced from Meta", "Organisation", "WABA", "Templates", "New", whole=("WABA",)
    )
    for result in results:
        table.add_row(
            escape(result.organisation.name),
            escape(result.account.waba_id),
            "[red]failed[/red]" if result.problem else _template_counts(result.templates),
            escape(", ".join(result.added)) or "-",
        )
    out.print(table)
    out.print(f"Next: see them with: mindo templates list --org {_quoted(org_name or 'NAME')}")


@dataclass(frozen=True, kw_only=True)
class _Listed:
    account: BusinessAccount
    templates: Sequence[StoredTemplate]


@_command(templates_app, "list")
def templates_list(org: OrgOption) -> None:
    """List the templates Mindo knows for an organisation, as last read from Meta.

    Only APPROVED templates can be sent. Refresh with `mindo templates sync`."""
    org = _name(org, "--org")
    settings = _settings()

    async def work(services: Services) -> Sequence[_Listed]:
        owned = await operator_queries.accounts_of(
            org, organisations=services.stores.organisations, accounts=services.stores.accounts
        )
        return [
            _Listed(
                account=o.business_account,
                templates=await services.stores.templates.list_templates(o.business_account.id),
            )
            for o in owned
        ]

    listed = _operate(settings, work)
    out = _out()
    if not listed:
        out.print(f"'{escape(org)}' has no connected account. Connect one:")
        out.print(
            f"  mindo accounts connect --org {_quoted(org)} --waba-id WABA_ID --access-token TOKEN"
        )
        return
    for entry in listed:
        table = _table(
            f"WABA {escape(entry.account.waba_id)}: {_template_counts(entry.templates)}",
            "Name",
            "Language",
            "Status",
            "Category",
            "Format",
            whole=("Name",),
        )
        for t in sorted(entry.templates, key=lambda t: (t.name, t.language)):
            table.add_row(
                escape(t.name),
                escape(t.language),
                escape(t.status),
                escape(t.category),
                escape(t.parameter_format),
            )
        out.print(table)
    out.print(f"Refresh from Meta with: mindo templates sync --org {_quoted(org)}")


# --------------------------------------------------------------------------------------------
# Small formatting helpers


def _table(title: str, *columns: str, whole: Collection[str] = ()) -> Table:
    """Light borders, and cells folded rather than cut: a narrow or piped terminal still gets
    every character. The ``whole`` columns (ids) are never broken; the others wrap first."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in whole)
    return table


def _when(moment: datetime | None, missing: str, *, zone: str = " UTC") -> str:
    return missing if moment is None else f"{moment:%Y-%m-%d %H:%M}{zone}"


def _quoted(value: str) -> str:
    """A value as it would be typed in a shell."""
    if value and all(c.isalnum() or c in "-_.@" for c in value):
        return escape(value)
    return escape("'" + value.replace("'", "'\\''") + "'")
