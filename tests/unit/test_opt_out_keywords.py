"""Which messages opt a contact out of marketing messages, or back in."""

from __future__ import annotations

import pytest

from mindo_core.contacts.opt_out import OptOutKeywords

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
