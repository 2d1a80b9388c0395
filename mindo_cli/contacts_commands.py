"""`mindo contacts`: import an organisation's contacts from a CSV file, list its contact lists.

The file needs a header naming its columns: ``phone`` (required), ``full_name`` (or ``name``)
and ``email``, in any order and case; other columns are ignored. Comma, semicolon and tab
separated files are all read (spreadsheets in many locales save with semicolons), UTF-8 with
or without a byte-order mark. The import is all or nothing, like the API's: a row at fault is
named by its line in the file, and nothing is stored until the whole file is right.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.markup import escape

from mindo_cli.errors import CliError
from mindo_cli.formatting import quoted, table, when
from mindo_cli.operate import (
    OrgOption,
    command,
    command_group,
    operate,
    operator_settings,
    out,
    required_name,
)
from mindo_core.contacts.imports import ContactInput, ImportReport, InvalidContacts
from mindo_core.contacts.model import ContactList

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

contacts_app = command_group(
    "Contacts: import them from a CSV file into a list, and see the lists."
)

FileArgument = Annotated[
    Path,
    typer.Argument(
        help="A CSV file with a header: phone (required), full_name or name, email.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]
ListOption = Annotated[
    str,
    typer.Option("--list", help="Put every contact of the file on this list (created if new)."),
]

_COLUMNS: Final = {
    "phone": "phone",
    "full_name": "full_name",
    "name": "full_name",
    "email": "email",
}
_DELIMITERS: Final = ",;\t"
_FIELD: Final = re.compile(r"contacts\.(\d+)\.(\w+)")
# A field's cell longer than this is refused as it is read (a file that is not a CSV).
_MAX_CELL: Final = 4096


@dataclass(frozen=True, kw_only=True)
class _Rows:
    rows: tuple[ContactInput, ...]
    lines: tuple[int, ...]  # the file line each row starts on


@command(contacts_app, "import")
def contacts_import(org: OrgOption, file: FileArgument, contact_list: ListOption = "") -> None:
    """Import contacts from a CSV file, all or nothing.

    Each row becomes a contact of the organisation, or sets the fields it has on the contact
    that exists (an empty cell changes nothing). With --list every contact is put on that
    list. A row that cannot be a contact is named by its line, and nothing is imported."""
    org = required_name(org, "--org")
    read = _read(file)

    async def work(services: Services) -> ImportReport:
        organisation = await services.operator_queries.organisation_named(org)
        return await services.contact_import.import_contacts(
            organisation.id, read.rows, list_name=contact_list or None
        )

    try:
        report = operate(operator_settings(), work)
    except InvalidContacts as invalid:
        raise CliError(_by_line(invalid, read.lines)) from None
    shown = out()
    shown.print(
        f"Imported {len(read.rows):,} rows into {escape(org)}: {report.created:,} new contacts, "
        f"{report.updated:,} updated, {report.merged:,} merged (rows repeating a phone)."
    )
    if report.contact_list is not None:
        listed = report.contact_list
        shown.print(f"The list '{escape(listed.name)}' has {listed.size:,} contacts.")


@command(contacts_app, "lists")
def contacts_lists(org: OrgOption) -> None:
    """List an organisation's contact lists, with how many contacts each has."""
    org = required_name(org, "--org")

    async def work(services: Services) -> Sequence[ContactList]:
        organisation = await services.operator_queries.organisation_named(org)
        return await services.contact_import.lists(organisation.id)

    lists = operate(operator_settings(), work)
    shown = out()
    if not lists:
        shown.print(f"'{escape(org)}' has no contact list. Import a file into one:")
        shown.print(f"  mindo contacts import --org {quoted(org)} --list NAME contacts.csv")
        return
    rows = table(f"Contact lists of {escape(org)}", "Id", "Name", "Contacts", "Created (UTC)")
    for listed in lists:
        rows.add_row(
            str(listed.id), escape(listed.name), f"{listed.size:,}", when(listed.created_at, "")
        )
    shown.print(rows)


def _read(file: Path) -> _Rows:
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            return _rows(handle.read())
    except UnicodeDecodeError:
        raise CliError(f"{file.name}: is not UTF-8 text; save it as CSV UTF-8.") from None
    except csv.Error as error:
        raise CliError(f"{file.name}: is not a CSV file this can read ({error}).") from None


def _rows(text: str) -> _Rows:
    first_line = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first_line.count)
    csv.field_size_limit(_MAX_CELL)
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    header = next(reader, None)
    columns = _columns(header or [])
    rows: list[ContactInput] = []
    lines: list[int] = []
    start = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            rows.append(_row(cells, columns))
            lines.append(start)
        start = reader.line_num + 1
    if not rows:
        raise CliError("The file has a header but no contacts.")
    return _Rows(rows=tuple(rows), lines=tuple(lines))


def _columns(header: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        field = _COLUMNS.get(name.strip().lower().replace(" ", "_"))
        if field is not None and field not in columns:
            columns[field] = index
    if "phone" not in columns:
        raise CliError(
            "The file's first line must be a header naming a phone column "
            "(phone, and optionally full_name or name, and email)."
        )
    return columns


def _row(cells: Sequence[str], columns: dict[str, int]) -> ContactInput:
    def cell(field: str) -> str | None:
        index = columns.get(field)
        return cells[index] if index is not None and index < len(cells) else None

    return ContactInput(phone=cell("phone") or "", full_name=cell("full_name"), email=cell("email"))


def _by_line(invalid: InvalidContacts, lines: Sequence[int]) -> str:
    """The service's error with each row named by its line in the file."""
    said = [f"{invalid.invalid_count:,} rows cannot be contacts; nothing was imported."]
    for path, problems in invalid.field_errors.items():
        found = _FIELD.fullmatch(path)
        if found is None:
            said.append(f"{path}: {'; '.join(problems)}")
            continue
        line = lines[int(found[1])]
        said.append(f"line {line}, {found[2]}: {'; '.join(problems)}")
    return "\n".join(said)
