"""A submitted recipient list: deduplicated after normalisation, validated as a whole, bounded."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.bulks.submission import (
    EMPTY_RECIPIENTS_MESSAGE,
    MAX_RECIPIENTS,
    EmptyRecipients,
    InvalidRecipients,
    RecipientInput,
    TooManyRecipients,
    prepare_recipients,
)
from mindo_core.domain.errors import InvalidRequest
from mindo_core.templating.compiled import resolve
from mindo_core.templating.model import TemplateSpec
from mindo_core.templating.payload import build_send_payload
from tests.edge_recipients import EdgeRecipient
from tests.template_specs import template_spec


def spec_of(
    components: Sequence[Mapping[str, Any]], parameter_format: str, category: str = "MARKETING"
) -> TemplateSpec:
    return template_spec(
        components, name="welcome_message", parameter_format=parameter_format, category=category
    )


# The seed page's template: {{name}} and {{code}} in the body, a URL button with a variable.
WELCOME = spec_of(
    [
        {"type": "BODY", "text": "Hola {{name}}, tu codigo es {{code}}."},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Ver", "url": "https://mindo.example/w/{{1}}"}],
        },
    ],
    "NAMED",
)
NO_VARIABLES = spec_of([{"type": "BODY", "text": "Hola, gracias por tu compra."}], "POSITIONAL")


def person(phone: str, name: str = "Juan Perez", code: str = "ABC123") -> RecipientInput:
    return RecipientInput(
        phone=phone,
        variables={"name": name, "code": code},
        button_variables={"button_0": code},
    )


# The Send bulk page's request.
SEED_RECIPIENTS = [
    person("+5491112345678", "Juan Perez", "ABC-123"),
    person("+5491187654321", "Maria Garcia", "DEF-456"),
    person("+5491199887766", "Carlos Lopez", "GHI-789"),
]


def refusal(spec: TemplateSpec, recipients: Sequence[RecipientInput]) -> InvalidRecipients:
    with pytest.raises(InvalidRecipients) as refused:
        prepare_recipients(spec, recipients)
    return refused.value


def good_phones(count: int) -> list[str]:
    return [f"+54911{10_000_000 + i}" for i in range(count)]


# -- the documented request -------------------------------------------------------------------


def test_the_documented_recipients_are_all_accepted() -> None:
    # +5491199887766 lies outside phonenumbers' allocated Argentine ranges; it has the length
    # of an Argentine mobile, which is what Mindo checks (Meta reports numbers not on WhatsApp).
    documented = ["+5491112345678", "+5491187654321", "+5491199887766"]

    prepared = prepare_recipients(WELCOME, [person(phone) for phone in documented])

    assert [r.e164 for r in prepared.recipients] == documented


def test_the_seed_request_prepares_three_recipients_in_order() -> None:
    prepared = prepare_recipients(WELCOME, SEED_RECIPIENTS)
    assert (prepared.total_recipients, prepared.unique_recipients) == (3, 3)
    assert [r.e164 for r in prepared.recipients] == [
        "+5491112345678",
        "+5491187654321",
        "+5491199887766",
    ]
    assert list(prepared.wa_ids()) == ["5491112345678", "5491187654321", "5491199887766"]
    assert [r.index for r in prepared.recipients] == [0, 1, 2]


def test_each_recipient_carries_what_a_single_send_would_resolve() -> None:
    prepared = prepare_recipients(WELCOME, SEED_RECIPIENTS)
    for given_, recipient in zip(SEED_RECIPIENTS, prepared.recipients, strict=True):
        expected = resolve(WELCOME, given_.variables, given_.button_variables)
        assert recipient.components == expected.components
        assert recipient.variables_used == expected.variables_used
        assert recipient.resolved() == expected


def test_a_prepared_recipient_builds_the_same_payload_as_a_single_send() -> None:
    recipient = prepare_recipients(WELCOME, SEED_RECIPIENTS).recipients[1]
    payload = build_send_payload(
        recipient.resolved(), to=recipient.wa_id, name="welcome_message", language="es"
    )
    assert payload["to"] == "5491187654321"
    assert payload["template"]["components"][0]["parameters"] == [
        {"type": "text", "parameter_name": "name", "text": "Maria Garcia"},
        {"type": "text", "parameter_name": "code", "text": "DEF-456"},
    ]


def test_components_json_is_the_components_as_compact_json() -> None:
    recipient = prepare_recipients(WELCOME, SEED_RECIPIENTS).recipients[0]
    assert recipient.components_json == json.dumps(
        recipient.components, separators=(",", ":"), ensure_ascii=False
    )
    assert '"text":"Juan Perez"' in recipient.components_json


def test_a_template_whose_values_need_the_full_resolution_prepares_alike() -> None:
    # An authentication template's OTP button reuses the body's code.
    otp = spec_of(
        [
            {"type": "BODY", "text": "Tu codigo es {{1}}."},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Copiar", "url": "x/{{1}}"}]},
        ],
        "POSITIONAL",
        category="AUTHENTICATION",
    )
    given = RecipientInput(phone="+5491112345678", variables={"1": "123456"})

    [recipient] = prepare_recipients(otp, [given]).recipients

    assert recipient.resolved() == resolve(otp, given.variables, given.button_variables)
    assert recipient.variables_used == {"1": "123456", "button_0": "123456"}


def test_recipients_sharing_variables_still_get_their_own_phone() -> None:
    prepared = prepare_recipients(WELCOME, [person("+5491112345678"), person("+5491187654321")])
    assert [r.e164 for r in prepared.recipients] == ["+5491112345678", "+5491187654321"]
    assert prepared.recipients[0].components == prepared.recipients[1].components


def test_a_template_without_variables_takes_recipients_without_any() -> None:
    prepared = prepare_recipients(NO_VARIABLES, [RecipientInput(phone="+5491112345678")])
    assert prepared.recipients[0].components == []
    assert prepared.recipients[0].variables_used == {}


# -- deduplication ----------------------------------------------------------------------------


def test_formatting_variants_of_one_number_count_once() -> None:
    variants = ["+5491112345678", "+54 9 11 1234-5678", "5491112345678", "+54 11 15 1234-5678"]
    prepared = prepare_recipients(WELCOME, [person(p) for p in variants])
    assert prepared.total_recipients == 4
    assert prepared.unique_recipients == 1
    assert prepared.recipients[0].e164 == "+5491112345678"


def test_the_first_occurrence_wins_with_its_variables() -> None:
    prepared = prepare_recipients(
        WELCOME,
        [
            person("+5491187654321", "Maria Garcia"),
            person("+54 9 11 1234-5678", "First"),
            person("+5491112345678", "Second"),
        ],
    )
    assert prepared.unique_recipients == 2
    kept = prepared.recipients[1]
    assert (kept.index, kept.e164, kept.variables_used["name"]) == (1, "+5491112345678", "First")


def test_unique_recipients_counts_distinct_numbers() -> None:
    phones = good_phones(5)
    prepared = prepare_recipients(WELCOME, [person(p) for p in phones + phones[:3]])
    assert (prepared.total_recipients, prepared.unique_recipients) == (8, 5)


NUMBER_VARIANTS = {
    "+5491112345678": ["+5491112345678", "5491112345678", "+54 9 11 1234-5678"],
    "+5491187654321": ["+5491187654321", "+54 9 11 8765 4321", "+54 11 15 8765-4321"],
    "+14155550123": ["+14155550123", "+1 (415) 555-0123", "1.415.555.0123"],
}


@settings(max_examples=50, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.sampled_from(sorted(NUMBER_VARIANTS)), st.integers(0, 2)), min_size=1
    )
)
def test_dedup_keeps_each_number_once_at_its_first_position(
    picks: list[tuple[str, int]],
) -> None:
    recipients = [person(NUMBER_VARIANTS[number][variant]) for number, variant in picks]
    prepared = prepare_recipients(WELCOME, recipients)
    first_positions: dict[str, int] = {}
    for index, (number, _) in enumerate(picks):
        first_positions.setdefault(number, index)
    assert prepared.total_recipients == len(picks)
    assert [(r.index, r.e164) for r in prepared.recipients] == [
        (index, number) for number, index in first_positions.items()
    ]


# -- validation as a whole --------------------------------------------------------------------


def test_one_bad_phone_refuses_the_whole_list() -> None:
    recipients = [*SEED_RECIPIENTS, person("12345"), person("+5491155554444")]
    refused = refusal(WELCOME, recipients)
    assert (refused.invalid_count, refused.total) == (1, 5)
    [problem] = refused.problems
    assert (problem.index, problem.phone) == (3, "12345")
    assert problem.reason.startswith("phone: invalid phone number '12345': it is too short")
    assert refused.field_errors == {"recipients.3": [problem.reason]}


def test_variables_that_do_not_fit_the_template_refuse_the_list() -> None:
    incomplete = RecipientInput(phone="+5491155554444", variables={"name": "Ana"})
    refused = refusal(WELCOME, [*SEED_RECIPIENTS, incomplete])
    [problem] = refused.problems
    assert (problem.index, problem.phone) == (3, "+5491155554444")
    assert "variables.code: 'code' is required by the template" in problem.reason
    assert "button_variables.button_0: 'button_0' is required" in problem.reason


def test_a_recipient_with_a_bad_phone_and_bad_variables_reports_both() -> None:
    refused = refusal(WELCOME, [RecipientInput(phone="hola", variables={"name": "Ana"})])
    reason = refused.problems[0].reason
    assert reason.startswith("phone: invalid phone number 'hola': it contains letters")
    assert "; variables.code:" in reason


def test_a_bad_duplicate_refuses_the_list_even_though_it_would_be_dropped() -> None:
    repeat = RecipientInput(phone="+54 9 11 1234-5678", variables={"name": "Ana"})
    refused = refusal(WELCOME, [*SEED_RECIPIENTS, repeat])
    assert refused.problems[0].index == 3


def test_every_invalid_recipient_is_counted_and_the_first_100_are_listed() -> None:
    recipients = [person("+5491112345678")] + [person(f"00{i}") for i in range(250)]
    refused = refusal(WELCOME, recipients)
    assert (refused.invalid_count, refused.total) == (250, 251)
    assert len(refused.problems) == 100
    assert [p.index for p in refused.problems] == list(range(1, 101))
    assert [p.phone for p in refused.problems[:2]] == ["000", "001"]
    assert refused.message.startswith(
        "250 of 251 recipients are invalid (the first 100 are listed); nothing was sent."
    )
    assert len(refused.field_errors) == 100


def test_many_recipients_with_different_variables_are_each_checked() -> None:
    # Far more different sets of variables than Mindo remembers checks for.
    recipients = [person(p, f"Cliente {i}", f"C{i}") for i, p in enumerate(good_phones(6000))]
    recipients[5000] = person("+5491155554444", "Ana\nPerez")
    recipients.append(person("+5491155554445", "Juan Perez", "ABC123"))  # a repeated set

    refused = refusal(WELCOME, recipients)

    assert [p.index for p in refused.problems] == [5000]
    assert "variables.name: 'name' contains a new-line" in refused.problems[0].reason


def test_a_very_long_phone_is_shown_cut() -> None:
    refused = refusal(WELCOME, [person("9" * 500)])
    assert refused.problems[0].phone == "9" * 64


def test_invalid_recipients_is_an_invalid_request_with_its_own_code() -> None:
    refused = refusal(WELCOME, [person("x")])
    assert isinstance(refused, InvalidRequest)
    assert refused.code == "invalid_recipients"
    assert "recipients[0] 'x': phone: invalid phone number" in refused.message


# -- size of the list -------------------------------------------------------------------------


def test_an_empty_list_is_refused_with_the_documented_message() -> None:
    with pytest.raises(EmptyRecipients) as refused:
        prepare_recipients(WELCOME, [])
    assert refused.value.message == EMPTY_RECIPIENTS_MESSAGE
    assert EMPTY_RECIPIENTS_MESSAGE == "recipients es requerido y no puede estar vacio"
    assert refused.value.code == "empty_recipients"
    assert isinstance(refused.value, InvalidRequest)


def test_up_to_100000_recipients_are_accepted_per_request() -> None:
    assert MAX_RECIPIENTS == 100_000
    too_many = [RecipientInput(phone="+5491112345678")] * (MAX_RECIPIENTS + 1)
    with pytest.raises(TooManyRecipients) as refused:
        prepare_recipients(NO_VARIABLES, too_many)
    assert refused.value.code == "too_many_recipients"
    assert refused.value.field_errors == {
        "recipients": [
            "Ensure this field has no more than 100000 elements (100001 given); "
            "split the list into several bulk sends."
        ]
    }


def test_the_limit_can_be_set_lower() -> None:
    phones = good_phones(4)
    prepare_recipients(WELCOME, [person(p) for p in phones[:3]], max_recipients=3)
    with pytest.raises(TooManyRecipients):
        prepare_recipients(WELCOME, [person(p) for p in phones], max_recipients=3)


def test_the_limit_counts_the_list_as_submitted_not_after_dedup() -> None:
    same = [person("+5491112345678")] * 4
    with pytest.raises(TooManyRecipients):
        prepare_recipients(WELCOME, same, max_recipients=3)


def test_any_recipient_with_a_phone_and_variables_is_prepared_like_a_recipient_input() -> None:
    given_ = [
        ("+5491112345678", "Ana"),
        ("+54 9 11 1234-5678", "Ana again"),
        ("5491187654321", "Bo"),
    ]
    edge = [
        EdgeRecipient(phone, {"name": name, "code": "C1"}, {"button_0": "C1"})
        for phone, name in given_
    ]
    plain = [person(phone, name, "C1") for phone, name in given_]

    from_edge = prepare_recipients(WELCOME, edge)
    from_plain = prepare_recipients(WELCOME, plain)

    assert from_edge.recipients == from_plain.recipients
    assert [(r.index, r.e164) for r in from_edge.recipients] == [
        (0, "+5491112345678"),
        (2, "+5491187654321"),
    ]


def test_the_prepared_columns_line_up_with_the_recipients() -> None:
    prepared = prepare_recipients(WELCOME, SEED_RECIPIENTS)

    assert list(prepared.indexes) == [r.index for r in prepared.recipients]
    assert list(prepared.e164s) == [r.e164 for r in prepared.recipients]
    assert list(prepared.variables_used) == [r.variables_used for r in prepared.recipients]
    assert list(prepared.wa_ids()) == [r.wa_id for r in prepared.recipients]
