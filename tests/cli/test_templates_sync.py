"""`mindo templates sync`: what was created or changed at Meta becomes what Mindo knows."""

from __future__ import annotations

import socket
from dataclasses import replace

from .background_sandbox import BackgroundSandbox
from .conftest import DEMO_WABA, Mindo
from .test_onboarding import connect_demo

SPRING_SALE = {
    "name": "spring_sale",
    "language": "es",
    "status": "APPROVED",
    "category": "MARKETING",
    "components": [{"type": "BODY", "text": "Hola {{1}}, hoy 20% menos.", "example": {}}],
}


def test_a_template_created_at_meta_appears_after_sync(
    mindo: Mindo, sandbox: BackgroundSandbox
) -> None:
    connect_demo(mindo)
    known = len(sandbox.config.wabas[0].templates)
    assert "spring_sale" not in mindo.ok("templates", "list", "--org", "Acme")
    sandbox.add_template(DEMO_WABA, SPRING_SALE)

    synced = mindo.ok("templates", "sync", "--org", "Acme")

    assert f"Acme {DEMO_WABA} {known + 1} (" in synced
    assert "spring_sale (es)" in synced  # the "New" column
    assert "Next: see them with: mindo templates list --org Acme" in synced
    listed = mindo.ok("templates", "list", "--org", "Acme")
    assert "spring_sale es APPROVED MARKETING" in listed


def test_a_status_changed_at_meta_is_refreshed_by_sync(
    mindo: Mindo, sandbox: BackgroundSandbox
) -> None:
    connect_demo(mindo)
    assert "welcome_message es APPROVED" in mindo.ok("templates", "list", "--org", "Acme")
    sandbox.add_template(
        DEMO_WABA, {"name": "welcome_message", "language": "es", "status": "PAUSED"}
    )

    synced = mindo.ok("templates", "sync")

    assert "welcome_message" not in synced  # changed, not new
    assert "welcome_message es PAUSED" in mindo.ok("templates", "list", "--org", "Acme")


def test_sync_without_an_organisation_refreshes_every_connected_account(mindo: Mindo) -> None:
    connect_demo(mindo, "Acme")
    mindo.ok("orgs", "create", "Idle")

    synced = mindo.ok("templates", "sync")

    assert f"Acme {DEMO_WABA}" in synced
    assert "Idle" not in synced


def test_sync_with_no_connected_account_says_how_to_connect_one(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Idle")

    for args in (("templates", "sync", "--org", "Idle"), ("templates", "sync")):
        output = mindo.ok(*args)
        assert "no connected account, so there is nothing to sync" in output
        assert "mindo accounts connect --org" in output


def test_an_account_meta_cannot_be_reached_for_is_reported_and_kept_as_it_was(
    mindo: Mindo,
) -> None:
    connect_demo(mindo)
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        offline = replace(mindo, env={**mindo.env, "MINDO_META_BASE_URL": url})

        output = offline.fails("templates", "sync")

    assert f"Acme {DEMO_WABA} failed" in output
    assert f"error: {DEMO_WABA}: Could not reach Meta at {url}" in output
    assert "Kept as was." in output
    assert "welcome_message es APPROVED" in mindo.ok("templates", "list", "--org", "Acme")
