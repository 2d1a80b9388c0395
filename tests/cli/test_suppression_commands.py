"""`mindo suppression list | add | remove`: the organisation's suppression list, managed by an
operator through the same use cases as the API."""

from __future__ import annotations

from .conftest import Mindo


def test_a_phone_added_is_listed_until_removed(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    added = mindo.ok("suppression", "add", "--org", "Acme", "+54 223 15-596-1983")
    listed = mindo.ok("suppression", "list", "--org", "Acme")
    removed = mindo.ok("suppression", "remove", "--org", "Acme", "5492235961983")
    empty = mindo.ok("suppression", "list", "--org", "Acme")

    assert "+5492235961983 is on the suppression list of Acme since" in added
    assert "Suppression list of Acme" in listed
    assert "+5492235961983" in listed
    assert "+5492235961983 is off the suppression list of Acme." in removed
    assert "'Acme' has nobody on its suppression list." in empty


def test_removing_a_phone_not_on_the_list_fails_and_says_so(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    said = mindo.fails("suppression", "remove", "--org", "Acme", "+5492235961983")

    assert "not on the organisation's suppression list" in said


def test_a_phone_that_cannot_be_a_number_fails_and_changes_nothing(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    said = mindo.fails("suppression", "add", "--org", "Acme", "abc")

    assert "abc" in said
    assert "nobody" in mindo.ok("suppression", "list", "--org", "Acme")


def test_an_unknown_organisation_is_an_error(mindo: Mindo) -> None:
    assert "Nobody" in mindo.fails("suppression", "list", "--org", "Nobody")


def test_the_opt_out_policy_is_shown_changed_and_reset(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    default = mindo.ok("suppression", "policy", "--org", "Acme")
    changed = mindo.ok(
        "suppression",
        "policy",
        "--org",
        "Acme",
        "--stop-words",
        "stop, No más, baja",
        "--categories",
        "utility",
    )
    kept = mindo.ok("suppression", "policy", "--org", "Acme", "--start-words", "volver")
    reset = mindo.ok("suppression", "policy", "--org", "Acme", "--reset")

    assert "stop words: BAJA, CANCELAR, PARAR, SAIR, STOP, UNSUBSCRIBE" in default
    assert "templates blocked for those on the list: marketing" in default
    assert "stop words: BAJA, NO MAS, STOP" in changed
    assert "templates blocked for those on the list: marketing, utility" in changed
    assert "stop words: BAJA, NO MAS, STOP" in kept
    assert "start words: VOLVER" in kept
    assert "templates blocked for those on the list: marketing, utility" in kept
    assert reset == default


def test_a_bad_policy_is_refused_and_changes_nothing(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")

    both = mindo.fails("suppression", "policy", "--org", "Acme", "--start-words", "STOP")
    unknown = mindo.fails("suppression", "policy", "--org", "Acme", "--categories", "promos")
    empty = mindo.fails("suppression", "policy", "--org", "Acme", "--stop-words", "")

    assert "STOP: a word cannot both stop and start messages." in both
    assert "PROMOS: not one of MARKETING, UTILITY, AUTHENTICATION." in unknown
    assert "At least one stop word is required." in empty
    assert "stop words: BAJA, CANCELAR, PARAR, SAIR, STOP, UNSUBSCRIBE" in mindo.ok(
        "suppression", "policy", "--org", "Acme"
    )
