"""``Database``: the one SQLAlchemy asyncio engine (SQLite or PostgreSQL) the repositories share,
and the two kinds of transaction they open on it.

Each repository method is one short transaction. The schema comes from the migrations
(``upgrade_database``), never from ``create_all``: what the service runs on is what Alembic built.

Transactions that write (``writing``; ``transaction`` is for reads and PostgreSQL-only locks):

* SQLite: ``BEGIN IMMEDIATE``, so the transaction is the database's one writer from its first
  statement and what it reads stays true until it commits; this process's writers take turns
  (``WriterTurns``: a waiting client's first; other processes wait on ``busy_timeout``).
* PostgreSQL (several processes): row locks, always in the same order, bulks (by id) before
  their messages, so two transactions never wait for each other in a circle. A claim waits for
  no lock at all (``claims``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mindo_core.adapters.sql.outbox import CallbackSubscriptions
from mindo_core.adapters.sql.writer_turns import WriterTurns

# Upserts and re-reads return the row as it is after the statement, not a stale copy from the
# identity map.
FRESH = {"populate_existing": True}


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        # Which organisations want which callback events (``outbox``), shared by the writers.
        self.callback_subscriptions = CallbackSubscriptions()
        # SQLite has one writer at a time: this process's writers take turns (``WriterTurns``).
        self._sqlite_writers = WriterTurns() if engine.dialect.name == "sqlite" else None

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
        """A transaction that holds SQLite's write lock from its first statement; ``urgent``
        when a client waits for it (it goes before the engine's writers)."""
        async with AsyncExitStack() as stack:
            if self._sqlite_writers is not None:
                await stack.enter_async_context(self._sqlite_writers.turn(urgent=urgent))
            session = await stack.enter_async_context(self._sessions())
            await stack.enter_async_context(session.begin())
            if self._sqlite_writers is not None:
                # The DBAPI's own implicit BEGIN is deferred: it would take the write lock only
                # at the first write, after the reads that decided it.
                connection = await session.connection()
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield session
