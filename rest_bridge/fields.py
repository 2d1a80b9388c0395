"""Request validation that answers exactly as Django REST Framework serializers do.

The documented error bodies are DRF's (``{"phone_number_id": ["This field is required."]}``), so
clients may parse them: the messages, the nesting of a dict's child errors and the field order
of the error map (declaration order) are reproduced. The same declarations also produce the
OpenAPI schemas (``json_schema``), so the document cannot drift from what is enforced.

Beyond DRF, every accepted string is safe for protobuf: no lone surrogates anywhere, keys
included, and bounded sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

# A DRF error detail: the messages of one field, per-key details of a nested value, or one
# detail per item of a list (``{}`` for a valid item).
Detail = list[str] | list["Detail"] | dict[str, "Detail"]

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_A_STRING = "Not a valid string."
NULL_CHARACTERS = "Null characters are not allowed."
NO_DATA = "No data provided"


class Invalid(Exception):
    """The value is not acceptable; ``detail`` is what DRF would report for it."""

    def __init__(self, detail: Detail) -> None:
        super().__init__(detail)
        self.detail = detail


class Field(Protocol):
    @property
    def required(self) -> bool: ...

    @property
    def default(self) -> str | None: ...

    def validate(self, value: object) -> object: ...

    def json_schema(self) -> dict[str, object]: ...


def _max_length(limit: int) -> str:
    return f"Ensure this field has no more than {limit} characters."


def _surrogate(text: str) -> str | None:
    """DRF's message for the first lone surrogate, which protobuf could not encode."""
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:
            return f"Surrogate characters are not allowed: U+{ord(char):X}."
    return None


def _type_name(value: object) -> str:
    return type(value).__name__


@dataclass(frozen=True, kw_only=True)
class CharField:
    """DRF's ``CharField``: numbers become strings; booleans, objects and arrays do not."""

    max_length: int
    required: bool = True
    default: str | None = None
    allow_blank: bool = False
    trim_whitespace: bool = True
    description: str = ""
    example: str | None = None

    def validate(self, value: object) -> str:
        if value is None:
            raise Invalid([NULL])
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Invalid([NOT_A_STRING])
        text = str(value).strip() if self.trim_whitespace else str(value)
        if text == "" and not self.allow_blank:
            raise Invalid([BLANK])
        problems = self._problems(text)
        if problems:
            raise Invalid(problems)
        return text

    def _problems(self, text: str) -> list[str]:
        # DRF runs every validator and reports all their messages, in this order.
        problems = [_max_length(self.max_length)] if len(text) > self.max_length else []
        if "\x00" in text:
            problems.append(NULL_CHARACTERS)
        surrogate = _surrogate(text)
        return [*problems, surrogate] if surrogate else problems

    def json_schema(self) -> dict[str, object]:
        schema: dict[str, object] = {"type": "string", "maxLength": self.max_length}
        if not self.allow_blank:
            schema["minLength"] = 1
        return _annotated(schema, self.description, self.default, self.example)


@dataclass(frozen=True, kw_only=True)
class DictField:
    """DRF's ``DictField(child=…)``: a JSON object whose values each pass ``child``."""

    child: CharField
    max_items: int
    max_key_length: int
    required: bool = False
    default: str | None = None
    description: str = ""
    example: Mapping[str, str] | None = None

    def validate(self, value: object) -> dict[str, str]:
        if value is None:
            raise Invalid([NULL])
        if not isinstance(value, dict):
            raise Invalid([f'Expected a dictionary of items but got type "{_type_name(value)}".'])
        problems = self._shape_problems(value)
        if problems:
            raise Invalid(problems)
        return self._children(value)

    def _shape_problems(self, value: dict[str, object]) -> list[str]:
        # Not DRF (it bounds nothing here): keys are checked as a whole so that an error body
        # never has to echo a huge or unencodable key back to the client.
        problems = []
        if len(value) > self.max_items:
            problems.append(f"Ensure this field has no more than {self.max_items} elements.")
        if any(len(key) > self.max_key_length for key in value):
            problems.append(f"Ensure every key has no more than {self.max_key_length} characters.")
        if any("\x00" in key or _surrogate(key) for key in value):
            problems.append("Keys may not contain null or surrogate characters.")
        return problems

    def _children(self, value: dict[str, object]) -> dict[str, str]:
        result: dict[str, str] = {}
        errors: dict[str, Detail] = {}
        for key, item in value.items():
            try:
                result[key] = self.child.validate(item)
            except Invalid as problem:
                errors[key] = problem.detail
        if errors:
            raise Invalid(errors)
        return result

    def json_schema(self) -> dict[str, object]:
        schema: dict[str, object] = {
            "type": "object",
            "additionalProperties": self.child.json_schema(),
            "maxProperties": self.max_items,
            "propertyNames": {"maxLength": self.max_key_length},
        }
        return _annotated(schema, self.description, None, self.example)


@dataclass(frozen=True, kw_only=True)
class IntegerField:
    """DRF's ``IntegerField(min_value=0, max_value=…)``: an integral JSON number, or a string of
    digits as DRF takes them; booleans are not numbers."""

    max_value: int = 2**31 - 1
    required: bool = True
    default: str | None = None
    description: str = ""

    def validate(self, value: object) -> int:
        number = self._integer(value)
        if number is None:
            raise Invalid([self._problem(value)])
        return number

    def _integer(self, item: object) -> int | None:
        if isinstance(item, bool):
            return None
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, str) and item.strip().isdigit() and item.strip().isascii():
            item = int(item.strip())
        if isinstance(item, int) and 0 <= item <= self.max_value:
            return item
        return None

    def _problem(self, item: object) -> str:
        if isinstance(item, int) and not isinstance(item, bool):
            if item < 0:
                return "Ensure this value is greater than or equal to 0."
            return f"Ensure this value is less than or equal to {self.max_value}."
        return "A valid integer is required."

    def json_schema(self) -> dict[str, object]:
        schema: dict[str, object] = {"type": "integer", "minimum": 0, "maximum": self.max_value}
        return _annotated(schema, self.description, None, None)


@dataclass(frozen=True, kw_only=True)
class ListField:
    """DRF's ``ListField(child=…)``: a JSON array whose items each pass ``child`` (a field, or
    a ``Schema`` for an array of objects).

    Errors are DRF's, keyed by the index of each item at fault (``{"3": {"phone": [...]}}``),
    but only the first ``MAX_ITEM_ERRORS`` items are named, so that an error body stays small
    whatever the list's length.
    """

    child: CharField | IntegerField | Schema
    max_items: int
    required: bool = False
    allow_empty: bool = True
    default: str | None = None
    description: str = ""
    example: list[str] | None = None

    MAX_ITEM_ERRORS: ClassVar[int] = 20

    def validate(self, value: object) -> list[Any]:
        if value is None:
            raise Invalid([NULL])
        if not isinstance(value, list):
            raise Invalid([f'Expected a list of items but got type "{_type_name(value)}".'])
        if not value and not self.allow_empty:
            raise Invalid(["This list may not be empty."])
        if len(value) > self.max_items:
            raise Invalid([f"Ensure this field has no more than {self.max_items} elements."])
        items: list[Any] = []
        errors: dict[str, Detail] = {}
        for index, item in enumerate(value):
            try:
                items.append(self.child.validate(item))
            except Invalid as problem:
                if len(errors) < self.MAX_ITEM_ERRORS:
                    errors[str(index)] = problem.detail
        if errors:
            raise Invalid(errors)
        return items

    def json_schema(self) -> dict[str, object]:
        schema: dict[str, object] = {
            "type": "array",
            "items": self.child.json_schema(),
            "maxItems": self.max_items,
        }
        if not self.allow_empty:
            schema["minItems"] = 1
        return _annotated(schema, self.description, None, self.example)


def _annotated(
    schema: dict[str, object], description: str, default: object, example: object
) -> dict[str, object]:
    if description:
        schema["description"] = description
    if default is not None:
        schema["default"] = default
    if example is not None:
        schema["examples"] = [example]
    return schema


@dataclass(frozen=True, kw_only=True)
class Schema:
    """DRF's ``Serializer``: unknown keys are ignored, errors come in declaration order."""

    fields: Mapping[str, Field]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def validate(self, data: object) -> dict[str, object]:
        if data is None:
            raise Invalid({"non_field_errors": [NO_DATA]})
        if not isinstance(data, dict):
            message = f"Invalid data. Expected a dictionary, but got {_type_name(data)}."
            raise Invalid({"non_field_errors": [message]})
        validated: dict[str, object] = {}
        errors: dict[str, Detail] = {}
        for name, field in self.fields.items():
            try:
                self._validate_one(name, field, data, validated)
            except Invalid as problem:
                errors[name] = problem.detail
        if errors:
            raise Invalid(errors)
        return validated

    @staticmethod
    def _validate_one(
        name: str, field: Field, data: dict[str, object], validated: dict[str, object]
    ) -> None:
        if name in data:
            validated[name] = field.validate(data[name])
        elif field.required:
            raise Invalid([REQUIRED])
        elif field.default is not None:
            validated[name] = field.default

    def json_schema(self) -> dict[str, object]:
        return {
            "type": "object",
            "required": [name for name, field in self.fields.items() if field.required],
            "properties": {name: field.json_schema() for name, field in self.fields.items()},
        }
