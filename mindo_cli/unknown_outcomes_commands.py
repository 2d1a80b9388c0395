"""`mindo unknown-outcomes policy`: what an organisation does with the bulk recipients whose
outcome stayed unknown (no answer from Meta, or a crash mid-call) once the webhooks of later
messages have come: fail them (the default) or resend them, and after how long."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from mindo_cli.durations import DurationError, parse_duration
from mindo_cli.operate import (
    OrgOption,
    command,
    command_group,
    operate,
    operator_settings,
    out,
    required_name,
)
from mindo_core.bulks.unknown_outcomes import UnknownOutcomePolicy, spoken

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

unknown_outcomes_app = command_group(
    "Bulk recipients whose outcome is unknown (Meta did not answer their call): how the "
    "organisation settles them once later messages' webhooks have come."
)

_EXPLAINED = {
    "fail": "failed, with a reason saying why (never a duplicate; perhaps one missed)",
    "resend": "sent once more (never one missed; a duplicate if Meta's webhook is that late)",
}


_SECONDS = re.compile(r"(\d+)\s*s")


def _window(text: str | None) -> timedelta | None:
    """``90m``, ``2h`` as every duration the CLI takes, and seconds too (``30s``)."""
    if text is None:
        return None
    seconds = _SECONDS.fullmatch(text.strip().lower())
    if seconds is not None:
        return timedelta(seconds=int(seconds.group(1)))
    try:
        return parse_duration(text)
    except DurationError as error:
        raise typer.BadParameter(str(error), param_hint="--window") from None


@command(unknown_outcomes_app, "policy")
def unknown_outcomes_policy(
    org: OrgOption,
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="fail (the default) or resend."),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="How long after a later message's first webhook: 10s to 24h (default 10m).",
        ),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Back to the default.")] = False,
) -> None:
    """Show an organisation's unknown-outcome policy, or change it.

    A recipient whose outcome is unknown and whose status webhook has not come, while the first
    webhook of a message sent after it on the same number came a window ago, is settled by the
    policy. Only the options given change; a bad value changes nothing."""
    org = required_name(org, "--org")
    chosen_window = _window(window)

    async def work(services: Services) -> UnknownOutcomePolicy:
        organisation = await services.operator_queries.organisation_named(org)
        settings = services.unknown_outcome_settings
        if reset:
            return await settings.reset(organisation.id)
        if policy is None and chosen_window is None:
            return await settings.policy(organisation.id)
        return await settings.update(organisation.id, action=policy, window=chosen_window)

    chosen = operate(operator_settings(), work)
    shown = out()
    shown.print(f"Unknown-outcome policy of {escape(org)}:")
    shown.print(f"  policy: {chosen.action}: {_EXPLAINED[chosen.action]}")
    shown.print(f"  window: {spoken(chosen.window)} after a later message's first webhook")
