"""Alembic's entry point: run the migrations on the connection ``migrate`` hands over, or on a
new one to the URL it names (for ``command.revision(..., autogenerate=True)``)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from mindo_core.adapters.sql.engine import make_sync_engine
from mindo_core.adapters.sql.tables import metadata
from mindo_core.adapters.sql.types import UTCDateTime


def render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    """Revisions spell column types in plain SQLAlchemy, so that an old revision never breaks
    when a Python type of the models is renamed or moved."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; Alembic rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    if context.is_offline_mode():
        raise RuntimeError("Mindo's migrations run against a database, not as SQL scripts")
    attributes = context.config.attributes
    connection = attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = make_sync_engine(attributes["url"], foreign_keys=False)
    try:
        with engine.begin() as new_connection:
            run_migrations(new_connection)
    finally:
        engine.dispose()


run()
