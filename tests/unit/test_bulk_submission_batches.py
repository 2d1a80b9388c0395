"""Recipients checked in batches give exactly what checking them one by one gives.

``prepare_recipients`` accepts a batch as a whole when it is sure every recipient in it is
valid, and otherwise checks each recipient on its own (``prepare_recipients_one_by_one``, the
reference here): the same recipients kept, in the same order, with the same values, or the same
refusal, problem for problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.bulks.submission import (
    BATCH_SIZE,
    InvalidRecipients,
    PreparedBulk,
    RecipientInput,
    SubmittedRecipient,
    prepare_recipients,
    prepare_recipients_one_by_one,
)
from mindo_core.domain.errors import InvalidPhoneNumber
from mindo_core.phones.batch import shortcut_e164s
from mindo_core.phones.e164 import to_e164
from mindo_core.templating.model import TemplateSpec
from mindo_core.templating.rules import FORBIDDEN_WHITESPACE
from tests.edge_recipients import EdgeRecipient
from tests.template_specs import template_spec

BUTTONS = {
    "type": "BUTTONS",
    "buttons": [
        {"type": "QUICK_REPLY", "text": "Si"},
        {"type": "COPY_CODE", "example": "ABC"},
        {"type": "URL", "text": "Ver", "url": "https://mindo.example/" + "p" * 80 + "/{{1}}"},
        {"type": "URL", "text": "Web", "url": "https://mindo.example/"},
        {"type": "PHONE_NUMBER", "text": "Llamar", "phone_number": "+5491112345678"},
    ],
}
EVERYTHING = [
    {"type": "HEADER", "format": "TEXT", "text": "Hola {{1}}"},
    {"type": "BODY", "text": "{{1}}, tu turno es el {{2}}."},
    BUTTONS,
]
# Each shape of template the accepting path knows, and some it leaves to the full resolution.
TEMPLATES = {
    "welcome": template_spec(
        [
            {"type": "BODY", "text": "Hola {{name}}, tu codigo es {{code}}."},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "URL", "text": "Ver", "url": "https://m.example/{{1}}"}],
            },
        ],
        parameter_format="NAMED",
    ),
    "everything": template_spec(EVERYTHING),
    "everything with defaults": template_spec(
        EVERYTHING, defaults={"2": "lunes", "button_0": "si", "button_1": "CODE1"}
    ),
    "no variables": template_spec([{"type": "BODY", "text": "Gracias por tu compra."}]),
    "body only": template_spec([{"type": "BODY", "text": "{{aviso}}"}], parameter_format="NAMED"),
    "image header": template_spec(
        [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Hola {{1}}"}]
    ),
    "one-time password": template_spec(
        [
            {"type": "BODY", "text": "Tu codigo es {{1}}."},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Copiar", "url": "x/{{1}}"}]},
        ],
        category="AUTHENTICATION",
    ),
}
# Per template, the values a valid recipient may have for each key (None: leave the key out).
VALID: dict[str, dict[tuple[str, str], tuple[str | None, ...]]] = {
    "welcome": {
        ("variables", "name"): ("Ana", "Juan Perez", "a    b"),
        ("variables", "code"): ("A1", "B2"),
        ("button_variables", "button_0"): ("a1", "b2"),
    },
    "everything": {
        ("variables", "header_1"): ("Ana", "Bo"),
        ("variables", "1"): ("Ana", "Bo"),
        ("variables", "2"): ("lunes", "martes"),
        ("button_variables", "button_0"): ("si", None),
        ("button_variables", "button_1"): ("CODE1", "CODE2"),
        ("button_variables", "button_2"): ("ref", "r2"),
    },
    "everything with defaults": {
        ("variables", "header_1"): ("Ana", "Bo"),
        ("variables", "1"): ("Ana", "Bo"),
        ("variables", "2"): ("martes", None),
        ("button_variables", "button_0"): ("no", None),
        ("button_variables", "button_1"): ("CODE2", None),
        ("button_variables", "button_2"): ("ref", "r2"),
    },
    "no variables": {},
    "body only": {("variables", "aviso"): ("x" * 5000, "corto")},
    "image header": {
        ("variables", "header_image"): ("https://m.example/a.png", "12345"),
        ("variables", "1"): ("Ana",),
    },
    "one-time password": {
        ("variables", "1"): ("123456", "654321"),
        ("button_variables", "button_0"): (None, "654321"),
    },
}
# Per template, values on both sides of each key's limits (whitespace: see WHITESPACE).
EDGES: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    "welcome": {
        ("variables", "name"): ("x" * 1024, "x" * 1025),
        ("variables", "code"): ("x" * 1024, "x" * 1025),
        # https://m.example/{{1}}: the URL stays within 2000 characters.
        ("button_variables", "button_0"): ("s" * 1982, "s" * 1983),
    },
    "everything": {
        ("variables", "header_1"): ("x" * 60, "x" * 61),
        ("variables", "1"): ("x" * 1024, "x" * 1025),
        ("variables", "2"): ("x" * 1024, "x" * 1025),
        ("button_variables", "button_0"): ("p" * 256, "p" * 257),
        ("button_variables", "button_1"): ("A" * 15, "A" * 16, "AB-1", "Añ1"),
        ("button_variables", "button_2"): ("s" * 1897, "s" * 1898),
    },
    "body only": {("variables", "aviso"): ("x" * 32768, "x" * 32769)},
    "image header": {("variables", "header_image"): ("http://m.example/a.png", "12a")},
    "one-time password": {("button_variables", "button_0"): ("A" * 15, "A" * 16, "12-3")},
}
EDGES["everything with defaults"] = EDGES["everything"]
WHITESPACE = ("  ", "", "a\nb", "a\tb", "a\rb", "a     b", "a    b", " a ")

# Any key a client might send, the template's or not.
KEYS = [
    ("variables", key)
    for key in ("name", "code", "1", "2", "3", "header_1", "aviso", "header_image", "button_0")
] + [("button_variables", f"button_{index}") for index in range(5)]

# Several spellings of a few numbers (so that there are repeats), and others.
VALID_PHONES = st.sampled_from(
    ["+5491112345678", "5491187654321", "+14155550123", "+54 9 11 5555-1234", "+5491155551234"]
) | st.from_regex(r"\+54911[0-9]{8}", fullmatch=True)
PHONES = st.one_of(
    st.sampled_from(
        [
            "+5491112345678",
            "5491112345678",
            "+54 9 11 1234-5678",
            "+54 11 15 1234-5678",
            "+54223155961983",  # the national "15" after the area code: phonenumbers removes it
            "54223155961983",
            "+5590940713584",  # a Brazilian carrier code, which phonenumbers strips
            "3758351459220",  # Belarus's national prefix 8 after the country code
            " +5491112345678",
            "+5491187654321",
            "+14155550123",
            "1.415.555.0123",
            "+5215512345678",  # the old Mexican mobile form: normalised without its 1
            "+525512345678",
            "+81312345678",
            "+390612345678",
            "12345",
            "hola",
            "",
            "+54 0 11 1234 5678",
            "+54011123456789",
            "+999123456789",
        ]
    ),
    st.from_regex(r"\+?[0-9]{5,16}", fullmatch=True),
)
# Any value at all: some valid, most not, many made of whitespace.
VALUES = st.sampled_from(["Ana", "ABC123", "https://m.example/b.png", "x" * 61]) | st.text(
    alphabet=" \t\r\nab1\x00", max_size=7
)


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A recipient before it is submitted, as a RecipientInput or as an edge's message."""

    phone: str
    values: dict[tuple[str, str], str]
    from_edge: bool

    def submitted(self) -> SubmittedRecipient:
        variables = {key: v for (field, key), v in self.values.items() if field == "variables"}
        buttons = {key: v for (field, key), v in self.values.items() if field != "variables"}
        if self.from_edge:
            return EdgeRecipient(self.phone, variables, buttons)
        return RecipientInput(phone=self.phone, variables=variables, button_variables=buttons)


@st.composite
def valid_drafts(draw: st.DrawFn, spec_name: str) -> Draft:
    values = {slot: draw(st.sampled_from(choices)) for slot, choices in VALID[spec_name].items()}
    return Draft(
        phone=draw(VALID_PHONES),
        values={slot: value for slot, value in values.items() if value is not None},
        from_edge=draw(st.booleans()),
    )


@st.composite
def spoilt(draw: st.DrawFn, draft: Draft, spec_name: str) -> Draft:
    """``draft`` with one thing changed: its phone, or one value (set, changed or removed)."""
    change = draw(st.sampled_from(["phone", "edge", "whitespace", "any", "unknown", "remove"]))
    if change == "phone":
        return replace(draft, phone=draw(PHONES))
    slots = sorted(VALID[spec_name]) or KEYS
    values = dict(draft.values)
    slot = draw(st.sampled_from(slots))
    if change == "edge":
        values[slot] = draw(st.sampled_from(EDGES.get(spec_name, {}).get(slot, WHITESPACE)))
    elif change == "whitespace":
        values[slot] = draw(st.sampled_from(WHITESPACE))
    elif change == "any":
        values[slot] = draw(VALUES)
    elif change == "unknown":
        values[draw(st.sampled_from(KEYS))] = draw(VALUES)
    else:
        values.pop(slot, None)
    return replace(draft, values=values)


@st.composite
def cases(draw: st.DrawFn) -> tuple[TemplateSpec, list[SubmittedRecipient], int]:
    """A template, a list of recipients mostly valid with a few spoilt, a batch size."""
    spec_name = draw(st.sampled_from(sorted(TEMPLATES)))
    drafts = draw(st.lists(valid_drafts(spec_name), min_size=1, max_size=25))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(drafts) - 1))
        drafts[position] = draw(spoilt(drafts[position], spec_name))
    batch_size = draw(st.sampled_from([1, 2, 3, 7, BATCH_SIZE]))
    return TEMPLATES[spec_name], [draft.submitted() for draft in drafts], batch_size


def outcome(prepare: Callable[[], PreparedBulk]) -> tuple[object, ...]:
    """Everything a caller can see of a preparation, the order of each recipient's values too."""
    try:
        prepared = prepare()
    except InvalidRecipients as refused:
        return (
            "refused",
            refused.problems,
            refused.invalid_count,
            refused.total,
            refused.message,
            refused.field_errors,
        )
    return (
        "accepted",
        prepared.total_recipients,
        list(prepared.indexes),
        list(prepared.e164s),
        [list(used.items()) for used in prepared.variables_used],
        [type(used) for used in prepared.variables_used],
    )


def batched_and_one_by_one(
    spec: TemplateSpec, given_: list[SubmittedRecipient], batch_size: int = BATCH_SIZE
) -> tuple[tuple[object, ...], tuple[object, ...]]:
    return (
        outcome(lambda: prepare_recipients(spec, given_, batch_size=batch_size)),
        outcome(lambda: prepare_recipients_one_by_one(spec, given_)),
    )


@settings(max_examples=400, deadline=None)
@given(case=cases())
def test_batches_give_what_checking_each_recipient_gives(
    case: tuple[TemplateSpec, list[SubmittedRecipient], int],
) -> None:
    batched, one_by_one = batched_and_one_by_one(*case)

    assert batched == one_by_one


@pytest.mark.parametrize("spec_name", sorted(EDGES))
def test_each_value_at_an_edge_of_a_limit_is_judged_alike_in_a_batch(spec_name: str) -> None:
    valid = [
        RecipientInput(
            phone=f"+54911{10_000_000 + i}", variables=variables, button_variables=buttons
        )
        for i, (variables, buttons) in enumerate(valid_values(spec_name) for _ in range(3))
    ]
    for (field, key), edges in EDGES[spec_name].items():
        for value in (*edges, *WHITESPACE):
            variables, buttons = valid_values(spec_name)
            (variables if field == "variables" else buttons)[key] = value
            last = RecipientInput(
                phone="+5491155554444", variables=variables, button_variables=buttons
            )

            batched, one_by_one = batched_and_one_by_one(TEMPLATES[spec_name], [*valid, last])

            assert batched == one_by_one, (key, value)


def valid_values(spec_name: str) -> tuple[dict[str, str], dict[str, str]]:
    """The first valid value of each key of the template's (none, where leaving it out is)."""
    variables: dict[str, str] = {}
    buttons: dict[str, str] = {}
    for (field, key), choices in VALID[spec_name].items():
        if choices[0] is not None:
            (variables if field == "variables" else buttons)[key] = choices[0]
    return variables, buttons


def test_a_big_list_with_repeats_across_batches_then_a_bad_recipient_prepares_alike() -> None:
    spec = TEMPLATES["welcome"]
    given_: list[SubmittedRecipient] = [
        RecipientInput(
            phone=f"+54911{10_000_000 + i % 2500}",
            variables={"name": f"Cliente {i % 3}", "code": "A1"},
            button_variables={"button_0": "a1"},
        )
        for i in range(3 * BATCH_SIZE)
    ]
    batched, one_by_one = batched_and_one_by_one(spec, given_)
    assert batched == one_by_one
    assert batched[0] == "accepted"

    given_[BATCH_SIZE + 5] = RecipientInput(phone="+54 9 11 1000-0005", variables={"name": "A"})
    batched, one_by_one = batched_and_one_by_one(spec, given_)
    assert batched == one_by_one
    assert batched[0] == "refused"


def test_a_batch_whose_recipients_all_have_the_same_values_shares_one_mapping() -> None:
    # A broadcast (one event's date for everyone) holds one mapping, not one per recipient.
    given_ = [
        RecipientInput(phone=f"+54911{10_000_000 + i}", variables={"1": "hoy"}) for i in range(5)
    ]
    spec = template_spec([{"type": "BODY", "text": "El evento es {{1}}."}])

    prepared = prepare_recipients(spec, given_)

    assert list(prepared.variables_used) == [{"1": "hoy"}] * 5
    assert len({id(used) for used in prepared.variables_used}) == 1


def test_the_forbidden_whitespace_rule_is_the_one_batches_look_for() -> None:
    # templates._FORBIDDEN_SUBSTRINGS spells this regex as substrings: change both together.
    assert FORBIDDEN_WHITESPACE.pattern == r"[\n\r\t]| {5,}"


# -- phones: the batched shortcut ----------------------------------------------------------------


def test_plain_numbers_take_the_shortcut_and_others_are_left_to_to_e164() -> None:
    raws = [
        "+5491112345678",
        "5491187654321",
        "+14155550123",
        "+54 9 11 1234-5678",  # formatted
        "+5215512345678",  # phonenumbers drops the 1: not as typed
        "+5590940713584",  # phonenumbers strips the carrier code 90
        "12345",
        " +5491112345678",
    ]

    assert shortcut_e164s(raws) == [
        "+5491112345678",
        "+5491187654321",
        "+14155550123",
        None,
        None,
        None,
        None,
        None,
    ]


COUNTRY_STARTS = ["54", "549", "52", "521", "1", "55", "39", "44", "49", "7", "86", "91", "234"]
PLAIN_NUMBERS = st.builds(
    lambda plus, start, rest: plus + start + rest,
    st.sampled_from(["+", ""]),
    st.sampled_from(COUNTRY_STARTS) | st.from_regex(r"[0-9]{1,3}", fullmatch=True),
    st.from_regex(r"[0-9]{3,13}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(raws=st.lists(PLAIN_NUMBERS | PHONES, min_size=1, max_size=40))
def test_the_batched_shortcut_gives_what_to_e164_gives(raws: list[str]) -> None:
    found = shortcut_e164s(raws)

    assert len(found) == len(raws)
    for raw, e164 in zip(raws, found, strict=True):
        if e164 is not None:
            assert e164 == to_e164(raw, field="phone")
    # Each number is judged on its own, whatever its neighbours.
    assert found == [shortcut_e164s([raw])[0] for raw in raws]


@pytest.mark.parametrize("raw", ["+5491112345678", "+14155550123", "+4915112345678"])
def test_the_batched_shortcut_takes_what_to_e164_takes_as_typed(raw: str) -> None:
    assert shortcut_e164s([raw]) == [to_e164(raw)] == [raw]


def test_numbers_to_e164_refuses_are_left_to_it() -> None:
    for raw in ("+999123456789", "12345", "hola"):
        assert shortcut_e164s([raw]) == [None]
        with pytest.raises(InvalidPhoneNumber):
            to_e164(raw)
