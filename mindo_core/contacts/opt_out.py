"""Opting out by message: what a user writes to stop marketing messages, or to resume them.

A message opts out when, as a whole, it is one of the stop words (``STOP``, ``BAJA``, …), and
back in when it is one of the start words (``START``, ``ALTA``); so does a button or reply
whose payload is one (a template's "marketing opt-out" quick-reply carries the payload the
business chose). Case, accents, surrounding spaces and punctuation do not matter ("Baja.",
" stop!"); a sentence that merely contains the word ("no quiero parar") does not count.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Final, Literal

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
