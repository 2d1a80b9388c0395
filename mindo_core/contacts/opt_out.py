"""Opting out by message: what a user writes to stop marketing messages, or to resume them.

A message opts out when, as a whole, it is one of the stop words (``STOP``, ``BAJA``, …), and
back in when it is one of the start words (``START``, ``ALTA``): the defaults, which an
organisation may replace with its own (``OptOutPolicy``); so does a button or reply
whose payload is one (a template's "marketing opt-out" quick-reply carries the payload the
business chose). Case, accents, surrounding spaces and punctuation do not matter ("Baja.",
" stop!"); a sentence that merely contains the word ("no quiero parar") does not count.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from mindo_core.domain.errors import InvalidRequest

OptChange = Literal["opt_out", "opt_in"]

DEFAULT_STOP_WORDS: Final = frozenset({"STOP", "BAJA", "CANCELAR", "PARAR", "SAIR", "UNSUBSCRIBE"})
DEFAULT_START_WORDS: Final = frozenset({"START", "ALTA"})
# Longer than any keyword by far: no need to normalise a long message.
_MAX_KEYWORD_LENGTH: Final = 40
_PUNCTUATION: Final = " \t\r\n.,;:!¡?¿\"'()"


@dataclass(frozen=True, kw_only=True)
class OptOutKeywords:
    stop: frozenset[str] = field(default=DEFAULT_STOP_WORDS)
    start: frozenset[str] = field(default=DEFAULT_START_WORDS)

    def change_for(self, text: str | None, payload: str | None) -> OptChange | None:
        """What the message asks for, if anything; its payload first (a button says exactly
        what it means), then its text."""
        for said in (payload, text):
            word = keyword(said)
            if word in self.stop:
                return "opt_out"
            if word in self.start:
                return "opt_in"
        return None


def keyword(text: str | None) -> str | None:
    """``text`` as a keyword is compared: upper case, no accents, no surrounding punctuation."""
    if text is None or len(text) > _MAX_KEYWORD_LENGTH:
        return None
    stripped = text.strip(_PUNCTUATION)
    decomposed = unicodedata.normalize("NFKD", stripped)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper() or None


# The template categories Meta defines; marketing ones are never sent to someone on the list.
TEMPLATE_CATEGORIES: Final = ("MARKETING", "UTILITY", "AUTHENTICATION")
ALWAYS_SUPPRESSED: Final = "MARKETING"
MAX_WORDS: Final = 50


@dataclass(frozen=True, kw_only=True)
class OptOutPolicy:
    """An organisation's opt-out rules: the words that put a contact on its suppression list and
    take them off, and the template categories the list blocks (marketing always: Meta's policy
    and the reason the list exists; utility and authentication when the organisation says so,
    for a business whose "utility" messages its customers would call promotions)."""

    keywords: OptOutKeywords = field(default_factory=OptOutKeywords)
    suppressed_categories: frozenset[str] = frozenset({ALWAYS_SUPPRESSED})

    def suppresses(self, category: str) -> bool:
        return category.upper() in self.suppressed_categories


def opt_out_policy(
    *, stop: Iterable[str], start: Iterable[str], categories: Iterable[str]
) -> OptOutPolicy:
    """A policy from what an operator typed, checked: each word as ``keyword`` compares it, at
    least one stop word, no word both a stop and a start word, known categories."""
    stop_words = _words(stop, "stop_words")
    start_words = _words(start, "start_words")
    if not stop_words:
        raise InvalidRequest.for_field("stop_words", "At least one stop word is required.")
    both = sorted(stop_words & start_words)
    if both:
        raise InvalidRequest.for_field(
            "start_words", f"{', '.join(both)}: a word cannot both stop and start messages."
        )
    chosen = {category.strip().upper() for category in categories if category.strip()}
    unknown = sorted(chosen - set(TEMPLATE_CATEGORIES))
    if unknown:
        listed = ", ".join(c[:32] for c in unknown[:5])
        raise InvalidRequest.for_field(
            "categories", f"{listed}: not one of {', '.join(TEMPLATE_CATEGORIES)}."
        )
    return OptOutPolicy(
        keywords=OptOutKeywords(stop=stop_words, start=start_words),
        suppressed_categories=frozenset({ALWAYS_SUPPRESSED, *chosen}),
    )


def _words(words: Iterable[str], name: str) -> frozenset[str]:
    given = [word for word in words if word.strip()]
    if len(given) > MAX_WORDS:
        raise InvalidRequest.for_field(name, f"At most {MAX_WORDS} words.")
    compared: set[str] = set()
    for word in given:
        as_keyword = keyword(word)
        if as_keyword is None:
            shown = word[:_MAX_KEYWORD_LENGTH]
            raise InvalidRequest.for_field(
                name, f"{shown!r}: a word has 1 to {_MAX_KEYWORD_LENGTH} characters."
            )
        compared.add(as_keyword)
    return frozenset(compared)
