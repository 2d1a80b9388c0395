"""Which messages opt a contact out of marketing messages, or back in."""

from __future__ import annotations

import pytest

from mindo_core.contacts.opt_out import OptOutKeywords, opt_out_policy
from mindo_core.domain.errors import InvalidRequest

KEYWORDS = OptOutKeywords()


@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Stop! ", "Baja.", "baja", "CANCELAR", "parar", "Sair", "unsubscribe"]
)
def test_a_stop_word_alone_opts_out(text: str) -> None:
    assert KEYWORDS.change_for(text, None) == "opt_out"


@pytest.mark.parametrize("text", ["START", "alta", "¡Alta!", "Álta"])
def test_a_start_word_alone_opts_back_in(text: str) -> None:
    assert KEYWORDS.change_for(text, None) == "opt_in"


@pytest.mark.parametrize(
    "text", [None, "", "Hola", "no quiero parar", "stop it please", "STOPPED", "x" * 5000]
)
def test_anything_else_changes_nothing(text: str | None) -> None:
    assert KEYWORDS.change_for(text, None) is None


def test_a_button_payload_counts_before_its_text() -> None:
    assert KEYWORDS.change_for("No más promociones", "STOP") == "opt_out"
    assert KEYWORDS.change_for("Quiero volver", "ALTA") == "opt_in"
    assert KEYWORDS.change_for("STOP", "promo-1") == "opt_out"


def test_an_organisation_may_use_its_own_words() -> None:
    own = OptOutKeywords(stop=frozenset({"NO MAS"}), start=frozenset({"VOLVER"}))
    assert own.change_for("no mas", None) == "opt_out"
    assert own.change_for("STOP", None) is None


# An organisation's own policy, as an operator types it.


def test_a_policy_keeps_words_as_they_are_compared_and_always_blocks_marketing() -> None:
    policy = opt_out_policy(stop=["  No más!", "stop"], start=["Volver"], categories=["utility"])

    assert policy.keywords.stop == {"NO MAS", "STOP"}
    assert policy.keywords.start == {"VOLVER"}
    assert policy.suppressed_categories == {"MARKETING", "UTILITY"}
    assert policy.suppresses("utility")
    assert not policy.suppresses("AUTHENTICATION")
    assert policy.keywords.change_for("no mas", None) == "opt_out"


@pytest.mark.parametrize(
    ("stop", "start", "categories", "field", "why"),
    [
        ([], ["START"], [], "stop_words", "At least one stop word is required."),
        (["STOP"], ["stop."], [], "start_words", "STOP: a word cannot both stop and start"),
        (["STOP"], [], ["promos"], "categories", "PROMOS: not one of MARKETING, UTILITY"),
        (["x" * 41], [], [], "stop_words", "a word has 1 to 40 characters"),
        (["!!!"], [], [], "stop_words", "a word has 1 to 40 characters"),
        ([f"W{n}" for n in range(51)], [], [], "stop_words", "At most 50 words."),
    ],
)
def test_a_policy_that_cannot_work_is_refused_on_its_field(
    stop: list[str], start: list[str], categories: list[str], field: str, why: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        opt_out_policy(stop=stop, start=start, categories=categories)

    assert list(refused.value.field_errors) == [field]
    assert why in refused.value.field_errors[field][0]
