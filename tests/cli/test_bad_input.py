"""Bad input gets one clear sentence and a non-zero exit: 2 for a malformed command line (as
every Click program), 1 when Mindo or Meta refuses what was asked."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from .conftest import DEMO_TOKEN, DEMO_WABA, Mindo
from .test_onboarding import connect_demo

WRONG_TOKEN = "EAAG-not-a-real-token-5f1c"


def connect(org: str, waba_id: str, token: str) -> tuple[str, ...]:
    return ("accounts", "connect", "--org", org, "--waba-id", waba_id, "--access-token", token)


@pytest.mark.parametrize(
    "command",
    [
        ("keys", "create", "--org", "Nobody"),
        ("keys", "list", "--org", "Nobody"),
        ("keys", "revoke", "mindo_AbC123", "--org", "Nobody"),
        connect("Nobody", DEMO_WABA, "t"),
        ("templates", "sync", "--org", "Nobody"),
        ("templates", "list", "--org", "Nobody"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_an_unknown_organisation_is_named_in_the_error(
    mindo: Mindo, command: tuple[str, ...]
) -> None:
    assert "error: Organisation 'Nobody' not found" in mindo.fails(*command)


@pytest.mark.parametrize(
    ("expires_in", "problem"),
    [
        ("30x", "'30x' is not a duration: use a whole number and a unit"),
        ("30", "'30' is not a duration"),
        ("1.5d", "'1.5d' is not a duration"),
        ("0d", "it must be longer than zero"),
        ("99999w", "is too long"),
    ],
)
def test_a_bad_expiry_is_refused_with_the_accepted_form(
    mindo: Mindo, expires_in: str, problem: str
) -> None:
    mindo.ok("orgs", "create", "Acme")

    output = mindo.fails("keys", "create", "--org", "Acme", "--expires-in", expires_in, exit_code=2)

    assert "Invalid value for --expires-in" in output
    assert problem in output
    assert "mindo_" not in output  # no key was issued
    assert "mindo_" not in mindo.ok("keys", "list", "--org", "Acme")


@pytest.mark.parametrize(
    ("scope", "problem"),
    [("send,write", "unknown scope 'write': choose from read, send"), (",", "no scope given")],
)
def test_an_unknown_scope_is_refused_with_the_known_ones(
    mindo: Mindo, scope: str, problem: str
) -> None:
    output = mindo.fails("keys", "create", "--org", "Acme", "--scope", scope, exit_code=2)

    assert f"Invalid value for --scope: {problem}" in output


def test_a_token_meta_refuses_is_explained_and_stores_nothing(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    output = mindo.fails(*connect("Acme", DEMO_WABA, WRONG_TOKEN))

    assert "error: Meta refused the access token: (#190) Invalid OAuth access token" in output
    assert "invalid or has expired: create a new one" in output
    assert "Nothing was stored." in output
    assert WRONG_TOKEN not in output
    assert "'Acme' has no connected account" in mindo.ok("templates", "list", "--org", "Acme")


def test_an_id_meta_does_not_know_is_explained(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    output = mindo.fails(*connect("Acme", "813497231850626x", DEMO_TOKEN))

    assert "Meta did not accept WhatsApp Business Account 813497231850626x" in output
    assert "it is the WhatsApp Business Account id, not a phone number id" in output


def test_an_unreachable_meta_is_named_with_its_address(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        offline = replace(mindo, env={**mindo.env, "MINDO_META_BASE_URL": url})

        output = offline.fails(*connect("Acme", DEMO_WABA, DEMO_TOKEN))

    assert f"error: Could not reach Meta at {url}" in output
    assert "Nothing was stored." in output


def test_an_account_of_another_organisation_is_not_taken_over(mindo: Mindo) -> None:
    connect_demo(mindo, "Acme")
    mindo.ok("orgs", "create", "Intruder")

    output = mindo.fails(*connect("Intruder", DEMO_WABA, DEMO_TOKEN))

    assert f"error: WhatsApp Business Account '{DEMO_WABA}' belongs to another organisation" in (
        output
    )
    assert "Acme" in mindo.ok("templates", "sync")
    assert "no connected account" in mindo.ok("templates", "list", "--org", "Intruder")


def test_an_organisation_name_is_unique(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    assert "error: Organisation 'Acme' already exists" in mindo.fails("orgs", "create", "Acme")


def test_a_blank_name_is_refused(mindo: Mindo) -> None:
    assert "Invalid value for NAME: must not be empty" in mindo.fails(
        "orgs", "create", "  ", exit_code=2
    )


def test_without_a_secret_key_nothing_runs_and_the_fix_is_named(mindo: Mindo) -> None:
    keyless = replace(mindo, env={**mindo.env, "MINDO_SECRET_KEY": None})

    output = keyless.fails("orgs", "create", "Acme")

    assert "MINDO_SECRET_KEY: is required" in output
    assert "mindo secret-key" in output


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("mindo_", "expected the 12-character prefix that `mindo keys list` shows"),
        ("mindo_AbC12", "expected the 12-character prefix"),
        ("AbC123", "expected the 12-character prefix"),
        ("mindo_zzzzzz", "No key mindo_zzzzzz in any organisation with a connected account"),
    ],
)
def test_a_key_to_revoke_must_be_named_exactly(mindo: Mindo, text: str, problem: str) -> None:
    connect_demo(mindo)
    mindo.ok("keys", "create", "--org", "Acme")

    assert problem in mindo.fails("keys", "revoke", text)
    assert "active" in mindo.ok("keys", "list", "--org", "Acme")


def test_a_key_outside_the_searched_organisations_points_to_org(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "NoAccount")
    output = mindo.ok("keys", "create", "--org", "NoAccount")
    prefix = output.split("shows it as ")[1][:12]

    assert "(for another one, add --org NAME)" in mindo.fails("keys", "revoke", prefix)
    assert "Revoked" in mindo.ok("keys", "revoke", prefix, "--org", "NoAccount")
