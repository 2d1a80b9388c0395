"""`mindo keys`: issue, list and revoke API keys. A key is shown once and stored as a hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from mindo_cli.durations import DurationError, parse_duration
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
from mindo_core.access.api_keys import ALL_SCOPES, ApiKey, Scope
from mindo_core.domain.accounts import PhoneNumber
from mindo_core.services.issue_api_key import IssuedKey
from mindo_core.settings import Settings

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

keys_app = command_group("API keys: what clients send as X-API-Key. Shown once, stored as a hash.")


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


@dataclass(frozen=True, kw_only=True)
class _NewKey:
    issued: IssuedKey
    phone_numbers: Sequence[PhoneNumber]


@command(keys_app, "create")
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
    org, label = required_name(org, "--org"), required_name(name, "--name")
    lifetime, scopes = _expiry(expires_in), _scopes(scope)
    settings = operator_settings()

    async def work(services: Services) -> _NewKey:
        issued = await services.api_keys.issue(org, name=label, scopes=scopes, expires_in=lifetime)
        numbers = await services.operator_queries.phone_numbers_of(org)
        return _NewKey(issued=issued, phone_numbers=numbers)

    created = operate(settings, work)
    _print_new_key(out(), settings, org, created)


def _print_new_key(shown: Console, settings: Settings, org: str, created: _NewKey) -> None:
    key = created.issued.api_key
    shown.print(
        f"[green]Created API key[/green] '{escape(key.name)}' for '{escape(org)}' "
        f"(scopes: {', '.join(sorted(key.scopes))}; expires: {when(key.expires_at, 'never')})."
    )
    shown.print(f"\n  [bold]{created.issued.plaintext}[/bold]\n")
    shown.print(
        "[yellow]Copy it now: this is the only time it is shown[/yellow] "
        f"(Mindo keeps its hash; `mindo keys list` shows it as {key.display_prefix})."
    )
    if not created.phone_numbers:
        shown.print(
            "Next: this organisation has no WhatsApp number yet; connect one:\n"
            f"  mindo accounts connect --org {quoted(org)} --waba-id WABA_ID "
            "--access-token TOKEN"
        )
        return
    shown.print(f"Next: try it against the REST bridge:\n  {_curl(settings, created)}")


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


@command(keys_app, "list")
def keys_list(org: OrgOption) -> None:
    """List an organisation's API keys: prefix, label, scopes, expiry and state.

    Only the prefix of each key is shown; the whole key was printed once, when created."""
    org = required_name(org, "--org")
    settings = operator_settings()
    listing = operate(settings, lambda services: services.api_keys.listing(org))
    shown = out()
    if not listing.keys:
        shown.print(f"'{escape(org)}' has no API keys. Create one:")
        shown.print(f"  mindo keys create --org {quoted(org)} --name LABEL")
        return
    rows = table(
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
        rows.add_row(
            key.display_prefix,
            escape(key.name),
            ",".join(sorted(key.scopes)),
            when(key.created_at, "", zone=""),
            when(key.expires_at, "never", zone=""),
            _state(key, listing.as_of),
        )
    shown.print(rows)
    shown.print("Revoke one with: mindo keys revoke PREFIX")


def _state(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "[red]revoked[/red]"
    if not key.is_usable_at(now):
        return "[yellow]expired[/yellow]"
    return "[green]active[/green]"


@command(keys_app, "revoke")
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
    org_name = required_name(org, "--org") if org is not None else None
    settings = operator_settings()
    revoked = operate(settings, lambda services: services.key_revoker.revoke(key_prefix, org_name))
    name = revoked.organisation.name
    shown = out()
    shown.print(
        f"[green]Revoked[/green] API key {revoked.api_key.display_prefix} "
        f"('{escape(revoked.api_key.name)}') of '{escape(name)}': requests with it now fail."
    )
    shown.print(f"Next: issue a replacement if needed: mindo keys create --org {quoted(name)}")
