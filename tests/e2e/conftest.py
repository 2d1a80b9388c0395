"""The end-to-end tiers' fixtures: a fresh PostgreSQL database, and a cluster of real processes
on it (``tests/e2e/cluster.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.conftest import fresh_postgres_database
from tests.e2e.cluster import Cluster


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new database on MINDO_TEST_POSTGRES_URL's server, dropped afterwards; skips without it."""
    server = os.environ.get("MINDO_TEST_POSTGRES_URL", "").strip()
    if not server:
        pytest.skip("MINDO_TEST_POSTGRES_URL is not set")
    with fresh_postgres_database(server) as url:
        yield url


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str) -> Iterator[Cluster]:
    running = Cluster(tmp_path, postgres_url)
    try:
        yield running
    finally:
        running.close()
