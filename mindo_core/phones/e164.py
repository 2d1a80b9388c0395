"""Phone numbers: what a client types, turned into the E.164 form and the ``wa_id`` Meta uses.

Accepted input: an international number with or without the leading ``+``, optionally
separated by spaces, dashes, dots and parentheses (``"+54 223 15-596-1983"``). Leading and
trailing whitespace is ignored. A number without ``+`` is read as international first. With a
``default_region`` it may also be a national number of that region: the international reading
wins when it is an allocated number (``phonenumbers.is_valid_number``), else a possible national
reading, else a possible international one.

What "a number" means (the lead's decision): a number is accepted when it parses, has a known
country code and has the right number of digits for its country
(``phonenumbers.is_possible_number_with_reason`` says ``IS_POSSIBLE``). It is NOT required to lie
in a range the country has allocated (``is_valid_number``): phonenumbers' allocation metadata
lags real numbering plans (the documented bulk example's ``+5491199887766`` is a real Argentine
mobile that it calls invalid), and Meta itself accepts any number and fails it asynchronously
(131026) when it is not on WhatsApp. Refusing real customers' numbers on stale metadata is worse
than a delivery failure Mindo reports anyway. So the decision only widens what is accepted: an
allocated number still is, even where phonenumbers judges lengths by another region sharing the
country code (Canada's 7-digit ``+1 310`` numbers). Refused: a number only possible locally (it
lacks its area code, ``IS_POSSIBLE_LOCAL_ONLY``), and one whose E.164 form would read as another
number (a national prefix left after the country code, ``+55 0 11 …``), so that normalising the
result again always gives the result.

Country quirks, because WhatsApp's ``wa_id`` is not always what the national plan says:

* Argentina: WhatsApp addresses mobiles as ``54 9 <area> <number>``. The national "15" form
  (``+54 223 15 596-1983``) and the mixed "9 … 15" form become ``+5492235961983``. A number
  without the 9 is kept as it is: ``phonenumbers`` classes those as fixed lines, and a landline
  can hold a WhatsApp Business account, so adding the 9 would guess.
* Mexico: the old mobile form ``+52 1 <10 digits>`` (still seen in inbound ``wa_id``\\ s) is
  normalised to ``+52 <10 digits>``, which Meta accepts and the numbering plan says is valid.

Every refusal is an ``InvalidPhoneNumber`` whose message says why.

Speed: a number typed as plain digits takes a shortcut (``_shortcut``) that gives exactly what
``phonenumbers.parse`` would, without its tens of microseconds; ``batch`` asks the shortcut's
questions of a bulk's numbers all at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    ValidationResult,
)

from mindo_core.domain.errors import InvalidPhoneNumber

__all__ = ["NormalizedPhone", "dedup_key", "normalize_phone", "to_e164"]

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
# What most clients send: the number as digits, perhaps with its "+". Checked in one regex.
_PLAIN_NUMBER = re.compile(r"\+?([0-9]{7,15})")
# The same digits once a leading "+" is removed, in a text with nothing around it.
PLAIN_DIGITS = re.compile(r"[0-9]{7,15}")
# E.164 allows 15 digits; a raw string far longer than any formatted number is garbage.
_MAX_RAW_LENGTH = 64
MAX_DIGITS = 15
MIN_DIGITS = 7
_SEPARATORS = frozenset(" -.()")
_ARGENTINA = 54
_MEXICO = 52
# phonenumbers' bounds on a national significant number.
MIN_NATIONAL_DIGITS = 2
MAX_NATIONAL_DIGITS = 17


def _codes_by_start() -> Mapping[str, int]:
    """Each 3-digit start of a number, mapped to the country code it begins with, if any.

    Country codes have 1 to 3 digits and none is the start of another, so a number's first 3
    digits tell its code: one lookup instead of phonenumbers' three.
    """
    codes = {}
    for start in map(str, range(100, 1000)):
        for size in (1, 2, 3):
            if int(start[:size]) in COUNTRY_CODE_TO_REGION_CODE:
                codes[start] = int(start[:size])
                break
    return MappingProxyType(codes)


CODE_OF_START = _codes_by_start()


@dataclass(frozen=True, kw_only=True, slots=True)
class NormalizedPhone:
    """A number Mindo can send to: ``e164`` ("+5491112345678"), ``wa_id`` ("5491112345678")."""

    e164: str
    wa_id: str

    @property
    def region(self) -> str | None:
        """ISO 3166 region ("AR"), "001" for non-geographic numbers, None when unknown.

        Worked out when asked (nothing but display needs it, and for countries sharing a code,
        like +1, it takes phonenumbers a pattern match per region).
        """
        return phonenumbers.region_code_for_number(phonenumbers.parse(self.e164, None))


def normalize_phone(
    raw: str, *, default_region: str | None = None, field: str = "recipient_phone"
) -> NormalizedPhone:
    """Normalise ``raw`` or raise ``InvalidPhoneNumber`` (its ``field_errors`` key is ``field``)."""
    e164 = to_e164(raw, default_region=default_region, field=field)
    return NormalizedPhone(e164=e164, wa_id=e164[1:])


def to_e164(raw: str, *, default_region: str | None = None, field: str = "recipient_phone") -> str:
    """``normalize_phone(raw).e164``, without building the value (bulk sends check 100,000)."""
    text = raw.strip()
    plain = _PLAIN_NUMBER.fullmatch(text)
    if plain is not None and (default_region is None or text[0] == "+"):
        e164 = _shortcut(plain[1])
        if e164 is not None:
            return e164
    digits = plain[1] if plain else _check_characters(raw, text, field)
    e164 = _parse(raw, text, digits, default_region, field).e164
    if not E164_PATTERN.fullmatch(e164):
        raise _invalid(raw, field, f"{e164} is not an E.164 number (7 to 15 digits)")
    return e164


def dedup_key(phone: NormalizedPhone) -> str:
    """The key two recipients share exactly when WhatsApp would deliver to the same account."""
    return phone.wa_id


# -- characters -----------------------------------------------------------------------------------


def _check_characters(raw: str, text: str, field: str) -> str:
    """Return the digits of ``text`` after refusing anything that is not part of a number."""
    if not text:
        raise _invalid(raw, field, "it is empty")
    if len(text) > _MAX_RAW_LENGTH:
        raise _invalid(raw, field, f"it is too long ({len(text)} characters)")
    for position, char in enumerate(text):
        problem = _character_problem(char, position)
        if problem:
            raise _invalid(raw, field, problem)
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) < MIN_DIGITS:
        raise _invalid(raw, field, f"it is too short ({len(digits)} digits, at least 7)")
    if len(digits) > MAX_DIGITS:
        raise _invalid(raw, field, f"it is too long ({len(digits)} digits, E.164 allows 15)")
    return digits


def _character_problem(char: str, position: int) -> str | None:
    if char in "0123456789" or char in _SEPARATORS:
        return None
    if char == "+":
        return None if position == 0 else "'+' is only allowed at the start"
    if unicodedata.category(char).startswith("C"):
        return f"it contains a control character ({char!r})"
    if unicodedata.category(char) == "Zs":
        return None  # a no-break space pasted from a document is still a separator
    if char.isalpha():
        return "it contains letters; use digits only"
    return f"it contains {char!r}, which is not a digit 0-9, space, dash, dot or parenthesis"


# -- countries ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Country:
    """What parsing and the length check need of one country code's metadata."""

    code: int
    prefix: str  # the code as digits
    # phonenumbers' national_prefix_for_parsing, and whether a match may rewrite the number.
    national_prefix: re.Pattern[str] | None
    rewrites: bool
    # ``is_possible_number_with_reason`` depends only on the national number's length: its
    # answer for every length phonenumbers can parse, asked once.
    possibility: tuple[int, ...]

    def keeps(self, national: str) -> bool:
        """Whether ``phonenumbers.parse`` keeps ``national`` (what follows the code) unchanged."""
        if len(national) < MIN_NATIONAL_DIGITS or national[0] == "0":
            return False  # too short, or an Italian-style leading zero: phonenumbers decides
        if self.national_prefix is None:
            return True
        found = self.national_prefix.match(national)
        if found is None:
            return True
        # An empty match strips nothing, and rewrites nothing unless one of its groups matched.
        return found.end() == 0 and (not self.rewrites or found.lastindex is None)


@cache  # a pure function of phonenumbers' static metadata, which it too loads lazily
def country_of_code(code: int) -> Country | None:
    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    # Index 0 is never read: a national number has at least 2 digits.
    possibility = tuple(
        phonenumbers.is_possible_number_with_reason(
            PhoneNumber(country_code=code, national_number=int("1" * max(length, 1)))
        )
        for length in range(MAX_NATIONAL_DIGITS + 1)
    )
    return Country(
        code=code,
        prefix=str(code),
        national_prefix=re.compile(prefix) if prefix else None,
        rewrites=bool(metadata.national_prefix_transform_rule),
        possibility=possibility,
    )


# -- parsing --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _Number:
    """A parsed number: its country and its national significant number, leading zeros kept."""

    country: Country
    national: str
    # Read back from its E.164 form it is itself (the shortcut's numbers are, by construction).
    stable: bool = False

    @property
    def e164(self) -> str:
        return f"+{self.country.prefix}{self.national}"

    @property
    def possibility(self) -> int:
        """A ``phonenumbers.ValidationResult``."""
        return self.country.possibility[len(self.national)]

    @property
    def is_possible(self) -> bool:
        return self.possibility == ValidationResult.IS_POSSIBLE


def _parse(raw: str, text: str, digits: str, default_region: str | None, field: str) -> _Number:
    international = _international(digits)
    if text.startswith("+") or default_region is None:
        # Without "+" the digits are still read as international: say so, it is the usual slip.
        hint = "" if text.startswith("+") else f" (read as +{digits}: start with the country code)"
        if international is None:
            raise _invalid(raw, field, f"it has no valid country code{hint}")
        return _possible(raw, _with_country_quirks(international), field, hint)
    return _international_or_national(raw, digits, international, default_region.upper(), field)


def _international_or_national(
    raw: str, digits: str, international: _Number | None, region: str, field: str
) -> _Number:
    as_international = None if international is None else _with_country_quirks(international)
    parsed = _parse_or_none(digits, region)
    national = None if parsed is None else _from_phonenumbers(parsed)
    as_national = None if national is None else _with_country_quirks(national)
    allocated = as_international if as_international and _is_allocated(as_international) else None
    for candidate in (allocated, as_national, as_international):
        if candidate is not None and _acceptable(candidate) and _reads_as_itself(candidate):
            return candidate
    if as_national is None:
        raise _invalid(raw, field, f"it is not a number of region {region}")
    return _possible(raw, as_national, field, "")


def _shortcut(digits: str) -> str | None:
    """``+digits`` when the number is possible as typed and parsing would not change it."""
    code = _country_code(digits)
    country = None if code is None else country_of_code(code)
    if country is None:
        return None
    national = digits[len(country.prefix) :]
    if country.possibility[len(national)] != ValidationResult.IS_POSSIBLE:
        return None
    return "+" + digits if country.keeps(national) else None


def _international(digits: str) -> _Number | None:
    """What ``phonenumbers.parse("+" + digits)`` gives, or None where it raises."""
    code = _country_code(digits)
    country = None if code is None else country_of_code(code)
    if country is not None:
        national = digits[len(country.prefix) :]
        if country.keeps(national):
            return _Number(country=country, national=national, stable=True)
    parsed = _parse_or_none("+" + digits, None)
    return None if parsed is None else _from_phonenumbers(parsed)


def _country_code(digits: str) -> int | None:
    """The country code ``digits`` start with, as phonenumbers finds it."""
    return CODE_OF_START.get(digits[:3])


def _parse_or_none(text: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _from_phonenumbers(number: PhoneNumber) -> _Number | None:
    country = country_of_code(number.country_code or 0)
    if country is None:
        return None
    return _Number(country=country, national=phonenumbers.national_significant_number(number))


def _with_country_quirks(number: _Number) -> _Number:
    # Only Argentina and Mexico have quirks; each has one region, where an allocated number
    # always has a possible length, so "possible" is the whole test here.
    if number.is_possible:
        return number
    national = number.national.lstrip("0")
    code = number.country.code
    if code == _MEXICO and len(national) == 11 and national.startswith("1"):
        return _reparsed(number, f"52{national[1:]}")
    if code == _ARGENTINA and national.startswith("9"):
        # "+54 9 223 15 596-1983": the 9 and the national 15 together; the 15 alone is enough.
        return _reparsed(number, f"54{national[1:]}")
    return number


def _reparsed(original: _Number, digits: str) -> _Number:
    candidate = _international(digits)
    return candidate if candidate is not None and candidate.is_possible else original


def _acceptable(number: _Number) -> bool:
    # An allocated number is always accepted, even the rare one whose length phonenumbers judges
    # by another region sharing its country code (Canada's 7-digit +1 310 numbers).
    return number.is_possible or _is_allocated(number)


def _is_allocated(number: _Number) -> bool:
    parsed = _parse_or_none(number.e164, None)
    return parsed is not None and bool(phonenumbers.is_valid_number(parsed))


# -- refusals -------------------------------------------------------------------------------------

_POSSIBILITY_PROBLEMS = {
    ValidationResult.INVALID_COUNTRY_CODE: "its country code does not exist",
    ValidationResult.TOO_SHORT: "it is too short for its country",
    ValidationResult.TOO_LONG: "it is too long for its country",
    ValidationResult.INVALID_LENGTH: "it has the wrong number of digits for its country",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: (
        "it is too short for its country: a local number, without its area code"
    ),
}


def _possible(raw: str, number: _Number, field: str, hint: str) -> _Number:
    if _acceptable(number):
        return _stable(raw, number, field)
    parsed = _parse_or_none(number.e164, None)
    region = (parsed and phonenumbers.region_code_for_number(parsed)) or f"+{number.country.code}"
    problem = _POSSIBILITY_PROBLEMS.get(number.possibility, "it is not a possible number")
    raise _invalid(raw, field, f"{problem} ({region}){hint}")


def _stable(raw: str, number: _Number, field: str) -> _Number:
    """Refuse a number whose E.164 form reads as another number: a national prefix was left."""
    if _reads_as_itself(number):
        return number
    again = _international(number.e164[1:])
    reads_as = "no number" if again is None else again.e164
    reason = f"{number.e164} reads as {reads_as}; leave out the national prefix (often 0)"
    raise _invalid(raw, field, reason)


def _reads_as_itself(number: _Number) -> bool:
    if number.stable:
        return True
    again = _international(number.e164[1:])
    return again is not None and again.e164 == number.e164


def _invalid(raw: str, field: str, reason: str) -> InvalidPhoneNumber:
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    problem = f"invalid phone number {shown!r}: {reason}"
    return InvalidPhoneNumber(problem, field_errors={field: [problem]})
