"""A fresh PostgreSQL database for a benchmark, created on the server the environment names
(``MINDO_BENCH_POSTGRES_URL``, else ``MINDO_TEST_POSTGRES_URL``) and dropped afterwards. Not a
benchmark itself (not in ``BENCHMARKS``)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from mindo_core.adapters.sql.engine import make_sync_engine


def postgres_server() -> str:
    """The server's URL, or "" when none is configured (the benchmark's PostgreSQL cases skip)."""
    return (
        os.environ.get("MINDO_BENCH_POSTGRES_URL", "")
        or os.environ.get("MINDO_TEST_POSTGRES_URL", "")
    ).strip()


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server; dropped afterwards, whatever happened."""
    name = f"mindo_bench_{secrets.token_hex(6)}"
    admin = make_sync_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
