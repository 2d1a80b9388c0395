"""Operator commands: `mindo orgs | keys | accounts | templates | suppression |
unknown-outcomes | contacts | callbacks`, one module per group."""

from __future__ import annotations

import typer

from mindo_cli.accounts_commands import accounts_app
from mindo_cli.callbacks_commands import callbacks_app
from mindo_cli.contacts_commands import contacts_app
from mindo_cli.keys_commands import keys_app
from mindo_cli.orgs_commands import orgs_app
from mindo_cli.suppression_commands import suppression_app
from mindo_cli.templates_commands import templates_app
from mindo_cli.unknown_outcomes_commands import unknown_outcomes_app


def register(app: typer.Typer) -> None:
    """Adds the operator commands to the `mindo` application."""
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(keys_app, name="keys")
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(templates_app, name="templates")
    app.add_typer(suppression_app, name="suppression")
    app.add_typer(unknown_outcomes_app, name="unknown-outcomes")
    app.add_typer(contacts_app, name="contacts")
    app.add_typer(callbacks_app, name="callbacks")
