"""`mindo orgs list` and `mindo accounts list`: what an operator has set up, at a glance."""

from __future__ import annotations

from .conftest import DEMO_WABA, Mindo
from .test_onboarding import connect_demo


def test_no_organisation_yet_says_how_to_create_one(mindo: Mindo) -> None:
    assert "No organisation yet. Create one: mindo orgs create NAME" in mindo.ok("orgs", "list")


def test_organisations_are_listed_with_their_accounts(mindo: Mindo) -> None:
    connect_demo(mindo)
    mindo.ok("orgs", "create", "Idle")
    mindo.ok("orgs", "update", "Idle", "--email", "idle@example.com")

    listed = mindo.ok("orgs", "list")

    assert "Organisations (2)" in listed
    assert "Acme - 1" in listed
    assert "Idle idle@example.com 0" in listed


def test_accounts_are_listed_with_their_numbers_in_the_api_s_tier_spelling(
    mindo: Mindo,
) -> None:
    connect_demo(mindo)
    mindo.ok("orgs", "create", "Idle")

    everyone = mindo.ok("accounts", "list")
    idle = mindo.ok("accounts", "list", "--org", "Idle")

    assert f"Acme: WABA {DEMO_WABA}" in everyone
    assert "813497231850626 +54 9 223 675-0780 Mindo Demo GREEN TIER_2000 STANDARD" in everyone
    assert "'Idle' has no connected account. Connect one:" in idle


def test_accounts_of_an_unknown_organisation_is_an_error(mindo: Mindo) -> None:
    assert "Nobody" in mindo.fails("accounts", "list", "--org", "Nobody")
