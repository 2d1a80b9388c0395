"""Phone normalisation: what clients may type, what WhatsApp receives, why the rest is refused."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.errors import InvalidPhoneNumber
from mindo_core.phones import NormalizedPhone, dedup_key, normalize_phone

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


# -- accepted forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "+5491112345678",
        "5491112345678",
        "+54 9 11 1234-5678",
        "+54 (9) 11.1234.5678",
        "  +5491112345678\n",
        "+54\u00a09\u00a011\u00a01234\u00a05678",
    ],
)
def test_international_forms_of_one_number_agree(raw: str) -> None:
    assert normalize_phone(raw) == NormalizedPhone(
        e164="+5491112345678", wa_id="5491112345678", region="AR"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "+5492235961983",
        "5492235961983",
        "+54223155961983",
        "54223155961983",
        "+54 223 15-596-1983",
        "+54 9 223 15 596 1983",
    ],
)
def test_argentine_mobile_forms_become_whatsapps_54_9_form(raw: str) -> None:
    assert normalize_phone(raw).e164 == "+5492235961983"


def test_an_argentine_number_without_the_9_stays_a_fixed_line() -> None:
    # phonenumbers says a number without the 9 is a landline; adding the 9 would be a guess.
    assert normalize_phone("+54 223 596 1983").e164 == "+542235961983"


@pytest.mark.parametrize("raw", ["+5215512345678", "+52 1 55 1234 5678", "5215512345678"])
def test_the_old_mexican_mobile_form_drops_its_1(raw: str) -> None:
    assert normalize_phone(raw).e164 == "+525512345678"


def test_wa_id_is_the_e164_digits() -> None:
    phone = normalize_phone("+1 (415) 555-2671")

    assert (phone.e164, phone.wa_id, phone.region) == ("+14155552671", "14155552671", "US")


def test_a_national_number_uses_the_default_region() -> None:
    assert normalize_phone("011 1234-5678", default_region="ar").e164 == "+541112345678"
    assert normalize_phone("(415) 555-2671", default_region="US").e164 == "+14155552671"


def test_digits_that_form_an_international_number_win_over_the_default_region() -> None:
    assert normalize_phone("5491112345678", default_region="US").e164 == "+5491112345678"


def test_variants_of_one_number_share_a_dedup_key() -> None:
    keys = {dedup_key(normalize_phone(raw)) for raw in ("+54223155961983", "5492235961983")}

    assert keys == {"5492235961983"}


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("+54 11 CALL-NOW", "it contains letters"),
        ("+54 11 1234\x005678", "control character"),
        ("+54 11 1234\n5678", "control character"),
        ("54+91112345678", "'+' is only allowed at the start"),
        ("+54#91112345678", "'#'"),
        ("+54 11", "too short (4 digits"),
        ("+549111234567890123", "too long (18 digits, E.164 allows 15)"),
        ("+54 11 1234", "not a valid number for its country (AR)"),
        ("+5412345678901", "not a valid number for its country (AR)"),
        ("+99912345678", "no valid country code"),
        ("1112345678", "read as +1112345678: start with the country code"),
        ("9" * 70, "too long (70 characters)"),
    ],
)
def test_refusals_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_phone(raw)

    assert reason in caught.value.message
    assert caught.value.field_errors == {"recipient_phone": [caught.value.message]}


def test_the_field_errors_key_is_the_callers_field() -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_phone("nope", field="recipients.3.phone")

    assert list(caught.value.field_errors) == ["recipients.3.phone"]


def test_a_national_number_that_does_not_fit_the_region_is_refused() -> None:
    with pytest.raises(InvalidPhoneNumber, match="not a valid number for its country"):
        normalize_phone("0223 1234", default_region="AR")


# -- properties -----------------------------------------------------------------------------------


def _example_numbers() -> tuple[str, ...]:
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    examples = (
        phonenumbers.example_number_for_type(region, kind)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in kinds
    )
    return tuple(
        phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
        for n in examples
        if n is not None
    )


EXAMPLE_NUMBERS = _example_numbers()


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    """A valid number: a region's example number with its last two digits varied."""
    example = draw(st.sampled_from(EXAMPLE_NUMBERS))
    candidate = example[:-2] + draw(st.from_regex(r"[0-9]{2}", fullmatch=True))
    parsed = phonenumbers.parse(candidate, None)
    return candidate if phonenumbers.is_valid_number(parsed) else example


@st.composite
def formatted(draw: st.DrawFn, e164: str) -> str:
    """``e164`` as a person might type it: separators between digits, spaces around."""
    separators = st.sampled_from(["", "", " ", "-", ".", " - "])
    digits = e164.removeprefix("+")
    text = "".join(digit + draw(separators) for digit in digits).rstrip(" -.")
    plus = draw(st.sampled_from(["+", ""]))
    return draw(st.sampled_from(["", " ", "\t"])) + plus + text + draw(st.sampled_from(["", " "]))


@settings(deadline=None)
@given(st.data())
def test_formatting_variants_normalise_alike(data: st.DataObject) -> None:
    number = data.draw(valid_numbers())
    variant = data.draw(formatted(number))

    assert normalize_phone(variant) == normalize_phone(number)


@settings(deadline=None)
@given(valid_numbers())
def test_normalising_is_idempotent(number: str) -> None:
    phone = normalize_phone(number)

    assert normalize_phone(phone.e164) == phone
    assert normalize_phone(phone.wa_id) == phone
    assert E164.fullmatch(phone.e164)


PHONEISH = st.text(alphabet="0123456789+-. ()\t\n\x00\u00a0ab#٣", max_size=24)


@settings(deadline=None, max_examples=300)
@given(st.one_of(PHONEISH, st.text(max_size=40)), st.sampled_from([None, "AR", "US", "MX", "DE"]))
def test_any_input_gives_an_e164_number_or_invalid_phone_number(
    raw: str, region: str | None
) -> None:
    try:
        phone = normalize_phone(raw, default_region=region)
    except InvalidPhoneNumber:
        return  # the only refusal allowed; anything else escapes and fails the test
    assert E164.fullmatch(phone.e164)
    assert phone.wa_id == phone.e164[1:]
    assert normalize_phone(phone.e164) == phone
