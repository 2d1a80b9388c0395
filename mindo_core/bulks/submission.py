"""A submitted recipient list turned into validated, deduplicated recipients, or refused whole.

Rules (Send bulk page, "Automatic deduplication"; mindo-api.md §3):

* An empty list is refused with the documented message ("Empty recipients" example); more than
  ``MAX_RECIPIENTS`` (100,000) is refused too: split the list into several bulk sends.
* Every recipient is checked before anything is stored: its phone is normalised
  (``mindo_core.phones.e164``) and its variables are resolved against the template
  (``mindo_core.templating.resolution``), so each recipient's Meta components are known to be
  valid. This includes duplicates: a bad entry is a mistake in the request even when another
  entry for the same number is fine.
* If any recipient is invalid, the whole request is refused with ``InvalidRecipients``: every
  invalid one is counted, the first ``MAX_REPORTED_PROBLEMS`` (100) are listed as
  (index in the submitted list, phone as given, reason).
* Duplicates are numbers that normalise to the same ``wa_id`` (``"+54 9 11 1234-5678"`` and
  ``"5491112345678"`` are one recipient). The FIRST occurrence wins, with its variables; the
  later ones are dropped. ``total_recipients`` counts the list as submitted,
  ``unique_recipients`` what remains.

Speed: a bulk send checks up to 100,000 recipients, and the accept path's target is 100,000 in
1 s. The gRPC edge hands its protobuf messages over as they are (``SubmittedRecipient`` is a
protocol they satisfy): copying them into 100,000 ``RecipientInput`` values costs more than
checking them. The result is kept as columns (``PreparedBulk``), not one object per recipient:
fewer objects to build, and none for the garbage collector to walk again and again while the
list of a big request is still alive.

The recipients are checked in batches of ``BATCH_SIZE``, each first as columns (every phone, then
every value of one key, …) by loops that run in C: ``phones.shortcut_e164s`` for numbers typed
as plain digits, ``CompiledTemplate.accept_all`` for the variables. That path only accepts: a
batch it is not sure of (a refused recipient, an unusual template) is checked one recipient at a
time, the way that finds and reports every problem (``prepare_recipients_one_by_one``, the
reference the batches are tested against). Both give the same result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Final, Protocol, cast

from mindo_core.domain.errors import InvalidPhoneNumber, InvalidRequest, TemplateParameterError
from mindo_core.phones.batch import shortcut_e164s
from mindo_core.phones.e164 import to_e164
from mindo_core.templating.compiled import CompiledTemplate
from mindo_core.templating.model import TemplateSpec
from mindo_core.templating.resolution import ResolvedTemplate

__all__ = [
    "BATCH_SIZE",
    "EMPTY_RECIPIENTS_MESSAGE",
    "MAX_RECIPIENTS",
    "MAX_REPORTED_PROBLEMS",
    "EmptyRecipients",
    "InvalidRecipients",
    "PreparedBulk",
    "PreparedRecipient",
    "RecipientInput",
    "RecipientProblem",
    "SubmittedRecipient",
    "TooManyRecipients",
    "prepare_recipients",
    "prepare_recipients_one_by_one",
]

MAX_RECIPIENTS: Final = 100_000
MAX_REPORTED_PROBLEMS: Final = 100
# Verbatim from the Send bulk page's "400 - Empty recipients" example.
EMPTY_RECIPIENTS_MESSAGE: Final = "recipients es requerido y no puede estar vacio"
# Big enough that a batch's fixed costs do not count, small enough that one refused or unusual
# recipient sends few others to the one-by-one path.
BATCH_SIZE: Final = 1024

_NO_VALUES: Mapping[str, str] = MappingProxyType({})
# Recipients often share their variables (an event's date, no variables at all): one check
# serves them all. The bound keeps a list of all-different variables from holding a second copy;
# when that many recipients brought that many different sets, the memo is dropped: its keys cost
# half as much as the check they would save.
_RESOLUTION_MEMO_MAX = 4096
_SHOWN_PHONE_MAX = 64
_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class SubmittedRecipient(Protocol):
    """A recipient as submitted: a ``RecipientInput``, or an edge's own message with these
    attributes (the gRPC servicer's ``BulkRecipient``); only read, never kept."""

    @property
    def phone(self) -> str: ...

    @property
    def variables(self) -> Mapping[str, str]: ...

    @property
    def button_variables(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class RecipientInput:
    phone: str
    variables: Mapping[str, str] = field(default_factory=lambda: _NO_VALUES)
    button_variables: Mapping[str, str] = field(default_factory=lambda: _NO_VALUES)


@dataclass(frozen=True, kw_only=True, slots=True)
class PreparedRecipient:
    """A unique, valid recipient; ``index`` is its first position in the submitted list.

    Its values are checked; Meta's components are built from them only when asked for
    (``components``, ``components_json``, ``resolved()``): a bulk holds up to 100,000 of these,
    and the bulk engine builds each message again when it sends it. Recipients with identical
    variables may share ``variables_used``: never mutate it.
    """

    index: int
    e164: str
    variables_used: Mapping[str, str]
    # The bulk's template, shared by all its recipients.
    template: CompiledTemplate = field(repr=False, compare=False)

    @property
    def wa_id(self) -> str:
        return self.e164.removeprefix("+")

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.template.components(self.variables_used)

    @property
    def components_json(self) -> str:
        """``components`` as compact JSON text."""
        return _compact_json(self.components)

    def resolved(self) -> ResolvedTemplate:
        """What ``build_send_payload`` takes."""
        return ResolvedTemplate(
            components=self.components, variables_used=dict(self.variables_used)
        )


@dataclass(frozen=True, kw_only=True)
class PreparedBulk:
    """The unique, valid recipients in submission order, as three columns of equal length:
    ``indexes`` (first position in the submitted list), ``e164s`` and ``variables_used``
    (recipients with identical variables may share one mapping: never mutate it)."""

    total_recipients: int
    template: CompiledTemplate = field(repr=False)
    indexes: Sequence[int]
    e164s: Sequence[str]
    variables_used: Sequence[Mapping[str, str]] = field(repr=False)

    @property
    def unique_recipients(self) -> int:
        return len(self.e164s)

    @property
    def recipients(self) -> tuple[PreparedRecipient, ...]:
        """One value per recipient, built when asked (tests, small lists)."""
        columns = zip(self.indexes, self.e164s, self.variables_used, strict=True)
        return tuple(
            PreparedRecipient(index=i, e164=e164, variables_used=used, template=self.template)
            for i, e164, used in columns
        )

    def wa_ids(self) -> Iterator[str]:
        return (e164[1:] for e164 in self.e164s)


@dataclass(frozen=True, kw_only=True, slots=True)
class RecipientProblem:
    index: int
    # As submitted, cut to 64 characters.
    phone: str
    reason: str


class EmptyRecipients(InvalidRequest):
    code = "empty_recipients"

    def __init__(self) -> None:
        super().__init__(EMPTY_RECIPIENTS_MESSAGE)


class TooManyRecipients(InvalidRequest):
    code = "too_many_recipients"

    def __init__(self, count: int, limit: int) -> None:
        problem = (
            f"Ensure this field has no more than {limit} elements ({count} given); "
            "split the list into several bulk sends."
        )
        super().__init__(f"recipients: {problem}", field_errors={"recipients": [problem]})
        self.count = count
        self.limit = limit


class InvalidRecipients(InvalidRequest):
    """Some recipients cannot be sent; nothing was stored. ``problems`` lists the first 100."""

    code = "invalid_recipients"

    def __init__(
        self, problems: Sequence[RecipientProblem], *, invalid_count: int, total: int
    ) -> None:
        first = problems[0]
        listed = f" (the first {len(problems)} are listed)" if invalid_count > len(problems) else ""
        super().__init__(
            f"{invalid_count} of {total} recipients are invalid{listed}; nothing was sent. "
            f"recipients[{first.index}] {first.phone!r}: {first.reason}",
            field_errors={f"recipients.{p.index}": [p.reason] for p in problems},
        )
        self.problems: tuple[RecipientProblem, ...] = tuple(problems)
        self.invalid_count = invalid_count
        self.total = total


def prepare_recipients(
    spec: TemplateSpec,
    recipients: Sequence[SubmittedRecipient],
    *,
    max_recipients: int = MAX_RECIPIENTS,
    batch_size: int = BATCH_SIZE,
) -> PreparedBulk:
    """Validate and deduplicate ``recipients`` for ``spec`` (parsed once by the caller).

    ``batch_size``: how many recipients are checked together (see above); the result does not
    depend on it.
    """
    _check_size(recipients, max_recipients)
    preparation = _Preparation(CompiledTemplate(spec))
    remaining = iter(recipients)
    first = 0
    while batch := list(islice(remaining, batch_size)):
        preparation.add_batch(first, batch)
        first += len(batch)
    return preparation.result(total=len(recipients))


def prepare_recipients_one_by_one(
    spec: TemplateSpec,
    recipients: Sequence[SubmittedRecipient],
    *,
    max_recipients: int = MAX_RECIPIENTS,
) -> PreparedBulk:
    """What ``prepare_recipients`` gives, each recipient checked on its own: slower, and the
    reference its batches are tested against."""
    _check_size(recipients, max_recipients)
    preparation = _Preparation(CompiledTemplate(spec))
    for index, recipient in enumerate(recipients):
        preparation.add(index, recipient)
    return preparation.result(total=len(recipients))


def _check_size(recipients: Sequence[SubmittedRecipient], max_recipients: int) -> None:
    if not recipients:
        raise EmptyRecipients()
    if len(recipients) > max_recipients:
        raise TooManyRecipients(len(recipients), max_recipients)


_phone_of = attrgetter("phone")
_variables_of = attrgetter("variables")
_button_variables_of = attrgetter("button_variables")


class _Preparation:
    """The state of one ``prepare_recipients`` call."""

    def __init__(self, template: CompiledTemplate) -> None:
        self.template = template
        self.indexes: list[int] = []
        self.e164s: list[str] = []
        self.variables_used: list[Mapping[str, str]] = []
        # E.164 numbers: the same partition as phones.dedup_key (wa_id is E.164 without "+").
        self.seen: set[str] = set()
        self.problems: list[RecipientProblem] = []
        self.invalid_count = 0
        # Exact repeats of a phone text or of a set of variables are checked once.
        self.phones: dict[str, str | _Refused] = {}
        self.resolutions: dict[object, Mapping[str, str] | _Refused] | None = {}
        self.resolutions_reused = 0

    def add_batch(self, first: int, batch: list[SubmittedRecipient]) -> None:
        """Add ``batch``, whose first recipient is at ``first`` in the submitted list."""
        accepted = self.accepted(batch)
        if accepted is None:
            for index, recipient in enumerate(batch, start=first):
                self.add(index, recipient)
            return
        if self.invalid_count:
            return  # the request is refused: keep nothing for it
        e164s, used = accepted
        new = set(e164s)
        if len(new) == len(e164s) and self.seen.isdisjoint(new):
            self.seen.update(new)
            self.indexes.extend(range(first, first + len(batch)))
            self.e164s.extend(e164s)
            self.variables_used.extend(used)
            return
        for index, e164, values in zip(range(first, first + len(batch)), e164s, used, strict=True):
            if e164 not in self.seen:
                self.seen.add(e164)
                self.indexes.append(index)
                self.e164s.append(e164)
                self.variables_used.append(values)

    def accepted(
        self, batch: list[SubmittedRecipient]
    ) -> tuple[list[str], list[dict[str, str]]] | None:
        """Every recipient's E.164 number and values, when the batch is valid as a whole; else
        None: then check each recipient on its own (some may be refused)."""
        # Phones first: what is learnt of a phone that is not plain digits is remembered
        # (``phone``), so a batch refused here costs the one-by-one path nothing more.
        phones = list(map(_phone_of, batch))
        found = shortcut_e164s(phones)
        if None in found:
            for position, e164 in enumerate(found):
                if e164 is None:
                    number = self.phone(phones[position])
                    if isinstance(number, _Refused):
                        return None
                    found[position] = number
        variables = list(map(_variables_of, batch))
        button_variables = list(map(_button_variables_of, batch))
        used = self.template.accept_all(variables, button_variables)
        if used is None:
            return None
        return cast("list[str]", found), used

    def add(self, index: int, recipient: SubmittedRecipient) -> None:
        e164 = self.phone(recipient.phone)
        used = self.resolution(recipient.variables, recipient.button_variables)
        if isinstance(e164, _Refused) or isinstance(used, _Refused):
            reasons = [r.reason for r in (e164, used) if isinstance(r, _Refused)]
            self.refuse(index, recipient.phone, "; ".join(reasons))
            return
        if self.invalid_count or e164 in self.seen:
            return
        self.seen.add(e164)
        self.indexes.append(index)
        self.e164s.append(e164)
        self.variables_used.append(used)

    def phone(self, raw: str) -> str | _Refused:
        """The E.164 number, or why it is refused."""
        known = self.phones.get(raw)
        if known is None:
            try:
                known = to_e164(raw, field="phone")
            except InvalidPhoneNumber as error:
                known = _Refused(reason=f"phone: {error.message}")
            self.phones[raw] = known
        return known

    def resolution(
        self, variables: Mapping[str, str], button_variables: Mapping[str, str]
    ) -> Mapping[str, str] | _Refused:
        """The values the message uses, or why the variables are refused."""
        memo = self.resolutions
        if memo is None:
            return _checked_or_reason(self.template, variables, button_variables)
        key = (tuple(variables.items()), tuple(button_variables.items()))
        known = memo.get(key)
        if known is not None:
            self.resolutions_reused += 1
            return known
        known = _checked_or_reason(self.template, variables, button_variables)
        if len(memo) < _RESOLUTION_MEMO_MAX:
            memo[key] = known
        elif not self.resolutions_reused:
            self.resolutions = None
        return known

    def refuse(self, index: int, raw_phone: str, reason: str) -> None:
        self.invalid_count += 1
        # The request is refused: keep nothing for it.
        self.indexes.clear()
        self.e164s.clear()
        self.variables_used.clear()
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            phone = raw_phone[:_SHOWN_PHONE_MAX]
            self.problems.append(RecipientProblem(index=index, phone=phone, reason=reason))

    def result(self, *, total: int) -> PreparedBulk:
        if self.problems:
            raise InvalidRecipients(self.problems, invalid_count=self.invalid_count, total=total)
        return PreparedBulk(
            total_recipients=total,
            template=self.template,
            indexes=self.indexes,
            e164s=self.e164s,
            variables_used=self.variables_used,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class _Refused:
    reason: str


def _checked_or_reason(
    template: CompiledTemplate, variables: Mapping[str, str], button_variables: Mapping[str, str]
) -> Mapping[str, str] | _Refused:
    try:
        return template.check(variables, button_variables)
    except TemplateParameterError as error:
        reason = "; ".join(
            f"{name}: {message}"
            for name, messages in error.field_errors.items()
            for message in messages
        )
        return _Refused(reason=reason)
