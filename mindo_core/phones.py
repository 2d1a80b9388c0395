"""Phone numbers: what a client types, turned into the E.164 form and the ``wa_id`` Meta uses.

Accepted input: an international number with or without the leading ``+``, optionally
separated by spaces, dashes, dots and parentheses (``"+54 223 15-596-1983"``). Leading and
trailing whitespace is ignored. A number without ``+`` is read as international first; only if
that gives no valid number and a ``default_region`` is given is it read as a national number
of that region.

Country quirks, because WhatsApp's ``wa_id`` is not always what the national plan says:

* Argentina: WhatsApp addresses mobiles as ``54 9 <area> <number>``. The national "15" form
  (``+54 223 15 596-1983``) and the mixed "9 … 15" form become ``+5492235961983``. A number
  without the 9 is kept as it is: ``phonenumbers`` classes those as fixed lines, and a landline
  can hold a WhatsApp Business account, so adding the 9 would guess.
* Mexico: the old mobile form ``+52 1 <10 digits>`` (still seen in inbound ``wa_id``\\ s) is
  normalised to ``+52 <10 digits>``, which Meta accepts and the numbering plan says is valid.

Every refusal is an ``InvalidPhoneNumber`` whose message says why.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, ValidationResult

from mindo_core.errors import InvalidPhoneNumber

__all__ = ["NormalizedPhone", "dedup_key", "normalize_phone"]

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
# E.164 allows 15 digits; a raw string far longer than any formatted number is garbage.
_MAX_RAW_LENGTH = 64
_MAX_DIGITS = 15
_MIN_DIGITS = 7
_SEPARATORS = frozenset(" -.()")
_ARGENTINA = 54
_MEXICO = 52


@dataclass(frozen=True, kw_only=True)
class NormalizedPhone:
    """A valid phone number: ``e164`` ("+5491112345678"), ``wa_id`` ("5491112345678")."""

    e164: str
    wa_id: str
    # ISO 3166 region ("AR"), "001" for non-geographic numbers, None when unknown.
    region: str | None


def normalize_phone(
    raw: str, *, default_region: str | None = None, field: str = "recipient_phone"
) -> NormalizedPhone:
    """Normalise ``raw`` or raise ``InvalidPhoneNumber`` (its ``field_errors`` key is ``field``)."""
    text = raw.strip()
    digits = _check_characters(raw, text, field)
    number = _parse(raw, text, digits, default_region, field)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not E164_PATTERN.fullmatch(e164):
        raise _invalid(raw, field, f"{e164} is not an E.164 number (7 to 15 digits)")
    return NormalizedPhone(
        e164=e164, wa_id=e164.removeprefix("+"), region=phonenumbers.region_code_for_number(number)
    )


def dedup_key(phone: NormalizedPhone) -> str:
    """The key two recipients share exactly when WhatsApp would deliver to the same account."""
    return phone.wa_id


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
    if len(digits) < _MIN_DIGITS:
        raise _invalid(raw, field, f"it is too short ({len(digits)} digits, at least 7)")
    if len(digits) > _MAX_DIGITS:
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


def _parse(raw: str, text: str, digits: str, default_region: str | None, field: str) -> PhoneNumber:
    international = _parse_or_none("+" + digits, None)
    if text.startswith("+") or default_region is None:
        # Without "+" the digits are still read as international: say so, it is the usual slip.
        hint = "" if text.startswith("+") else f" (read as +{digits}: start with the country code)"
        if international is None:
            raise _invalid(raw, field, f"it has no valid country code{hint}")
        return _validated(raw, _with_country_quirks(international), field, hint)
    if international is not None and _valid(fixed := _with_country_quirks(international)):
        return fixed
    national = _parse_or_none(digits, default_region.upper())
    if national is None:
        raise _invalid(raw, field, f"it is not a number of region {default_region.upper()}")
    return _validated(raw, _with_country_quirks(national), field, "")


def _parse_or_none(text: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _with_country_quirks(number: PhoneNumber) -> PhoneNumber:
    if _valid(number):
        return number
    national = str(number.national_number)
    if number.country_code == _MEXICO and len(national) == 11 and national.startswith("1"):
        return _reparsed(number, f"+52{national[1:]}")
    if number.country_code == _ARGENTINA and national.startswith("9"):
        # "+54 9 223 15 596-1983": the 9 and the national 15 together; the 15 alone is enough.
        return _reparsed(number, f"+54{national[1:]}")
    return number


def _reparsed(original: PhoneNumber, text: str) -> PhoneNumber:
    candidate = _parse_or_none(text, None)
    return candidate if candidate is not None and _valid(candidate) else original


def _valid(number: PhoneNumber) -> bool:
    return bool(phonenumbers.is_valid_number(number))


_POSSIBILITY_PROBLEMS = {
    ValidationResult.INVALID_COUNTRY_CODE: "its country code does not exist",
    ValidationResult.TOO_SHORT: "it is too short for its country",
    ValidationResult.TOO_LONG: "it is too long for its country",
    ValidationResult.INVALID_LENGTH: "it has the wrong number of digits for its country",
}


def _validated(raw: str, number: PhoneNumber, field: str, hint: str) -> PhoneNumber:
    if _valid(number):
        return number
    reason = phonenumbers.is_possible_number_with_reason(number)
    region = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
    problem = _POSSIBILITY_PROBLEMS.get(reason, "it is not a valid number for its country")
    raise _invalid(raw, field, f"{problem} ({region}){hint}")


def _invalid(raw: str, field: str, reason: str) -> InvalidPhoneNumber:
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    problem = f"invalid phone number {shown!r}: {reason}"
    return InvalidPhoneNumber(problem, field_errors={field: [problem]})
