"""`mindo orgs update` sets the business profile; bad values change nothing and exit non-zero."""

from __future__ import annotations

import pytest

from .conftest import Mindo


def test_the_profile_is_set_and_shown(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")
    said = mindo.ok(
        "orgs",
        "update",
        "Acme",
        "--email",
        "hola@acme.com",
        "--timezone",
        "America/Argentina/Buenos_Aires",
        "--size",
        "medium",
        "--type",
        "clinic",
    )
    assert "hola@acme.com" in said
    assert "MEDIUM" in said
    assert "CLINIC" in said


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--timezone", "Mars/Olympus", "IANA"),
        ("--size", "HUGE", "MICRO"),
        ("--type", "BAKERY", "ECOMMERCE"),
        ("--unknown-policy", "retry", "fail or resend"),
        ("--unknown-window", "5000", "1 to 1440"),
        ("--unknown-window", "1441", "1 to 1440"),
    ],
)
def test_bad_values_are_refused_with_a_reason_and_change_nothing(
    mindo: Mindo, option: str, value: str, reason: str
) -> None:
    mindo.ok("orgs", "create", "Acme")
    assert reason in mindo.fails("orgs", "update", "Acme", option, value)
    assert value not in mindo.ok("orgs", "update", "Acme")


def test_an_unknown_organisation_is_refused(mindo: Mindo) -> None:
    assert "Nobody" in mindo.fails("orgs", "update", "Nobody", "--email", "x@y.z")


def test_the_quality_guard_is_set_shown_and_checked_before_anything_changes(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")
    assert "quality guard: pause" in mindo.ok("orgs", "update", "Acme")

    assert "quality guard: continue" in mindo.ok(
        "orgs", "update", "Acme", "--quality-guard", "CONTINUE"
    )
    refused = mindo.fails(
        "orgs", "update", "Acme", "--quality-guard", "maybe", "--email", "x@acme.com", exit_code=2
    )

    assert "pause or continue" in refused
    after = mindo.ok("orgs", "update", "Acme")
    assert "quality guard: continue" in after
    assert "x@acme.com" not in after


def test_the_unknown_outcome_settings_are_set_and_shown(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")
    assert "unknown_outcome_policy: fail" in mindo.ok("orgs", "update", "Acme")
    said = mindo.ok(
        "orgs", "update", "Acme", "--unknown-policy", "RESEND", "--unknown-window", "15"
    )
    assert "unknown_outcome_policy: resend" in said
    assert "unknown_outcome_window_minutes: 15" in said
    # Kept when other things change.
    assert "unknown_outcome_window_minutes: 15" in mindo.ok("orgs", "update", "Acme")
