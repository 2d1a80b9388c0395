"""Query-string filters read as django-filter reads them behind DRF.

- A repeated parameter counts by its last value (Django's ``QueryDict``); an empty value is no
  filter; unknown parameters are ignored.
- Bad values answer 400 with DRF's field map, in declaration order and with Django's messages:
  ``{"created_after": ["Enter a valid date."]}``.
- As for bodies, the key is checked first: only a key that may use the route learns what is
  wrong with its query (``validated_query``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

from aiohttp import web
from multidict import MultiMapping

from rest_bridge.fields import Detail, Invalid
from rest_bridge.inputs import confirm_api_key
from rest_bridge.problems import ApiError

T = TypeVar("T")
Query = MultiMapping[str]

INT64_MAX = 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def last(query: Query, name: str) -> str | None:
    values = query.getall(name, [])
    return values[-1] if values else None


async def validated_query(
    request: web.Request, parse: Callable[[Query], T], *, api_key: str, scope: str
) -> T:
    """``parse(request.query)``; when it refuses the query, the key is checked first."""
    try:
        return parse(request.query)
    except Invalid as invalid:
        await confirm_api_key(request, api_key=api_key, scope=scope)
        raise ApiError(400, invalid.detail) from None
    except ApiError:
        await confirm_api_key(request, api_key=api_key, scope=scope)
        raise


class Filter(Protocol):
    def parse(self, text: str) -> object: ...

    def json_schema(self) -> dict[str, object]: ...

    @property
    def description(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class Choice:
    """One of ``choices``, in any case: ``normalise`` (``str.upper``…) gives the form sent on."""

    choices: tuple[str, ...]
    normalise: Callable[[str], str]
    description: str

    def parse(self, text: str) -> str:
        value = self.normalise(text.strip())
        if value not in self.choices:
            raise Invalid([f"Select a valid choice. {text} is not one of the available choices."])
        return value

    def json_schema(self) -> dict[str, object]:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True, kw_only=True)
class PositiveInteger:
    """Django's ``IntegerField(min_value=1)``, within protobuf's int64."""

    description: str

    def parse(self, text: str) -> int:
        if not _INTEGER.fullmatch(text.strip()):
            raise Invalid(["Enter a whole number."])
        number = int(text)
        if number < 1:
            raise Invalid(["Ensure this value is greater than or equal to 1."])
        if number > INT64_MAX:
            raise Invalid([f"Ensure this value is less than or equal to {INT64_MAX}."])
        return number

    def json_schema(self) -> dict[str, object]:
        return {"type": "integer", "minimum": 1, "maximum": INT64_MAX}


@dataclass(frozen=True, kw_only=True)
class Day:
    """A calendar date written ``YYYY-MM-DD`` (the documented format, and only it)."""

    description: str

    def parse(self, text: str) -> str:
        value = text.strip()
        try:
            if not _DAY.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise Invalid(["Enter a valid date."]) from None

    def json_schema(self) -> dict[str, object]:
        return {"type": "string", "format": "date", "examples": ["2025-11-01"]}


@dataclass(frozen=True, kw_only=True)
class Filters:
    fields: Mapping[str, Filter]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def parse(self, query: Query) -> dict[str, object]:
        """The filters given (empty ones left out); ``Invalid`` with every bad one."""
        values: dict[str, object] = {}
        errors: dict[str, Detail] = {}
        for name, field in self.fields.items():
            text = last(query, name)
            if not text:
                continue
            try:
                values[name] = field.parse(text)
            except Invalid as problem:
                errors[name] = problem.detail
        if errors:
            raise Invalid(errors)
        return values

    def parameters(self) -> list[dict[str, object]]:
        """The OpenAPI parameter objects."""
        return [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": field.description,
                "schema": field.json_schema(),
            }
            for name, field in self.fields.items()
        ]
