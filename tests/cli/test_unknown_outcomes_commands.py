"""`mindo unknown-outcomes policy`: the organisation's unknown-outcome policy, shown, changed
option by option, reset, and refused whole when a value is bad."""

from __future__ import annotations

from .conftest import Mindo


def test_the_policy_is_shown_changed_and_reset(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    default = mindo.ok("unknown-outcomes", "policy", "--org", "Acme")
    changed = mindo.ok(
        "unknown-outcomes", "policy", "--org", "Acme", "--policy", "resend", "--window", "2h"
    )
    kept = mindo.ok("unknown-outcomes", "policy", "--org", "Acme", "--window", "30s")
    reset = mindo.ok("unknown-outcomes", "policy", "--org", "Acme", "--reset")

    assert "policy: fail: failed" in default
    assert "window: 10 min" in default
    assert "policy: resend: sent once more" in changed
    assert "window: 2 h" in changed
    assert "policy: resend" in kept
    assert "window: 30 s" in kept
    assert reset == default


def test_a_bad_policy_or_window_is_refused_whole_and_changes_nothing(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    both = mindo.fails(
        "unknown-outcomes", "policy", "--org", "Acme", "--policy", "retry", "--window", "2d"
    )
    not_a_duration = mindo.fails(
        "unknown-outcomes", "policy", "--org", "Acme", "--window", "30", exit_code=2
    )

    assert "policy: 'retry' is not one of fail, resend" in both
    assert "window: 48 h is outside 10 s to 24 h" in both
    assert "is not a duration" in not_a_duration
    assert "policy: fail" in mindo.ok("unknown-outcomes", "policy", "--org", "Acme")
