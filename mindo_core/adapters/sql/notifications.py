"""What crosses processes on PostgreSQL: NOTIFY on one session, LISTEN on another.

Two connections per process, outside the store's pool, because a LISTEN belongs to a session:
one listens on every registered channel, one notifies. Notifications are fire-and-forget and
coalesced: a (channel, payload) waiting to be sent is kept once, at its first place, so the same
news told many times in a burst is sent once and the order told is the order sent. A process
ignores what it sent itself (its subscribers and its engine were told directly). If a
connection drops, it reconnects every second; each channel's ``reconnected`` is then called,
since what was sent meanwhile is lost.

A transaction-mode pooler (PgBouncer ``pool_mode=transaction``) breaks LISTEN: point these
processes at PostgreSQL or at a session-mode pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from mindo_core.adapters.sql.urls import libpq_url

__all__ = ["PostgresNotifications"]

RECONNECT_SECONDS = 1.0
# Payloads are ids Mindo sends; anything longer heard on its channels is not its own.
MAX_PAYLOAD = 128

logger = logging.getLogger("mindo.notifications")


@dataclass(frozen=True, kw_only=True)
class _Channel:
    heard: Callable[[str], None]
    reconnected: Callable[[], None]


class PostgresNotifications:
    def __init__(self, database_url: str) -> None:
        self._conninfo = libpq_url(database_url)
        self._channels: dict[str, _Channel] = {}
        self._to_send: dict[tuple[str, str], None] = {}
        self._send_wanted = asyncio.Event()
        self._own_backend_pid: int | None = None
        self._listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def on(
        self, channel: str, heard: Callable[[str], None], reconnected: Callable[[], None]
    ) -> None:
        """Before ``start``: call ``heard(payload)`` for what other processes send on
        ``channel``. ``channel`` is a name of Mindo's, never user input (LISTEN takes no
        parameter)."""
        if not channel.isidentifier():
            raise ValueError(f"not a channel name: {channel!r}")
        self._channels[channel] = _Channel(heard=heard, reconnected=reconnected)

    async def start(self) -> None:
        """Returns once listening (or after a first failed try; it keeps trying)."""
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="mindo-listen"),
            asyncio.create_task(self._send_forever(), name="mindo-notify"),
        ]
        await self._listening.wait()

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def notify(self, channel: str, payload: str) -> None:
        """Never waits."""
        self._to_send[(channel, payload)] = None
        self._send_wanted.set()

    async def _listen_forever(self) -> None:
        reconnected = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as connection:
                    for name in self._channels:
                        await connection.execute(f"LISTEN {name}")
                    self._listening.set()
                    if reconnected:
                        for channel in self._channels.values():
                            channel.reconnected()
                    async for notice in connection.notifies():
                        self._heard(notice.channel, notice.payload, notice.pid)
            except psycopg.Error as error:
                logger.warning("Listening for notifications: %s; reconnecting", _line(error))
            self._listening.set()  # a start that cannot connect does not wait forever
            reconnected = True
            await asyncio.sleep(RECONNECT_SECONDS)

    def _heard(self, channel_name: str, payload: str, sender_pid: int) -> None:
        channel = self._channels.get(channel_name)
        if channel is None or sender_pid == self._own_backend_pid or len(payload) > MAX_PAYLOAD:
            return
        channel.heard(payload)

    async def _send_forever(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as connection:
                    self._own_backend_pid = connection.info.backend_pid
                    while True:
                        await self._send_wanted.wait()
                        self._send_wanted.clear()
                        pending, self._to_send = list(self._to_send), {}
                        await connection.execute(
                            "SELECT pg_notify(c, p) FROM unnest(%s::text[], %s::text[]) AS t(c, p)",
                            ([c for c, _ in pending], [p for _, p in pending]),
                        )
            except psycopg.Error as error:
                logger.warning("Sending notifications: %s; reconnecting", _line(error))
            self._own_backend_pid = None
            await asyncio.sleep(RECONNECT_SECONDS)


def _line(error: Exception) -> str:
    # The driver's messages can name the server, never the password; one line is enough.
    return (str(error).splitlines() or [type(error).__name__])[0]
