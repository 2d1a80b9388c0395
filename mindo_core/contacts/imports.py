"""Importing contacts: the rows an organisation gives, checked and merged before any is stored.

An import is all or nothing: one row that cannot be a contact (a phone that cannot be a number,
an email that is not one, a name too long) refuses the whole import, naming the first rows at
fault, so that a fixed file can simply be imported again. Phones are read in every documented
form; two rows of one phone are one contact, the later row's fields winning (a spreadsheet
edited by appending). An imported row sets the fields it has and leaves the others as they
were: importing phones alone never erases a name. Being on the suppression list is not an
import's business: it neither adds nor removes anyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from mindo_core.contacts.model import ContactList
from mindo_core.domain.errors import InvalidPhoneNumber, InvalidRequest
from mindo_core.phones.e164 import to_e164

__all__ = [
    "MAX_CONTACTS_PER_IMPORT",
    "ContactEntry",
    "ContactInput",
    "EmptyImport",
    "ImportReport",
    "InvalidContacts",
    "PreparedImport",
    "TooManyContacts",
    "contact_list_name",
    "prepare_import",
]

MAX_CONTACTS_PER_IMPORT: Final = 100_000
MAX_NAME_CHARS: Final = 256
MAX_EMAIL_CHARS: Final = 254
MAX_LIST_NAME_CHARS: Final = 200
# The rows at fault an error names; the count says how many there are in all.
_LISTED_PROBLEMS: Final = 20
# Deliberately loose (RFC 5322 allows far more than any validator gets right): one @, a dot
# in the domain, no spaces. A mistyped column (a phone in the email column) is what it catches.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
LIST_FIELD: Final = "contact_list_name"


@dataclass(frozen=True, kw_only=True)
class ContactInput:
    """One row as given: the phone in any documented form; empty strings are absent fields."""

    phone: str
    full_name: str | None = None
    email: str | None = None


@dataclass(frozen=True, kw_only=True)
class ContactEntry:
    """One row as stored: the phone in E.164, the name and email checked and trimmed."""

    phone: str
    full_name: str | None = None
    email: str | None = None


@dataclass(frozen=True, kw_only=True)
class PreparedImport:
    entries: tuple[ContactEntry, ...]  # one per phone, in first-seen order
    merged: int  # rows that repeated a phone seen earlier in the import


@dataclass(frozen=True, kw_only=True)
class ImportReport:
    created: int  # contacts that did not exist
    updated: int  # contacts that existed (their given fields set)
    merged: int  # rows that repeated a phone of the import
    contact_list: ContactList | None  # the list they were put on, when one was named


@dataclass(frozen=True, kw_only=True)
class _Problem:
    index: int
    field: str
    reason: str


class EmptyImport(InvalidRequest):
    code = "empty_contacts"

    def __init__(self) -> None:
        super().__init__(
            "contacts: this list may not be empty.",
            field_errors={"contacts": ["This list may not be empty."]},
        )


class TooManyContacts(InvalidRequest):
    code = "too_many_contacts"

    def __init__(self, count: int, limit: int) -> None:
        problem = (
            f"Ensure this field has no more than {limit:,} elements ({count:,} given); "
            "import the file in parts."
        )
        super().__init__(f"contacts: {problem}", field_errors={"contacts": [problem]})


class InvalidContacts(InvalidRequest):
    """Some rows cannot be contacts; nothing was stored. Names the first rows at fault."""

    code = "invalid_contacts"

    def __init__(self, problems: Sequence[_Problem], *, invalid_count: int, total: int) -> None:
        first = problems[0]
        super().__init__(
            f"{invalid_count:,} of {total:,} contacts are invalid; nothing was imported. "
            f"contacts[{first.index}].{first.field}: {first.reason}",
            field_errors={f"contacts.{p.index}.{p.field}": [p.reason] for p in problems},
        )
        self.invalid_count = invalid_count


def prepare_import(
    rows: Sequence[ContactInput], *, max_contacts: int = MAX_CONTACTS_PER_IMPORT
) -> PreparedImport:
    """The rows checked and merged by phone, or the import's error (see the module)."""
    if not rows:
        raise EmptyImport()
    if len(rows) > max_contacts:
        raise TooManyContacts(len(rows), max_contacts)
    merged: dict[str, ContactEntry] = {}
    problems: list[_Problem] = []
    invalid_rows: set[int] = set()
    for index, row in enumerate(rows):
        entry = _entry(index, row, problems)
        if entry is None:
            invalid_rows.add(index)
        elif (earlier := merged.get(entry.phone)) is not None:
            merged[entry.phone] = _later_wins(earlier, entry)
        else:
            merged[entry.phone] = entry
    if problems:
        listed = problems[:_LISTED_PROBLEMS]
        raise InvalidContacts(listed, invalid_count=len(invalid_rows), total=len(rows))
    return PreparedImport(entries=tuple(merged.values()), merged=len(rows) - len(merged))


def contact_list_name(name: str | None) -> str | None:
    """The list's name trimmed; None (no list) when absent or blank."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if len(name) > MAX_LIST_NAME_CHARS:
        raise InvalidRequest.for_field(
            LIST_FIELD, f"Ensure this field has no more than {MAX_LIST_NAME_CHARS} characters."
        )
    if any(not char.isprintable() for char in name):
        raise InvalidRequest.for_field(LIST_FIELD, "Control characters are not allowed.")
    return name


def _entry(index: int, row: ContactInput, problems: list[_Problem]) -> ContactEntry | None:
    found = len(problems)
    phone = _phone(index, row.phone, problems)
    full_name = _present(row.full_name)
    if full_name is not None and len(full_name) > MAX_NAME_CHARS:
        reason = f"Ensure this field has no more than {MAX_NAME_CHARS} characters."
        problems.append(_Problem(index=index, field="full_name", reason=reason))
    email = _present(row.email)
    if email is not None and (len(email) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(email)):
        problems.append(_Problem(index=index, field="email", reason="Enter a valid email address."))
    if len(problems) > found or phone is None:
        return None
    return ContactEntry(phone=phone, full_name=full_name, email=email)


def _phone(index: int, raw: str, problems: list[_Problem]) -> str | None:
    try:
        return to_e164(raw, field="phone")
    except InvalidPhoneNumber as invalid:
        problems.append(_Problem(index=index, field="phone", reason=_reason(invalid)))
        return None


def _reason(invalid: InvalidPhoneNumber) -> str:
    reasons = invalid.field_errors.get("phone")
    return reasons[0] if reasons else invalid.message


def _present(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


def _later_wins(earlier: ContactEntry, later: ContactEntry) -> ContactEntry:
    return ContactEntry(
        phone=later.phone,
        full_name=later.full_name or earlier.full_name,
        email=later.email or earlier.email,
    )
