"""Database URLs as users type them, turned into what SQLAlchemy needs.

Users write ``sqlite:///mindo.db`` (relative), ``sqlite:////var/lib/mindo.db`` (absolute),
``postgresql://user@host/db`` or Heroku-style ``postgres://...``. The service runs on asyncio
(``sqlite+aiosqlite``, ``postgresql+psycopg``); migrations run synchronously (``sqlite`` with the
standard library's sqlite3, ``postgresql+psycopg``). Whatever driver a URL names is replaced,
because these are the drivers Mindo ships.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
_BACKEND_ALIASES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}
_MEMORY_DATABASES = {None, "", ":memory:"}


def database_url(raw: str) -> str:
    """The URL for the asyncio engine the service uses."""
    return _with_driver(raw, _ASYNC_DRIVERS)


def sync_database_url(raw: str) -> str:
    """The URL for a synchronous engine (migrations, administration)."""
    return _with_driver(raw, _SYNC_DRIVERS)


def libpq_url(raw: str) -> str:
    """The URL of a PostgreSQL database as libpq (and so psycopg, without SQLAlchemy) reads it."""
    if backend_of(raw) != "postgresql":
        raise ValueError("not a PostgreSQL URL")
    return _parse(raw).set(drivername="postgresql").render_as_string(hide_password=False)


def backend_of(raw: str) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    parsed = _parse(raw)
    backend = _BACKEND_ALIASES.get(parsed.get_backend_name())
    if backend is None:
        raise ValueError(
            f"unsupported database {parsed.get_backend_name()!r}: "
            "use sqlite:///path/to/mindo.db or postgresql://user@host/dbname"
        )
    return backend


def sqlite_file(raw: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL and in-memory SQLite."""
    if backend_of(raw) != "sqlite":
        return None
    database = _parse(raw).database
    if database in _MEMORY_DATABASES or (database or "").startswith("file:"):
        return None
    return Path(str(database))


def _with_driver(raw: str, drivers: dict[str, str]) -> str:
    url = _parse(raw).set(drivername=drivers[backend_of(raw)])
    return url.render_as_string(hide_password=False)


def _parse(raw: str) -> URL:
    try:
        return make_url(raw.strip())
    except ArgumentError:
        # The message of ArgumentError repeats the URL, which may hold a password.
        raise ValueError(
            "not a database URL: use sqlite:///path/to/mindo.db or postgresql://user@host/dbname"
        ) from None
