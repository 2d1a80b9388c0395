"""Which database errors mean "that already exists"."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from mindo_core.domain.errors import Conflict

_UNIQUE_VIOLATION_SQLSTATE = "23505"
_SQLITE_UNIQUE_ERRORS = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def is_unique_violation(error: IntegrityError) -> bool:
    """True for a duplicate key; False for other integrity errors (a missing foreign row)."""
    original = error.orig
    if getattr(original, "sqlstate", None) == _UNIQUE_VIOLATION_SQLSTATE:
        return True
    return getattr(original, "sqlite_errorname", None) in _SQLITE_UNIQUE_ERRORS


def conflict_or_reraise(error: IntegrityError, message: str) -> Exception:
    """The error to raise instead: ``Conflict`` for a duplicate, the original otherwise."""
    return Conflict(message) if is_unique_violation(error) else error
