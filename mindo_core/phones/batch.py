"""Many plain numbers at once: which of a bulk's numbers ``e164.to_e164``'s shortcut takes.

A bulk send normalises up to 100,000 numbers. ``phonenumbers.parse`` costs tens of
microseconds, so a number typed as plain digits takes a shortcut that gives exactly what
``phonenumbers.parse("+" + digits)`` gives whenever that parse would keep the digits after the
country code unchanged (no national prefix to strip, no leading zero); every other number is
parsed by ``phonenumbers`` itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from itertools import accumulate, repeat
from operator import itemgetter

from phonenumbers import ValidationResult

from mindo_core.phones.e164 import (
    CODE_OF_START,
    MAX_DIGITS,
    MAX_NATIONAL_DIGITS,
    MIN_DIGITS,
    MIN_NATIONAL_DIGITS,
    PLAIN_DIGITS,
    Country,
    country_of_code,
)

__all__ = ["shortcut_e164s"]


def shortcut_e164s(raws: Sequence[str]) -> list[str | None]:
    """``to_e164(raw)`` for each number of ``raws`` that ``to_e164``'s shortcut takes, else None.

    The shortcut takes plain digits, perhaps after a "+" (``"+5491112345678"``,
    ``"5491112345678"``), that are a possible number as typed and that parsing would keep
    unchanged. A None says nothing about the number: ``to_e164`` has to normalise or refuse
    it. (A number with whitespace around it is left to ``to_e164`` too.)

    For a bulk's 100,000 numbers, where ``to_e164`` costs ~1.6 µs each: every step here is a
    loop in C over the whole list, and a regex pass over the numbers joined line by line (one
    per country code) finds every one the shortcut would not take (``_not_taken_pattern``).
    """
    if not raws:
        return []
    try:
        digits = list(map(str.removeprefix, raws, repeat("+")))
    except TypeError:  # not text: to_e164 says what it says about it
        return [None] * len(raws)
    joined = "".join(digits)
    lengths = list(map(len, digits))
    if not (
        joined.isascii()
        and joined.encode("ascii").isdigit()  # str.isdigit is slower: it knows all of Unicode
        and min(lengths, default=MIN_DIGITS) >= MIN_DIGITS
        and max(lengths, default=MAX_DIGITS) <= MAX_DIGITS
    ):
        # Some are not plain (formatted, or not numbers at all): only the plain ones are read.
        plain = [position for position, d in enumerate(digits) if PLAIN_DIGITS.fullmatch(d)]
        found = shortcut_e164s([raws[position] for position in plain])
        e164s: list[str | None] = [None] * len(raws)
        for position, e164 in zip(plain, found, strict=True):
            e164s[position] = e164
        return e164s
    # Every one is plain. When every one has its "+", each is its own E.164 form.
    with_plus = len(joined) + len(raws) == sum(map(len, raws))
    e164s = list(raws) if with_plus else ["+" + d for d in digits]
    for position in _not_taken(digits):
        e164s[position] = None
    return e164s


# -- many plain numbers at once -------------------------------------------------------------------
#
# ``_shortcut`` takes ``digits`` exactly when: its first 3 digits start a country code whose
# metadata exists; the national number (what follows the code) has a length the country calls
# possible; and ``Country.keeps`` it: it has 2 digits or more, does not start with 0, and the
# country's national prefix pattern (if any) does not match a non-empty start of it (nor an empty
# one that sets a group, for a country whose prefix rule rewrites). In a text of such digit
# strings, one per line, ``_not_taken_pattern(code)`` matches (after the "\n" that starts its
# line) every line of country ``code`` that the shortcut does NOT take, and every line of another
# code; a line it does not match, the shortcut takes.
#
# Embedding a national prefix pattern P is exact when P reads nothing but the characters it
# consumes: no anchors, lookarounds, back-references or inline flags (``_embeddable``, checked
# on P's text; the few countries whose P fails it have every line matched, so that ``to_e164``
# decides each one). Then at a line's start the regex engine tries P's paths in the same order
# as ``P.match(national)`` does, and each path that succeeds on the national alone succeeds in
# the joined text too. So P's first match on the national, if not empty, is found (the
# lookbehind only refuses a match that consumed nothing: its last characters would be the
# line's own "\n" and code). A path may also run past the end of the line, into the next one:
# such a match is non-empty and means "not taken" for every line it touches; at worst it sends
# a number the shortcut takes to ``to_e164``, which gives the same answer. An empty match of P
# reads nothing, so whether one exists and which groups it sets is the same for every input:
# ``P.match("")`` tells, once per country.


def _not_taken(digits: Sequence[str]) -> list[int]:
    """The positions in ``digits`` (each 7 to 15 ASCII digits) the shortcut does not take.

    The regex is built for one country code, the first number's (a bulk's numbers are mostly of
    one country); it matches the lines of any other code, which are read again with their own.
    """
    code = CODE_OF_START.get(digits[0][:3])
    matched = _matched_lines(digits, _not_taken_pattern(code))
    others: dict[int | None, list[int]] = {}
    for line in matched:
        other = CODE_OF_START.get(digits[line][:3])
        if other != code:
            others.setdefault(other, []).append(line)
    if not others:
        return matched
    not_taken = set(matched)
    for other, lines in others.items():
        if other is not None:  # a number that starts with no country code is never taken
            own = _matched_lines([digits[line] for line in lines], _not_taken_pattern(other))
            not_taken.difference_update(lines)
            not_taken.update(lines[position] for position in own)
    return sorted(not_taken)


def _matched_lines(digits: Sequence[str], pattern: re.Pattern[str]) -> list[int]:
    """The positions of the lines of ``digits`` that ``pattern`` matches at their "\\n"."""
    text = "\n" + "\n".join(digits) + "\n"
    matches = [found.span() for found in pattern.finditer(text)]
    if not matches:
        return []
    # Line i runs from its "\\n" at starts[i] to the next line's. A match marks every line it
    # touches: one that ran into the next line hid that line's start from finditer.
    starts = list(accumulate((len(d) + 1 for d in digits), initial=0))
    line_at = dict(zip(starts, range(len(starts)), strict=True))
    marked = []
    for start, end in matches:
        line = line_at[start]
        marked.append(line)
        while line + 1 < len(digits) and starts[line + 1] < end:
            line += 1
            marked.append(line)
    return [line for line in marked if line < len(digits)]


_FIRST_THREE = itemgetter(slice(0, 3))


@cache  # a pure function of phonenumbers' static metadata: one regex per country code
def _not_taken_pattern(code: int | None) -> re.Pattern[str]:
    """Matches, at a line's "\\n", a line the shortcut does not take (see above), when the
    line's country code is ``code``; and every line of another code."""
    if code is None:
        return re.compile("\n(?=[0-9])")
    return re.compile(f"\n(?:{_country_not_taken(code)}|(?=[0-9])(?!{code}))")


def _country_not_taken(code: int) -> str:
    """The lines of country ``code`` that the shortcut does not take, as a regex."""
    prefix = str(code)
    country = country_of_code(code)
    if country is None:
        return prefix
    lengths = [
        length
        for length in range(MIN_NATIONAL_DIGITS, MAX_NATIONAL_DIGITS + 1)
        if country.possibility[length] == ValidationResult.IS_POSSIBLE
    ]
    if not lengths:
        return prefix
    # Runs of lengths, as "[0-9]{10,11}": cheaper for the regex engine than one per length.
    runs: list[list[int]] = []
    for length in lengths:
        if runs and runs[-1][1] == length - 1:
            runs[-1][1] = length
        else:
            runs.append([length, length])
    possible = "|".join(f"[0-9]{{{low},{high}}}" for low, high in runs)
    not_taken = ["0", f"(?!(?:{possible})\n)"]
    if country.national_prefix is not None:
        if not _embeddable(country):
            return prefix
        not_taken.append(f"(?:{country.national_prefix.pattern})(?<!\n{prefix})")
    return f"{prefix}(?:{'|'.join(not_taken)})"


def _embeddable(country: Country) -> bool:
    """Whether ``country``'s national prefix pattern works the same inside a bigger regex."""
    assert country.national_prefix is not None
    pattern = country.national_prefix.pattern
    if (
        pattern.count("(?") != pattern.count("(?:")
        or any(token in pattern for token in ("^", "$", "\\A", "\\Z", "\\b", "\\B"))
        or re.search(r"\\[0-9]", pattern)
    ):
        return False
    empty = country.national_prefix.match("")
    return empty is None or not country.rewrites or empty.lastindex is None
