"""Engine steering across processes on PostgreSQL: each word on the ``mindo_engine`` channel.

Payloads are ``wake``, ``drop:<bulk id>`` and ``refresh:<phone number row id>``: ids only. A
process applies what it hears to its own engine (one not started ignores it); after a lost
connection it wakes its engine, which then re-reads the bulks to run.
"""

from __future__ import annotations

from mindo_core.adapters.sql.notifications import PostgresNotifications
from mindo_core.bulks.model import BulkId
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.engine_steering import EngineSteering

__all__ = ["CHANNEL", "PostgresSteeringRelay"]

CHANNEL = "mindo_engine"


class PostgresSteeringRelay:
    """``SteeringRelay`` over NOTIFY; made before ``notifications`` start."""

    def __init__(self, notifications: PostgresNotifications) -> None:
        self._notifications = notifications

    def relaying(self, local: EngineSteering) -> EngineSteering:
        relayed = _Relayed(self._notifications, local)
        self._notifications.on(CHANNEL, relayed.heard, local.wake)
        return relayed


class _Relayed:
    def __init__(self, notifications: PostgresNotifications, local: EngineSteering) -> None:
        self._notifications = notifications
        self._local = local

    def wake(self) -> None:
        self._local.wake()
        self._notifications.notify(CHANNEL, "wake")

    def drop(self, bulk_id: BulkId) -> None:
        self._local.drop(bulk_id)
        self._notifications.notify(CHANNEL, f"drop:{bulk_id}")

    def refresh_number(self, phone_number_row_id: PhoneNumberRowId) -> None:
        self._local.refresh_number(phone_number_row_id)
        self._notifications.notify(CHANNEL, f"refresh:{phone_number_row_id}")

    def heard(self, payload: str) -> None:
        word, _, value = payload.partition(":")
        if word == "wake":
            self._local.wake()
        elif word == "drop" and value:
            self._local.drop(BulkId(value))
        elif word == "refresh" and value.isdigit():
            self._local.refresh_number(PhoneNumberRowId(int(value)))
