"""Engines for both backends, set up the same way for the service and for migrations.

No SQL parameter reaches a log line (they hold phones, template variables and key hashes):
SQLAlchemy is told to hide them (``hide_parameters``, also in its errors' text), and aiosqlite,
whose DEBUG lines print each call with its arguments, logs from INFO up.

SQLite gets, on every new connection: WAL (readers do not block the writer), foreign keys
enforced (off by default in SQLite) and a busy timeout (a writer waits for the lock instead of
failing at once). The directory of the database file is created if needed.

Nothing here is a singleton and nothing connects before it is asked to.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mindo_core.adapters.sql.urls import backend_of, database_url, sqlite_file, sync_database_url

SQLITE_BUSY_TIMEOUT_MS = 5_000
POSTGRES_POOL_SIZE = 15  # what a process may hold at once, as SQLAlchemy's 5 + 10 overflow


def make_async_engine(raw_url: str) -> AsyncEngine:
    _quiet_driver_debug()
    engine = create_async_engine(database_url(raw_url), **_engine_options(raw_url))
    _prepare(raw_url, engine.sync_engine, foreign_keys=True)
    return engine


def make_sync_engine(raw_url: str, *, foreign_keys: bool = True) -> Engine:
    """``foreign_keys=False`` is for migrations: Alembic rebuilds SQLite tables by copy and
    rename, which enforced foreign keys would break half-way."""
    engine = create_engine(sync_database_url(raw_url), **_engine_options(raw_url))
    _prepare(raw_url, engine, foreign_keys=foreign_keys)
    return engine


def _engine_options(raw_url: str) -> dict[str, Any]:
    if backend_of(raw_url) == "postgresql":
        # A connection dropped by a server restart is noticed before it is handed out. All 15
        # connections are kept once opened: with 5 kept and 10 more at peak (SQLAlchemy's
        # default), a busy worker opened and closed about ten a second, each a server backend
        # started and ended.
        return {
            "pool_pre_ping": True,
            "hide_parameters": True,
            "pool_size": POSTGRES_POOL_SIZE,
            "max_overflow": 0,
        }
    return {"hide_parameters": True}


def _quiet_driver_debug() -> None:
    driver = logging.getLogger("aiosqlite")
    if driver.level < logging.INFO:  # NOTSET included: it would follow the root down
        driver.setLevel(logging.INFO)


def _prepare(raw_url: str, engine: Engine, *, foreign_keys: bool) -> None:
    if backend_of(raw_url) != "sqlite":
        return
    path = sqlite_file(raw_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    pragmas = (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}",
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    )

    def set_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    event.listen(engine, "connect", set_pragmas)
