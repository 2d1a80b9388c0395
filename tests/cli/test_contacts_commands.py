"""`mindo contacts import | lists`: a CSV file imported into a list, all or nothing, through the
same use case as the API; a row at fault is named by its line in the file."""

from __future__ import annotations

from pathlib import Path

from .conftest import Mindo


def csv_file(tmp_path: Path, text: str, name: str = "contacts.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_file_is_imported_into_a_list(mindo: Mindo, tmp_path: Path) -> None:
    mindo.ok("orgs", "create", "Acme")
    file = csv_file(
        tmp_path,
        "Phone,Name,Email,Notes\n"
        "+54 223 15-596-1983,Juan Pérez,juan@example.com,likes promos\n"
        "\n"
        "34612345678,,,\n"
        "5492235961983,,juan.perez@example.com,\n",
    )

    imported = mindo.ok("contacts", "import", "--org", "Acme", "--list", "VIP", file)
    lists = mindo.ok("contacts", "lists", "--org", "Acme")

    assert "Imported 3 rows into Acme: 2 new contacts, 0 updated, 1 merged" in imported
    assert "The list 'VIP' has 2 contacts." in imported
    assert "Contact lists of Acme" in lists
    assert "VIP" in lists


def test_a_spreadsheet_saved_with_semicolons_and_a_bom_is_read(
    mindo: Mindo, tmp_path: Path
) -> None:
    mindo.ok("orgs", "create", "Acme")
    file = tmp_path / "excel.csv"
    file.write_bytes("\ufeffemail;phone\nana@example.com;+5492235961983\n".encode())

    imported = mindo.ok("contacts", "import", "--org", "Acme", str(file))

    assert "1 new contacts" in imported


def test_a_bad_row_is_named_by_its_line_and_nothing_is_imported(
    mindo: Mindo, tmp_path: Path
) -> None:
    mindo.ok("orgs", "create", "Acme")
    file = csv_file(tmp_path, "phone,email\n+5492235961983,\n\nabc,\n+34612345678,nope\n")

    said = mindo.fails("contacts", "import", "--org", "Acme", "--list", "VIP", file)

    assert "2 rows cannot be contacts; nothing was imported." in said
    assert "line 4, phone:" in said
    assert "line 5, email: Enter a valid email address." in said
    assert "has no contact list" in mindo.ok("contacts", "lists", "--org", "Acme")


def test_a_file_without_a_phone_column_is_refused(mindo: Mindo, tmp_path: Path) -> None:
    mindo.ok("orgs", "create", "Acme")
    file = csv_file(tmp_path, "+5492235961983,Juan\n")

    said = mindo.fails("contacts", "import", "--org", "Acme", file)

    assert "must be a header naming a phone column" in said


def test_a_file_that_is_not_text_is_refused(mindo: Mindo, tmp_path: Path) -> None:
    mindo.ok("orgs", "create", "Acme")
    file = tmp_path / "photo.csv"
    file.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))

    said = mindo.fails("contacts", "import", "--org", "Acme", str(file))

    assert "is not UTF-8 text" in said
