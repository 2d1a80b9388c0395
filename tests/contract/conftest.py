"""Stores for the contract tests: in memory, a SQLite file, and PostgreSQL when
MINDO_TEST_POSTGRES_URL names a server (a fresh database is created for the session and
dropped at the end; tests start from empty tables)."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from mindo_core.adapters.memory import memory_stores
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.adapters.sql.engine import make_sync_engine
from mindo_core.adapters.sql.tables import metadata
from mindo_core.ports.stores import Stores

POSTGRES_ENV = "MINDO_TEST_POSTGRES_URL"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server; dropped afterwards, whatever happened."""
    name = f"mindo_test_{secrets.token_hex(6)}"
    admin = make_sync_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return url


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """One migrated database for the whole session."""
    with fresh_postgres_database(postgres_server) as url:
        upgrade_database(url)
        yield url


@pytest.fixture(scope="session")
def postgres_engine(postgres_database: str) -> Iterator[Engine]:
    engine = make_sync_engine(postgres_database)
    yield engine
    engine.dispose()


def _empty_postgres_tables(engine: Engine) -> None:
    # DELETE, children first: on tables this small it is far cheaper than TRUNCATE.
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test gets a copy (much faster than migrating again)."""
    path = tmp_path_factory.mktemp("migrated") / "mindo.db"
    upgrade_database(f"sqlite:///{path}")
    return path


def _migrated_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "postgres":
        _empty_postgres_tables(request.getfixturevalue("postgres_engine"))
        url: str = request.getfixturevalue("postgres_database")
        return url
    migrated: Path = request.getfixturevalue("migrated_sqlite_file")
    copy = tmp_path / "data" / "mindo.db"
    copy.parent.mkdir()
    shutil.copyfile(migrated, copy)
    return f"sqlite:///{copy}"


@pytest.fixture(params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated database with empty tables."""
    return _migrated_database(request.param, request, tmp_path)


@pytest.fixture
def empty_postgres_url(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL database of its own that has never been migrated."""
    with fresh_postgres_database(postgres_server) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database that has never been migrated."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("empty_postgres_url")
        return url
    # A directory that does not exist yet: migrating creates it.
    return f"sqlite:///{tmp_path / 'data' / 'mindo.db'}"


@pytest.fixture(params=["memory", *BACKENDS])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None for the in-memory store, else the URL of a migrated database with empty tables."""
    if request.param == "memory":
        return None
    return _migrated_database(request.param, request, tmp_path)


@pytest.fixture
async def stores(store_url: str | None) -> AsyncIterator[Stores]:
    opened = memory_stores() if store_url is None else await open_stores(store_url)
    yield opened
    await opened.close()


@pytest.fixture
async def elsewhere(stores: Stores, store_url: str | None) -> AsyncIterator[Stores]:
    """The same database through a store of its own (another process, as far as the database
    can tell); the very same store in memory."""
    if store_url is None:
        yield stores
        return
    other = await open_stores(store_url)
    yield other
    await other.close()
