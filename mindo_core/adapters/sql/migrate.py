"""Schema migrations with Alembic, shipped inside the package (no ``alembic.ini`` needed).

The service calls ``upgrade_database(url)`` at start-up, so an older database is brought up to
date in place; running it on an up-to-date database changes nothing. Migrations run with the
synchronous drivers (sqlite3, psycopg) because Alembic is synchronous.

Adding a revision after changing ``tables``::

    from alembic import command
    command.revision(alembic_config(url), message="what changed", autogenerate=True,
                     rev_id="0002")

against a database at head; then read and tidy what it wrote. Revision ids are sequential
(``0001``, ``0002``…) and files are named ``v<rev>_<slug>.py``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from mindo_core.adapters.sql.engine import make_sync_engine

MIGRATIONS = Path(__file__).with_name("migrations")


# Any fixed number; PostgreSQL advisory locks are keyed by a bigint chosen by the application.
MIGRATION_LOCK_KEY = 0x6D696E646F  # "mindo"


def upgrade_database(url: str) -> None:
    """Bring the database at ``url`` to the newest revision."""
    engine = make_sync_engine(url, foreign_keys=False)
    try:
        with engine.begin() as connection:
            _wait_for_other_migrations(connection)
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def _wait_for_other_migrations(connection: Connection) -> None:
    """Several processes may start at once (``serve`` and ``worker``s): on PostgreSQL one
    migrates while the others wait, then find nothing left to do. The lock ends with the
    transaction. SQLite serves one process, which needs no such care."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def current_revision(url: str) -> str | None:
    """The revision the database is at; None before the first migration."""
    engine = make_sync_engine(url, foreign_keys=False)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision this version of Mindo ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for Mindo's migrations. ``url`` is only needed by commands
    that open a connection themselves (``revision --autogenerate``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    if url is not None:
        config.attributes["url"] = url
    return config
