"""`mindo callbacks add | list | remove`: an organisation's status-callback endpoints, managed
by an operator through the same use cases as the API."""

from __future__ import annotations

import re

from .conftest import Mindo


def test_an_endpoint_added_shows_its_secret_once_and_is_listed_until_removed(
    mindo: Mindo,
) -> None:
    mindo.ok("orgs", "create", "Acme")

    added = mindo.ok(
        "callbacks",
        "add",
        "--org",
        "Acme",
        "--url",
        "https://hooks.example.com/m",
        "--event",
        "message.read",
        "--event",
        "message.failed",
    )
    listed = mindo.ok("callbacks", "list", "--org", "Acme")
    endpoint_id = re.search(r"Endpoint (\d+) of Acme", added)
    assert endpoint_id is not None
    removed = mindo.ok("callbacks", "remove", "--org", "Acme", endpoint_id.group(1))
    empty = mindo.ok("callbacks", "list", "--org", "Acme")

    secret = re.search(r"whsec_[A-Za-z0-9_-]+", added)
    assert secret is not None
    assert "Events: message.failed, message.read" in added
    assert "https://hooks.example.com/m" in listed
    assert secret.group(0) not in listed
    assert f"Endpoint {endpoint_id.group(1)} of Acme removed." in removed
    assert "'Acme' has no callback endpoint." in empty


def test_a_private_url_fails_and_stores_nothing(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    said = mindo.fails("callbacks", "add", "--org", "Acme", "--url", "http://10.0.0.1/hook")

    assert "private" in said
    assert "no callback endpoint" in mindo.ok("callbacks", "list", "--org", "Acme")


def test_removing_an_unknown_endpoint_fails_and_says_so(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    assert "not found" in mindo.fails("callbacks", "remove", "--org", "Acme", "999")
