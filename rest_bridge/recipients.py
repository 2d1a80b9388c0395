"""A bulk send's ``recipients``: validated as DRF's ``ListSerializer`` does, encoded fast.

DRF's answers, reproduced:

- ``null``: ``["This field may not be null."]``; not an array:
  ``{"non_field_errors": ['Expected a list of items but got type "dict".']}``;
- otherwise one entry per item, in order: ``{}`` for a valid item, its field map for an invalid
  one (``{"phone": ["This field is required."]}``), ``["This field may not be null."]`` for a
  ``null`` item, ``{"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}``
  for an item that is not an object.

Beyond DRF: a list longer than ``MAX_RECIPIENTS`` is refused before any item is looked at, with
the service's own answer (400 ``too_many_recipients``). An empty list is valid here: the route
answers it with the documented body once the rest of the body is valid.

Speed: a plainly valid item (string phone and values, sizes in bounds, nothing to convert) is
checked and encoded in one pass (``wire``); anything else takes the field-by-field DRF path,
which finds the exact messages or converts what DRF converts (numbers to text), and is then
encoded the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from rest_bridge import wire
from rest_bridge.fields import NULL, CharField, Detail, DictField, Invalid, Schema
from rest_bridge.problems import ApiError, coded

MAX_RECIPIENTS: Final = 100_000
TOO_MANY = "too_many_recipients"

PHONE_MAX_LENGTH = 64
MAX_VARIABLES = 100
KEY_MAX_LENGTH = 256
VALUE_MAX_LENGTH = 32768
# Distinct variable names whose encoding is kept: real lists reuse a handful.
_KEY_CACHE_MAX = 1024
_NO_VARIABLES: Mapping[str, object] = {}


def _variables(description: str, example: dict[str, str]) -> DictField:
    # Values pass through untouched (no trimming, blanks allowed), as on the send route.
    value = CharField(max_length=VALUE_MAX_LENGTH, allow_blank=True, trim_whitespace=False)
    return DictField(
        child=value,
        max_items=MAX_VARIABLES,
        max_key_length=KEY_MAX_LENGTH,
        description=description,
        example=example,
    )


RECIPIENT = Schema(
    fields={
        "phone": CharField(
            max_length=PHONE_MAX_LENGTH,
            description="Phone number in international format, no spaces.",
            example="+5491112345678",
        ),
        "variables": _variables(
            "This recipient's template variables, keyed as on the send route.",
            {"name": "Juan Perez", "code": "ABC123"},
        ),
        "button_variables": _variables(
            "Dynamic button values keyed button_0, button_1, ... by the button's index.",
            {"button_0": "ABC-123"},
        ),
    }
)


@dataclass(frozen=True, kw_only=True)
class Recipients:
    """The validated list: how many, and ``SendBulkRequest.recipients`` as wire bytes."""

    count: int
    wire: bytes


def too_many(count: int) -> ApiError:
    problem = (
        f"Ensure this field has no more than {MAX_RECIPIENTS} elements ({count} given); "
        "split the list into several bulk sends."
    )
    return coded(400, f"recipients: {problem}", TOO_MANY)


@dataclass(frozen=True, kw_only=True)
class RecipientsField:
    """The ``Field`` for ``recipients``: its value validates to ``Recipients``."""

    required: bool = True
    default: str | None = None
    description: str = "List of recipients with their custom variables."

    def validate(self, value: object) -> Recipients:
        if value is None:
            raise Invalid([NULL])
        if not isinstance(value, list):
            kind = type(value).__name__
            message = f'Expected a list of items but got type "{kind}".'
            raise Invalid({"non_field_errors": [message]})
        if len(value) > MAX_RECIPIENTS:
            raise too_many(len(value))
        return _Encoder().encode_all(value)

    def json_schema(self) -> dict[str, object]:
        return {
            "type": "array",
            "items": RECIPIENT.json_schema(),
            "minItems": 1,
            "maxItems": MAX_RECIPIENTS,
            "description": (
                f"{self.description} At most {MAX_RECIPIENTS:,}; an empty list answers "
                '400 {"error": "recipients es requerido y no puede estar vacio"}. Duplicates '
                "(after normalisation) are sent once: the first occurrence wins."
            ),
        }


class _Encoder:
    """One list's encoding; remembers the encoding of variable names it has seen."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    def encode_all(self, items: list[object]) -> Recipients:
        encoded: list[bytes] = []
        errors: dict[int, Detail] = {}
        for index, item in enumerate(items):
            fast = self._plain(item)
            if fast is None:
                try:
                    fast = self._checked(item)
                except Invalid as problem:
                    errors[index] = problem.detail
                    continue
            encoded.append(fast)
        if errors:
            # DRF's ListSerializer: one entry per item, {} for the valid ones.
            detail = [errors.get(index, {}) for index in range(len(items))]
            raise Invalid(detail)
        return Recipients(count=len(items), wire=b"".join(encoded))

    def _checked(self, item: object) -> bytes:
        """DRF's path: the exact messages, or the item as DRF would have converted it."""
        if item is None:
            raise Invalid([NULL])
        valid = self._plain(RECIPIENT.validate(item))
        if valid is None:  # whatever DRF accepts is plain once converted
            raise RuntimeError("a recipient DRF accepts could not be encoded")
        return valid

    def _plain(self, item: object) -> bytes | None:
        """The encoded recipient when ``item`` needs no conversion and is valid; else None."""
        if type(item) is not dict:
            return None
        phone = _plain_text(item.get("phone"), PHONE_MAX_LENGTH, trim=True)
        if phone is None:
            return None
        variables = self._map(wire.VARIABLES, item.get("variables", _NO_VARIABLES))
        if variables is None:
            return None
        buttons = self._map(wire.BUTTON_VARIABLES, item.get("button_variables", _NO_VARIABLES))
        if buttons is None:
            return None
        return wire.recipient(phone, (variables, buttons))

    def _map(self, tag: bytes, mapping: object) -> bytes | None:
        # The hot loop of a large bulk: the checks of _plain_text, written out.
        if type(mapping) is not dict or len(mapping) > MAX_VARIABLES:
            return None
        entries = []
        keys = self._keys
        for key, value in mapping.items():
            key_part = keys.get(key) or self._key(key)
            if (
                key_part is None
                or type(value) is not str
                or len(value) > VALUE_MAX_LENGTH
                or "\x00" in value
            ):
                return None
            try:
                entries.append((key_part, value.encode()))
            except UnicodeEncodeError:
                return None
        return wire.map_entries(tag, entries)

    def _key(self, key: str) -> bytes | None:
        if len(key) > KEY_MAX_LENGTH or "\x00" in key:
            return None
        encoded = _utf8(key)
        if encoded is None:
            return None
        key_part = wire.map_key(encoded)
        if len(self._keys) < _KEY_CACHE_MAX:
            self._keys[key] = key_part
        return key_part


def _plain_text(value: object, max_length: int, *, trim: bool) -> bytes | None:
    """UTF-8 of a string DRF's ``CharField`` accepts unchanged (after trimming), else None."""
    if type(value) is not str:
        return None
    text = value.strip() if trim else value
    if len(text) > max_length or "\x00" in text or (trim and not text):
        return None
    return _utf8(text)


def _utf8(text: str) -> bytes | None:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: DRF's path names it
        return None
