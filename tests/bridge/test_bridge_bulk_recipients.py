"""The fast recipient path agrees with DRF's field-by-field path, and with protobuf's encoding.

``RecipientsField`` checks plainly valid items in one pass and writes protobuf's wire format by
hand; these properties pin it to the reference: ``RECIPIENT.validate`` item by item (the DRF
semantics of ``fields``) and ``SendBulkRequest(recipients=...)`` (protobuf's own encoder).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import wire
from rest_bridge.fields import NULL, Invalid
from rest_bridge.problems import ApiError
from rest_bridge.recipients import RECIPIENT, RecipientsField

# Values on each side of every limit, every character the checks care about, and every type.
SPECIMENS: dict[str, object] = {
    "empty": "",
    "blank": " ",
    "padded": "  +54 9 11 ",
    "emoji": "🎉",
    "NUL": "\x00",
    "inner NUL": "a\x00b",
    "surrogate": "\ud800",
    "late surrogate": "é\udfff",
    "64": "x" * 64,
    "65": "x" * 65,
    "256": "k" * 256,
    "257": "k" * 257,
    "32768": "v" * 32768,
    "32769": "v" * 32769,
    "int": 5491112345678,
    "float": 1.5,
    "bool": True,
    "null": None,
    "list": ["a"],
    "object": {"a": "b"},
}
GOOD = {
    "phone": "+5491112345678",
    "variables": {"name": "Juan", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}


def with_slot(slot: str, specimen: object) -> dict[str, Any]:
    """GOOD with one slot replaced: the phone, a map, or a map's key or value."""
    item: dict[str, Any] = {name: value for name, value in GOOD.items()}
    field, _, part = slot.partition(".")
    if not part:
        item[field] = specimen
    elif part == "key":
        item[field] = {**item[field], specimen: "v"}
    else:
        item[field] = {**item[field], "extra": specimen}
    return item


SLOTS = [
    "phone",
    "variables",
    "variables.key",
    "variables.value",
    "button_variables",
    "button_variables.key",
    "button_variables.value",
]
CASES = [
    pytest.param(slot, specimen, id=f"{slot}={name}")
    for slot in SLOTS
    for name, specimen in SPECIMENS.items()
    if not slot.endswith(".key") or isinstance(specimen, str)  # JSON keys are strings
]
VALID_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=300)
VALID_ITEM = st.fixed_dictionaries(
    {"phone": st.text(st.characters(codec="ascii", categories=["Nd"]), min_size=1, max_size=64)},
    optional={
        "variables": st.dictionaries(
            st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=256),
            VALID_TEXT,
            max_size=5,
        ),
        "button_variables": st.dictionaries(st.just("button_0"), VALID_TEXT, max_size=1),
    },
)


def drf_path(items: list[Any]) -> mindo_pb2.SendBulkRequest:
    """The reference: DRF's ListSerializer over RECIPIENT, then protobuf's own encoder."""
    valid: list[dict[str, object]] = []
    errors: list[object] = []
    for item in items:
        try:
            if item is None:
                raise Invalid([NULL])
            valid.append(RECIPIENT.validate(item))
            errors.append({})
        except Invalid as problem:
            errors.append(problem.detail)
    if any(errors):
        raise Invalid(errors)  # type: ignore[arg-type]
    return mindo_pb2.SendBulkRequest(recipients=valid)  # type: ignore[arg-type]


def fast_path(items: list[Any]) -> mindo_pb2.SendBulkRequest:
    recipients = RecipientsField().validate(items)
    assert recipients.count == len(items)
    return mindo_pb2.SendBulkRequest.FromString(recipients.wire)


def outcome(path: Any, items: list[Any]) -> object:
    try:
        return path(items)
    except Invalid as problem:
        return ("invalid", problem.detail)


@pytest.mark.parametrize(("slot", "specimen"), CASES)
def test_any_value_in_any_slot_gets_the_answer_drf_would_give(slot: str, specimen: object) -> None:
    items = [GOOD, with_slot(slot, specimen)]

    assert outcome(fast_path, items) == outcome(drf_path, items)


@pytest.mark.parametrize(
    "item",
    [
        None,
        "+5491112345678",
        ["+54"],
        {},
        {"variables": {"name": "Juan"}},
        {"phone": "+5491112345678", "other": 1},
        {"phone": "+5491112345678", "variables": {str(n): "v" for n in range(100)}},
        {"phone": "+5491112345678", "variables": {str(n): "v" for n in range(101)}},
    ],
    ids=["null", "string", "list", "empty", "no phone", "unknown key", "100 vars", "101 vars"],
)
def test_any_item_shape_gets_the_answer_drf_would_give(item: object) -> None:
    items = [GOOD, item]

    assert outcome(fast_path, items) == outcome(drf_path, items)


@given(st.lists(VALID_ITEM, min_size=1, max_size=5))
def test_valid_recipients_encode_as_protobuf_encodes_them(items: list[Any]) -> None:
    expected = mindo_pb2.SendBulkRequest(
        recipients=[item | {"phone": item["phone"].strip()} for item in items]
    )
    assert fast_path(items) == expected


@pytest.mark.parametrize("size", [0, 1, 124, 125, 127, 128, 16379, 16384, 65535])
def test_lengths_on_every_varint_boundary_round_trip(size: int) -> None:
    # Sizes in UTF-8 bytes (é is two), around the one, two and three byte lengths.
    value = "é" * (size // 2) + "x" * (size % 2)
    recipient: dict[str, Any] = {"phone": "+5491112345678", "variables": {"v": value}}

    assert fast_path([recipient]).recipients[0] == mindo_pb2.BulkRecipient(**recipient)


@pytest.mark.parametrize("number", [1, 127, 128, 300, 16384, 2**35])
def test_varints_match_protobufs(number: int) -> None:
    # Field 1 of a message holding one int64 field: its tag (0x08) then the varint.
    encoded = mindo_pb2.BulkTemplate(id=number).SerializeToString()

    assert wire.varint(number) == encoded[1:]


def test_a_list_over_the_limit_is_refused_before_any_item_is_read() -> None:
    items: list[object] = [object()] * 100_001

    with pytest.raises(ApiError) as refused:
        RecipientsField().validate(items)

    assert refused.value.status == 400
    assert refused.value.body == {
        "error": (
            "recipients: Ensure this field has no more than 100000 elements (100001 given); "
            "split the list into several bulk sends."
        ),
        "code": "too_many_recipients",
    }


def test_exactly_the_limit_is_accepted() -> None:
    recipients = RecipientsField().validate([{"phone": "+5491112345678"}] * 100_000)

    assert recipients.count == 100_000
