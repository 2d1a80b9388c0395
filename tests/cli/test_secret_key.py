"""MINDO_SECRET_KEY as a new user meets it: `mindo dev`'s key file is found or named, and a
wrong key is one line that says what to do, never a traceback."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mindo_cli.errors import explain
from mindo_cli.secret_file import ensure_secret_key

from .conftest import Mindo
from .test_onboarding import connect_demo

ANOTHER_KEY = "another-secret-key-of-at-least-32-characters"
EXPORT = 'export MINDO_SECRET_KEY="$(cat .mindo/secret.key)"'


def one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_a_wrong_key_is_one_line_saying_the_tokens_cannot_be_decrypted(mindo: Mindo) -> None:
    connect_demo(mindo)
    wrong = replace(mindo, env={**mindo.env, "MINDO_SECRET_KEY": ANOTHER_KEY})

    result = wrong.run("templates", "sync")

    assert result.exit_code == 1
    line = one_line(result.output)
    assert line.startswith("error: a stored access token cannot be decrypted with MINDO_SECRET_KEY")


def test_a_wrong_key_names_mindo_dev_s_key_file_when_there_is_one(mindo: Mindo) -> None:
    connect_demo(mindo)
    ensure_secret_key(Path(".mindo"))
    wrong = replace(mindo, env={**mindo.env, "MINDO_SECRET_KEY": ANOTHER_KEY})

    line = one_line(wrong.fails("templates", "sync"))

    assert EXPORT in line


def test_mindo_dev_s_key_is_used_for_mindo_dev_s_database(mindo: Mindo) -> None:
    ensure_secret_key(Path(".mindo"))
    dev = replace(mindo, env={**mindo.env, "MINDO_SECRET_KEY": None, "MINDO_DATABASE_URL": None})

    assert "Created organisation 'Acme'" in dev.ok("orgs", "create", "Acme")
    assert "Acme" in dev.ok("orgs", "list")
    assert Path(".mindo/mindo.db").is_file()


def test_for_another_database_the_key_file_is_named_and_no_new_key_suggested(
    mindo: Mindo,
) -> None:
    ensure_secret_key(Path(".mindo"))
    keyless = replace(mindo, env={**mindo.env, "MINDO_SECRET_KEY": None})

    line = one_line(keyless.fails("orgs", "create", "Acme"))

    assert "MINDO_SECRET_KEY: is required" in line
    assert EXPORT in line
    assert "mindo secret-key" not in line


def test_an_unusable_key_with_a_key_file_here_points_at_the_file(mindo: Mindo) -> None:
    ensure_secret_key(Path(".mindo"))
    short = replace(mindo, env={**mindo.env, "MINDO_SECRET_KEY": "too-short"})

    line = one_line(short.fails("orgs", "create", "Acme"))

    assert "MINDO_SECRET_KEY cannot be used" in line
    assert EXPORT in line
    assert "mindo secret-key" not in line


def test_an_unexpected_error_is_still_one_line() -> None:
    said = explain(RuntimeError("disk on fire"))

    assert said == "unexpected RuntimeError: disk on fire (MINDO_TRACEBACK=1 shows where)"
