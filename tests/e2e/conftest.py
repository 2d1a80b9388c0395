"""What the end-to-end tests on PostgreSQL share: a fresh database of their own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.contract.conftest import fresh_postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new database on MINDO_TEST_POSTGRES_URL's server, dropped afterwards; skips without it."""
    server = os.environ.get("MINDO_TEST_POSTGRES_URL", "").strip()
    if not server:
        pytest.skip("MINDO_TEST_POSTGRES_URL is not set")
    with fresh_postgres_database(server) as url:
        yield url
