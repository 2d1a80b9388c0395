"""``INSERT … ON CONFLICT DO UPDATE`` for both backends.

SQLite (3.35+) and PostgreSQL share the statement and SQLAlchemy gives each its own construct
with the same interface; this picks the one for the engine at hand. An upsert is one atomic
statement, so two concurrent refreshes of the same row cannot both try to insert it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

UpsertInsert = postgresql.Insert | sqlite.Insert


def insert_for(dialect_name: str, entity: Any) -> UpsertInsert:
    if dialect_name == "postgresql":
        return postgresql.insert(entity)
    if dialect_name == "sqlite":
        return sqlite.insert(entity)
    raise ValueError(f"no upsert for the {dialect_name!r} dialect")
