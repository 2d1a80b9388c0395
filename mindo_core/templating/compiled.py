"""``resolve`` for one template worked out once for many requests: ``CompiledTemplate``.

A request is first tried on an accepting path (known keys, values that pass the cheap checks),
asked of many requests at once as columns for a bulk; anything else goes through the full
resolution (``resolution``), which finds and reports every problem.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from mindo_core.templating.model import (
    FILENAME_KEY,
    ButtonSpec,
    LocationHeader,
    MediaHeader,
    TemplateSpec,
    TextHeader,
    TextParameter,
)
from mindo_core.templating.resolution import (
    Component,
    ResolvedTemplate,
    button_component,
    resolve_reporting_problems,
)
from mindo_core.templating.rules import (
    BODY_ONLY_TEXT_MAX,
    BODY_TEXT_MAX,
    FORBIDDEN_WHITESPACE,
    HEADER_TEXT_MAX,
    URL_MAX,
    Problem,
    code_is_fine,
    media_reference,
    payload_problems,
)


def resolve(
    spec: TemplateSpec, variables: Mapping[str, str], button_variables: Mapping[str, str]
) -> ResolvedTemplate:
    """Fill the template or raise ``TemplateParameterError`` listing every problem."""
    return CompiledTemplate(spec).resolve(variables, button_variables)


class CompiledTemplate:
    """``resolve`` for one template, worked out once for many requests (a bulk send's).

    Each key's default, limit and checks are looked up once. A request is first tried on a
    path that only accepts: the keys are known, every value passes the cheap checks. Anything
    else (a problem, or a template with a location header or a one-time-password button) goes
    through the full resolution, which finds and reports every problem. Both paths give the
    same result for the same request; the first one merely does less work.

    ``check`` validates without building Meta's components; ``components`` builds them later
    from what ``check`` returned. Together they give what ``resolve`` gives. ``accept_all``
    asks the accepting path's questions of many requests at once (a bulk send's recipients).
    """

    __slots__ = ("_button_keys", "_columns", "_steps", "_variable_keys", "spec")

    def __init__(self, spec: TemplateSpec) -> None:
        self.spec = spec
        self._variable_keys = spec.variable_keys()
        self._button_keys = spec.button_keys()
        self._steps = _compile(spec)
        # Worked out by the first ``accept_all``: a single send compiles its template for one
        # request and never asks.
        self._columns: tuple[_Column, ...] | _NotYet | None = _NOT_YET

    def resolve(
        self, variables: Mapping[str, str], button_variables: Mapping[str, str]
    ) -> ResolvedTemplate:
        """What ``resolve`` gives for this template, or the ``TemplateParameterError`` it raises."""
        used = self._accepted(variables, button_variables)
        if used is None:
            return resolve_reporting_problems(self.spec, variables, button_variables)
        return ResolvedTemplate(components=self._built(used), variables_used=used)

    def check(
        self, variables: Mapping[str, str], button_variables: Mapping[str, str]
    ) -> dict[str, str]:
        """``resolve(…).variables_used``, or the ``TemplateParameterError`` it raises."""
        used = self._accepted(variables, button_variables)
        if used is None:
            return resolve_reporting_problems(self.spec, variables, button_variables).variables_used
        return used

    def accept_all(
        self,
        variables: Sequence[Mapping[str, str]],
        button_variables: Sequence[Mapping[str, str]],
    ) -> list[dict[str, str]] | None:
        """``check`` of each request (``variables[i]``, ``button_variables[i]``) when the
        accepting path accepts every one of them, else None: then ``check`` them one by one,
        which finds and reports any problem (None does not say there is one).

        Requests with the same values may share one dict: never mutate them. The questions are
        those of the accepting path, each asked of one key across all the requests at once in
        loops that run in C (``_Column``): a bulk asks them of up to 100,000 recipients.
        """
        columns = self._columns
        if isinstance(columns, _NotYet):
            columns = self._columns = _columns_of(self._steps)
        count = len(variables)
        if columns is None or len(button_variables) != count:
            return None
        values: list[list[str | None]] = []
        # How many of the template's keys the requests have, in variables and in buttons.
        found = [0, 0]
        for column in columns:
            accepted = column.accepted_values(button_variables if column.in_buttons else variables)
            if accepted is None:
                return None
            values.append(accepted[0])
            found[column.in_buttons] += accepted[1]
        # No request has a key the template does not have: per request, the keys found are at
        # most its keys, so the totals are equal only if every request's are.
        if sum(map(len, variables)) != found[0] or sum(map(len, button_variables)) != found[1]:
            return None
        return _mappings(columns, values, count)

    def components(self, variables_used: Mapping[str, str]) -> list[Component]:
        """``resolve(…).components`` for the request ``check`` returned ``variables_used`` for."""
        if self._steps is None:
            variables = {k: v for k, v in variables_used.items() if k not in self._button_keys}
            buttons = {k: v for k, v in variables_used.items() if k in self._button_keys}
            return resolve_reporting_problems(self.spec, variables, buttons).components
        return self._built(variables_used)

    def _accepted(
        self, variables: Mapping[str, str], button_variables: Mapping[str, str]
    ) -> dict[str, str] | None:
        """The values used when the accepting path accepts the request, else None."""
        if (
            self._steps is None
            or not self._variable_keys.issuperset(variables)
            or not self._button_keys.issuperset(button_variables)
        ):
            return None
        used: dict[str, str] = {}
        for step in self._steps:
            if not step.accepts(variables, button_variables, used):
                return None
        return used

    def _built(self, used: Mapping[str, str]) -> list[Component]:
        assert self._steps is not None
        components = (step.build(used) for step in self._steps)
        return [component for component in components if component is not None]


_Values = Mapping[str, str]


class _Step(Protocol):
    def accepts(self, variables: _Values, buttons: _Values, used: dict[str, str]) -> bool: ...

    def build(self, used: _Values) -> Component | None: ...

    def columns(self) -> tuple[_Column, ...] | None:
        """The keys ``accepts`` reads, in the order it records them; None: ask ``accepts``."""
        ...


def _compile(spec: TemplateSpec) -> tuple[_Step, ...] | None:
    """The steps of ``spec``'s components, or None when every request takes the full path."""
    if spec.variable_keys() & spec.button_keys() or isinstance(spec.header, LocationHeader):
        return None  # a header or body key named like a button; location: rare, left to it
    if any(b.kind == "OTP" for b in spec.buttons):
        return None  # its value may be the body's: rare, left to the full path
    steps: list[_Step] = []
    header = spec.header
    if isinstance(header, TextHeader):
        steps.append(_text_step(spec, "header", header.parameters, HEADER_TEXT_MAX))
    elif isinstance(header, MediaHeader):
        steps.append(_MediaStep(spec, header))
    if spec.body is not None:
        limit = BODY_ONLY_TEXT_MAX if spec.body_is_only_component else BODY_TEXT_MAX
        steps.append(_text_step(spec, "body", spec.body.parameters, limit))
    steps.extend(_ButtonStep(spec, button) for button in spec.buttons if button.takes_value)
    return tuple(steps)


def _given_or_default(values: _Values, key: str, default: str | None) -> str | None:
    """The value to use, None when there is none, ``""`` for a blank one (always refused)."""
    value = values.get(key)
    if value is None:
        return default
    return value if value.strip() else ""


def _text_step(
    spec: TemplateSpec, kind: str, parameters: tuple[TextParameter, ...], limit: int
) -> _Step:
    named = spec.parameter_format == "NAMED"
    return _TextStep(
        kind=kind,
        limit=limit,
        parameters=tuple(
            (p.key, p.meta_name if named else None, spec.default_for(p.key)) for p in parameters
        ),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class _TextStep:
    kind: str
    limit: int
    # (key, Meta's parameter_name for NAMED templates, default): every one required.
    parameters: tuple[tuple[str, str | None, str | None], ...]

    def accepts(self, variables: _Values, buttons: _Values, used: dict[str, str]) -> bool:
        # Every value of every recipient of a bulk passes here: kept to plain operations.
        limit = self.limit
        for key, _, default in self.parameters:
            value = variables.get(key)
            if value is None:
                if default is None:
                    return False
                value = default
            elif not value.strip():
                return False
            if len(value) > limit or FORBIDDEN_WHITESPACE.search(value) is not None:
                return False
            used[key] = value
        return True

    def columns(self) -> tuple[_Column, ...]:
        return tuple(
            _Column(key=key, in_buttons=False, default=default, max_length=self.limit)
            for key, _, default in self.parameters
        )

    def build(self, used: _Values) -> Component | None:
        if not self.parameters:
            return None
        sent = [
            {"type": "text", "text": used[key]}
            if meta_name is None
            else {"type": "text", "parameter_name": meta_name, "text": used[key]}
            for key, meta_name, _ in self.parameters
        ]
        return {"type": self.kind, "parameters": sent}


class _MediaStep:
    __slots__ = ("_default", "_filename_default", "_key", "_kind", "_with_filename")

    def __init__(self, spec: TemplateSpec, header: MediaHeader) -> None:
        self._key = header.key
        self._kind = header.format.lower()
        self._default = spec.default_for(header.key)
        self._with_filename = header.format == "DOCUMENT"
        self._filename_default = spec.default_for(FILENAME_KEY)

    def accepts(self, variables: _Values, buttons: _Values, used: dict[str, str]) -> bool:
        value = _given_or_default(variables, self._key, self._default)
        if not value or isinstance(media_reference(value), Problem):
            return False
        used[self._key] = value
        if self._with_filename:
            filename = _given_or_default(variables, FILENAME_KEY, self._filename_default)
            if filename == "":
                return False
            if filename is not None:
                used[FILENAME_KEY] = filename
        return True

    def columns(self) -> None:
        return None  # media headers are rare in bulk sends: each request is asked on its own

    def build(self, used: _Values) -> Component | None:
        reference = media_reference(used[self._key])
        assert not isinstance(reference, Problem), "built from accepted values only"
        if self._with_filename and FILENAME_KEY in used:
            reference["filename"] = used[FILENAME_KEY]
        return {"type": "header", "parameters": [{"type": self._kind, self._kind: reference}]}


class _ButtonStep:
    __slots__ = ("_button", "_default", "_fixed_url_length", "_key", "_kind", "_url_variables")

    def __init__(self, spec: TemplateSpec, button: ButtonSpec) -> None:
        self._button = button
        self._key = button.key
        self._kind = button.kind
        self._default = spec.default_for(button.key)
        url = button.url or ""
        # The URL's length once filled, as url_problems measures it: fixed part plus suffixes.
        self._url_variables = url.count("{{1}}")
        self._fixed_url_length = len(url) - len("{{1}}") * self._url_variables

    def accepts(self, variables: _Values, buttons: _Values, used: dict[str, str]) -> bool:
        value = _given_or_default(buttons, self._key, self._default)
        if value is None and self._kind == "QUICK_REPLY":
            return True  # optional: sent only when given
        if not value:
            return False
        if self._kind == "QUICK_REPLY":
            fine = not payload_problems(value)
        elif self._kind == "COPY_CODE":
            fine = code_is_fine(value)
        else:
            url_length = self._fixed_url_length + self._url_variables * len(value)
            fine = url_length <= URL_MAX and FORBIDDEN_WHITESPACE.search(value) is None
        if fine:
            used[self._key] = value
        return fine

    def columns(self) -> tuple[_Column, ...]:
        key, default = self._key, self._default
        if self._kind == "QUICK_REPLY":
            return (
                _Column(
                    key=key,
                    in_buttons=True,
                    default=default,
                    optional=True,
                    whitespace_checked=False,
                    fine=_payload_is_fine,
                ),
            )
        if self._kind == "COPY_CODE":
            column = _Column(
                key=key,
                in_buttons=True,
                default=default,
                whitespace_checked=False,
                fine=code_is_fine,
            )
            return (column,)
        # fixed + variables × length <= URL_MAX, as a bound on the length (a URL button that
        # takes a value has at least one variable; with none, max(…, 1) only refuses more).
        longest = (URL_MAX - self._fixed_url_length) // max(self._url_variables, 1)
        return (_Column(key=key, in_buttons=True, default=default, max_length=longest),)

    def build(self, used: _Values) -> Component | None:
        value = used.get(self._key)
        if value is None:
            return None
        if self._kind == "QUICK_REPLY":
            return button_component(
                self._button, "quick_reply", {"type": "payload", "payload": value}
            )
        if self._kind == "COPY_CODE":
            parameter = {"type": "coupon_code", "coupon_code": value}
            return button_component(self._button, "copy_code", parameter)
        return button_component(self._button, "url", {"type": "text", "text": value})


# -- the accepting path for many requests at once ------------------------------------------------
# A column is one key's values across the requests. Its checks are those of the steps' ``accepts``
# asked of the whole column with C loops: ``str.strip`` for blank values, ``max(map(len, …))``
# for the length, FORBIDDEN_WHITESPACE looked for in the values joined by "\x00" (which is
# neither a tab, a line break nor a space, so the joining neither creates nor hides a match).
# They may refuse more than ``accepts`` does (a default is checked like a given value), never
# less: a refused column sends every request to ``check``.


_JOINER = "\x00"


# What FORBIDDEN_WHITESPACE finds, as substrings: ``in`` scans a long text some 40 times faster
# than the regex engine, which tries a match at every position. (A test fails if the regex
# changes: change both.)
_FORBIDDEN_SUBSTRINGS = ("\n", "\r", "\t", " " * 5)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Column:
    """One key that a step's ``accepts`` reads, and what it asks of the key's value."""

    key: str
    in_buttons: bool
    default: str | None
    # Without a value or a default: not sent (a quick reply's payload), else refused.
    optional: bool = False
    max_length: int = sys.maxsize
    whitespace_checked: bool = True
    # Any other test of each value.
    fine: Callable[[str], bool] | None = None

    def accepted_values(self, requests: Sequence[_Values]) -> tuple[list[str | None], int] | None:
        """Each request's value (None: none is sent) and how many requests have the key, when
        ``accepts`` accepts every one; else None."""
        given = [request.get(self.key) for request in requests]
        absent = given.count(None)
        values = given
        checked = cast("list[str]", given)
        if absent:
            if self.default is not None:
                default = self.default
                checked = [default if value is None else value for value in given]
                values = cast("list[str | None]", checked)
            elif self.optional:
                checked = [value for value in given if value is not None]
            else:
                return None  # required, and missing
        try:
            fine = (
                all(map(str.strip, checked))
                and max(map(len, checked), default=0) <= self.max_length
                and not (self.whitespace_checked and _has_forbidden_whitespace(checked))
                and (self.fine is None or all(map(self.fine, checked)))
            )
        except TypeError:  # a value that is not text: ``check`` says what it says of it
            return None
        return (values, len(given) - absent) if fine else None


def _has_forbidden_whitespace(values: list[str]) -> bool:
    """Whether FORBIDDEN_WHITESPACE finds something in any of ``values``."""
    joined = _JOINER.join(values)
    return any(forbidden in joined for forbidden in _FORBIDDEN_SUBSTRINGS)


class _NotYet:
    """``CompiledTemplate._columns`` before the first ``accept_all``."""


_NOT_YET = _NotYet()


def _columns_of(steps: tuple[_Step, ...] | None) -> tuple[_Column, ...] | None:
    if steps is None:
        return None
    columns: list[_Column] = []
    for step in steps:
        step_columns = step.columns()
        if step_columns is None:
            return None
        columns.extend(step_columns)
    return tuple(columns)


def _payload_is_fine(value: str) -> bool:
    return not payload_problems(value)


def _mappings(
    columns: tuple[_Column, ...], values: list[list[str | None]], count: int
) -> list[dict[str, str]]:
    """Each request's values as the dict ``check`` gives (its keys in the same order)."""
    if not count:
        return []
    # The same values for every request (no variables, or one event's date for all): one dict.
    if all(column_values.count(column_values[0]) == count for column_values in values):
        first = ((column.key, v[0]) for column, v in zip(columns, values, strict=True))
        return [{key: value for key, value in first if value is not None}] * count
    mappings: list[dict[str, str]] = [{} for _ in range(count)]
    for column, column_values in zip(columns, values, strict=True):
        key = column.key
        if column.optional and column.default is None:  # None where the request has no value
            for mapping, value in zip(mappings, column_values, strict=True):
                if value is not None:
                    mapping[key] = value
        else:
            for mapping, given in zip(mappings, cast("list[str]", column_values), strict=True):
                mapping[key] = given
    return mappings
