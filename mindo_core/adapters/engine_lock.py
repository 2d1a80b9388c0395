"""One engine per SQLite database: an exclusive lock on a file beside it, held while it runs.

SQLite has no sessions to hang a lock on, so the operating system holds it (``flock``): it is
released when the engine stops or its process dies, however it dies (``kill -9`` included), so a
crashed engine never blocks the next one. The lock file stays; its presence means nothing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["EngineAlreadyRunning", "engine_lock_path", "exclusive_engine"]


class EngineAlreadyRunning(Exception):
    """Another process runs the bulk engine over this database."""

    def __init__(self, database: Path) -> None:
        self.message = (
            f"another Mindo engine already runs on the SQLite database {database} "
            "(one engine per SQLite file; more API processes: `mindo serve --no-engine`)"
        )
        super().__init__(self.message)


def engine_lock_path(database: Path) -> Path:
    return database.with_name(f"{database.name}.engine.lock")


@contextmanager
def exclusive_engine(database: Path | None) -> Iterator[None]:
    """Held for the life of an engine on the SQLite file ``database``; None (PostgreSQL, or an
    in-memory database no other process can open) takes no lock."""
    if database is None:
        yield
        return
    path = engine_lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EngineAlreadyRunning(database) from None
        yield
    finally:
        os.close(descriptor)  # closing the last descriptor releases the lock
