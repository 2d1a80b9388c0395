"""Database URLs as users type them, and the drivers Mindo picks for them."""

from __future__ import annotations

import pytest

from mindo_core.adapters.sql import database_url, sync_database_url


@pytest.mark.parametrize(
    ("typed", "for_the_service", "for_migrations"),
    [
        (
            "sqlite:///data/mindo.db",
            "sqlite+aiosqlite:///data/mindo.db",
            "sqlite:///data/mindo.db",
        ),
        (
            "sqlite:////var/lib/mindo/mindo.db",
            "sqlite+aiosqlite:////var/lib/mindo/mindo.db",
            "sqlite:////var/lib/mindo/mindo.db",
        ),
        (
            "postgresql://mindo@db.internal/mindo",
            "postgresql+psycopg://mindo@db.internal/mindo",
            "postgresql+psycopg://mindo@db.internal/mindo",
        ),
        (
            "postgres://mindo:s%40cret@db:5433/mindo?sslmode=require",
            "postgresql+psycopg://mindo:s%40cret@db:5433/mindo?sslmode=require",
            "postgresql+psycopg://mindo:s%40cret@db:5433/mindo?sslmode=require",
        ),
        (
            "postgresql+psycopg2://mindo@db/mindo",
            "postgresql+psycopg://mindo@db/mindo",
            "postgresql+psycopg://mindo@db/mindo",
        ),
        (
            "  sqlite+aiosqlite:///mindo.db\n",
            "sqlite+aiosqlite:///mindo.db",
            "sqlite:///mindo.db",
        ),
    ],
)
def test_each_url_gets_the_driver_mindo_ships(
    typed: str, for_the_service: str, for_migrations: str
) -> None:
    assert database_url(typed) == for_the_service
    assert sync_database_url(typed) == for_migrations


@pytest.mark.parametrize("typed", ["mysql://root@db/mindo", "oracle://scott@db/orcl"])
def test_other_databases_are_refused_with_the_supported_forms(typed: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite:///path/to/mindo\.db or postgresql://"):
        database_url(typed)


def test_a_malformed_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="not a database URL") as raised:
        database_url("mindo.db with password hunter2")

    assert "hunter2" not in str(raised.value)
