"""``Database``: the one SQLAlchemy asyncio engine (SQLite or PostgreSQL) the repositories share,
and the two kinds of transaction they open on it.

Each repository method is one short transaction. The schema comes from the migrations
(``upgrade_database``), never from ``create_all``: what the service runs on is what Alembic built.

Transactions that write bulks and their recipients (``writing``):

* SQLite: ``BEGIN IMMEDIATE``, so the transaction is the database's one writer from its first
  statement and what it reads stays true until it commits; others wait (``busy_timeout``).
* PostgreSQL (several processes): row locks, always in the same order, bulks (by id) before
  their messages, so two transactions never wait for each other in a circle. A claim waits for
  no lock at all (``claims``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mindo_core.adapters.sql.outbox import CallbackSubscriptions

# Upserts and re-reads return the row as it is after the statement, not a stale copy from the
# identity map.
FRESH = {"populate_existing": True}


class _Writers:
    """SQLite's one writer handed over in this process without the busy handler's sleeps;
    urgent writers first."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._other: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def turn(self, urgent: bool) -> AsyncIterator[None]:
        if self._held or self._urgent or self._other:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            (self._urgent if urgent else self._other).append(future)
            try:
                await future
            except BaseException:
                if future.done() and not future.cancelled():
                    self._release()
                else:
                    (self._urgent if urgent else self._other).remove(future)
                raise
        else:
            self._held = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for queue in (self._urgent, self._other):
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)  # the turn passes on, still held
                    return
        self._held = False


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        # Which organisations want which callback events (``outbox``), shared by the writers.
        self.callback_subscriptions = CallbackSubscriptions()
        self._writers = _Writers() if engine.dialect.name == "sqlite" else None

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def close(self) -> None:
        await self._engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def writing(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A transaction that holds SQLite's write lock from its first statement."""
        if self._writers is None:
            async with self._write_transaction() as session:
                yield session
            return
        async with self._writers.turn(urgent), self._write_transaction() as session:
            yield session

    @asynccontextmanager
    async def _write_transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            connection = await session.connection()
            if connection.dialect.name == "sqlite":
                # The DBAPI's own implicit BEGIN is deferred: it would take the write lock only
                # at the first write, after the reads that decided it.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield session
