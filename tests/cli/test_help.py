"""`--help` on every operator command says what it does."""

from __future__ import annotations

import pytest

from .conftest import Mindo


@pytest.mark.parametrize(
    ("command", "explanation"),
    [
        (
            "orgs create",
            "Create an organisation: a tenant that owns WhatsApp accounts and API keys",
        ),
        ("keys create", "Issue an API key for an organisation and print it, once"),
        ("keys create", "Lifetime: a number and m, h, d or w (90m, 12h, 30d, 1w)"),
        ("keys list", "Only the prefix of each key is shown"),
        ("keys revoke", "Revoke an API key at once"),
        ("accounts connect", "Reads the account's phone numbers and all its templates from Meta"),
        ("accounts connect", "env var: MINDO_META_ACCESS_TOKEN"),
        ("templates sync", "Refresh templates from Meta: every page of every connected account"),
        ("templates list", "List the templates Mindo knows for an organisation"),
        ("orgs list", "List every organisation, with its contact e-mail"),
        ("accounts list", "List the connected WhatsApp Business Accounts and their phone numbers"),
        ("orgs", "Organisations: the tenants that own WhatsApp accounts and API keys"),
        ("keys", "create"),
        ("accounts", "connect"),
        ("templates", "sync"),
    ],
)
def test_help_explains_the_command(mindo: Mindo, command: str, explanation: str) -> None:
    assert explanation in mindo.ok(*command.split(), "--help")
