"""Which database errors mean "that already exists"."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

_UNIQUE_VIOLATION_SQLSTATE = "23505"
_SQLITE_UNIQUE_ERRORS = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def is_unique_violation(error: IntegrityError) -> bool:
    """True for a duplicate key; False for other integrity errors (a missing foreign row)."""
    original = error.orig
    if getattr(original, "sqlstate", None) == _UNIQUE_VIOLATION_SQLSTATE:
        return True
    return getattr(original, "sqlite_errorname", None) in _SQLITE_UNIQUE_ERRORS
