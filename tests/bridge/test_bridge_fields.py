"""Whatever JSON arrives, validation either refuses it DRF-style or yields a sendable request."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from rest_bridge.fields import Invalid
from rest_bridge.routes.send import SCHEMA, to_request

# Every code point, lone surrogates and NUL included: JSON's \\uXXXX escapes can carry them all.
# The awkward ones are drawn often on purpose; among all code points they would be rare.
AWKWARD = st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", " ", "\n", "é", "😀"])
ANY_TEXT = st.lists(st.characters() | AWKWARD, max_size=12).map("".join)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT
# One level of nesting is all the schema looks into.
JSON_VALUES = (
    SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(ANY_TEXT, SCALARS, max_size=3)
)
FIELD_NAMES = st.sampled_from(sorted(SCHEMA.names)) | ANY_TEXT
BODIES = st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=8) | JSON_VALUES


@given(BODIES)
def test_validation_refuses_or_yields_a_request_protobuf_can_encode(body: object) -> None:
    try:
        validated = SCHEMA.validate(body)
    except Invalid as invalid:
        refusal = invalid.detail
    else:
        assert to_request(validated).SerializeToString()
        return
    assert isinstance(refusal, dict), "DRF answers a field map or non_field_errors"
    assert json.dumps(refusal)


@given(st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=6))
def test_valid_variables_are_exactly_the_strings_or_numbers_given(
    variables: dict[str, object],
) -> None:
    body = {
        "phone_number_id": "1",
        "template_name": "t",
        "recipient_phone": "+1",
        "variables": variables,
    }
    try:
        validated = SCHEMA.validate(body)
    except Invalid:
        return
    assert validated["variables"] == {key: str(value) for key, value in variables.items()}
    assert all(
        isinstance(value, str | int | float) and not isinstance(value, bool)
        for value in variables.values()
    )
