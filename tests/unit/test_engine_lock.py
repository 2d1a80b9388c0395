"""One engine per SQLite file, held by a lock beside it; each engine claims under its own name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mindo_core.adapters.engine_lock import (
    EngineAlreadyRunning,
    engine_lock_path,
    exclusive_engine,
)
from mindo_core.bootstrap import new_worker_id


def test_a_second_holder_of_one_database_is_refused_with_its_path(tmp_path: Path) -> None:
    database = tmp_path / "mindo.db"
    with (
        exclusive_engine(database),
        pytest.raises(EngineAlreadyRunning) as refused,
        exclusive_engine(database),
    ):
        pass
    assert str(database) in refused.value.message
    assert "\n" not in refused.value.message


def test_the_lock_is_free_again_once_its_holder_is_done(tmp_path: Path) -> None:
    database = tmp_path / "mindo.db"
    with exclusive_engine(database):
        pass
    with exclusive_engine(database):
        assert engine_lock_path(database).exists()


def test_other_databases_and_postgresql_take_no_lock_of_each_other(tmp_path: Path) -> None:
    with (
        exclusive_engine(tmp_path / "a.db"),
        exclusive_engine(tmp_path / "b.db"),
        exclusive_engine(None),
        exclusive_engine(None),
    ):
        pass


def test_each_engine_is_named_by_its_host_its_process_and_a_random_part() -> None:
    first, second = new_worker_id(), new_worker_id()
    assert first != second
    host, pid, random_part = first.rsplit(":", 2)
    assert host
    assert pid == str(os.getpid())
    assert len(random_part) == 8
    assert len(first) <= 128  # what the claims' column holds
