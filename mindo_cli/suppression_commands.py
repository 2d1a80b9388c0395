"""`mindo suppression`: the organisation's suppression list (marketing templates are not sent to
those on it): list it, add a phone, remove one; and its opt-out policy (the words, the
categories blocked)."""

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
from mindo_core.contacts.model import Contact
from mindo_core.contacts.opt_out import OptOutPolicy

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

suppression_app = command_group(
    "The suppression list: phones that receive no marketing template (they wrote STOP, or the "
    "organisation put them on it)."
)

PhoneArgument = Annotated[
    str,
    typer.Argument(
        help="The phone: E.164 with or without +, Argentina's 15 form, spaces and dashes."
    ),
]
# An operator reads the whole list; it is fetched a page at a time.
_PAGE_SIZE = 100


@command(suppression_app, "list")
def suppression_list(org: OrgOption) -> None:
    """List an organisation's suppression list, latest added first."""
    org = required_name(org, "--org")

    async def work(services: Services) -> Sequence[Contact]:
        organisation = await services.operator_queries.organisation_named(org)
        listed: list[Contact] = []
        while True:
            page = await services.suppression_list.list(
                organisation.id, page=len(listed) // _PAGE_SIZE + 1, page_size=_PAGE_SIZE
            )
            listed += page.items
            if not page.items or len(listed) >= page.count:
                return listed

    contacts = operate(operator_settings(), work)
    shown = out()
    if not contacts:
        shown.print(f"'{escape(org)}' has nobody on its suppression list. Add a phone:")
        shown.print(f"  mindo suppression add --org {quoted(org)} PHONE")
        return
    rows = table(f"Suppression list of {escape(org)}", "Phone", "Since (UTC)", "Name")
    for contact in contacts:
        rows.add_row(
            contact.phone,
            when(contact.opted_out_at, "", zone=""),
            escape(contact.display_name or ""),
        )
    shown.print(rows)


@command(suppression_app, "add")
def suppression_add(org: OrgOption, phone: PhoneArgument) -> None:
    """Put a phone on an organisation's suppression list, as if they had written STOP.

    Marketing templates are not sent to them (a bulk skips them) until they are removed or
    write START. Adding a phone already on the list changes nothing."""
    org = required_name(org, "--org")

    async def work(services: Services) -> Contact:
        organisation = await services.operator_queries.organisation_named(org)
        return await services.suppression_list.add(organisation.id, phone)

    contact = operate(operator_settings(), work)
    since = when(contact.opted_out_at, "")
    out().print(f"{contact.phone} is on the suppression list of {escape(org)} since {since}.")


@command(suppression_app, "remove")
def suppression_remove(org: OrgOption, phone: PhoneArgument) -> None:
    """Take a phone off an organisation's suppression list: they receive marketing templates
    again. A phone not on the list is an error."""
    org = required_name(org, "--org")

    async def work(services: Services) -> str:
        organisation = await services.operator_queries.organisation_named(org)
        return await services.suppression_list.remove(organisation.id, phone)

    removed = operate(operator_settings(), work)
    out().print(f"{removed} is off the suppression list of {escape(org)}.")


def _listed(value: str | None) -> list[str] | None:
    return None if value is None else [word.strip() for word in value.split(",")]


@command(suppression_app, "policy")
def suppression_policy(
    org: OrgOption,
    stop_words: Annotated[
        str | None,
        typer.Option(
            help='The words that put a contact on the list, comma-separated: "STOP,BAJA".'
        ),
    ] = None,
    start_words: Annotated[
        str | None,
        typer.Option(help='The words that take them off it, comma-separated: "START,ALTA".'),
    ] = None,
    categories: Annotated[
        str | None,
        typer.Option(
            help="The template categories the list blocks, comma-separated: marketing (always) "
            'and, if given, utility and authentication; "" for marketing alone.'
        ),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Back to the defaults.")] = False,
) -> None:
    """Show an organisation's opt-out policy, or change it: its stop and start words, and the
    template categories its suppression list blocks.

    A message that is, as a whole, one of the words (case, accents and punctuation aside)
    opts its sender out or back in. Only the options given change."""
    org = required_name(org, "--org")
    changes = {
        "stop_words": _listed(stop_words),
        "start_words": _listed(start_words),
        "categories": _listed(categories),
    }

    async def work(services: Services) -> OptOutPolicy:
        organisation = await services.operator_queries.organisation_named(org)
        settings = services.opt_out_settings
        if reset:
            return await settings.reset(organisation.id)
        if all(value is None for value in changes.values()):
            return await settings.policy(organisation.id)
        return await settings.update(organisation.id, **changes)

    policy = operate(operator_settings(), work)
    shown = out()
    shown.print(f"Opt-out policy of {escape(org)}:")
    shown.print(f"  stop words: {escape(', '.join(sorted(policy.keywords.stop)))}")
    shown.print(f"  start words: {escape(', '.join(sorted(policy.keywords.start)))}")
    blocked = ", ".join(sorted(c.lower() for c in policy.suppressed_categories))
    shown.print(f"  templates blocked for those on the list: {blocked}")
