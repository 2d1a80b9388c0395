"""``PostgresSlotAsks``: the ``SlotAsks`` port over NOTIFY, on the ``mindo_slots`` channel.

Payloads carry ids and numbers only: ``ask:<number row>:<level>:<within ms>:<token>``, and the
holder's ``grant:<token>:<wait µs>`` or ``busy:<token>:<busy ms>``. A token is the asking
process's random name and a counter, so each process picks out its own answers. Waits are
relative (seconds from when the holder answered), never clock readings, so hosts whose clocks
disagree still agree on them; the answer's delivery only makes the asker's send later.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets

from mindo_core.adapters.sql.notifications import PostgresNotifications
from mindo_core.domain.accounts import PhoneNumber, PhoneNumberRowId
from mindo_core.ports.slot_asks import SlotAnswer, SlotGranter

__all__ = ["CHANNEL", "PostgresSlotAsks"]

CHANNEL = "mindo_slots"


class PostgresSlotAsks:
    """Made before ``notifications`` start (it registers its channel)."""

    def __init__(self, notifications: PostgresNotifications) -> None:
        self._notifications = notifications
        self._name = secrets.token_hex(4)
        self._counter = itertools.count()
        self._waiting: dict[str, asyncio.Future[SlotAnswer]] = {}
        self._granter: SlotGranter | None = None
        notifications.on(CHANNEL, self._heard, lambda: None)

    def answer_with(self, granter: SlotGranter) -> None:
        self._granter = granter

    async def ask(self, number: PhoneNumber, *, within: float) -> SlotAnswer:
        token = f"{self._name}.{next(self._counter)}"
        answer: asyncio.Future[SlotAnswer] = asyncio.get_running_loop().create_future()
        self._waiting[token] = answer
        level = number.throughput_level.strip().upper()[:16] or "STANDARD"
        within_ms = max(0, round(within * 1000))
        self._notifications.notify(CHANNEL, f"ask:{number.id}:{level}:{within_ms}:{token}")
        try:
            return await answer
        finally:
            self._waiting.pop(token, None)

    def _heard(self, payload: str) -> None:
        word, _, rest = payload.partition(":")
        if word == "ask":
            self._answer(rest)
        elif word in ("grant", "busy"):
            self._resolve(word, rest)

    def _answer(self, ask: str) -> None:
        parts = ask.split(":")
        if self._granter is None or len(parts) != 4 or not parts[0].isdigit():
            return
        number, level, within_ms, token = parts
        if not within_ms.isdigit():
            return
        answer = self._granter(PhoneNumberRowId(int(number)), level, int(within_ms) / 1000)
        if answer is None:
            return  # not held here
        if answer.wait is not None:
            reply = f"grant:{token}:{round(answer.wait * 1_000_000)}"
        else:
            reply = f"busy:{token}:{round(answer.busy_for * 1000)}"
        self._notifications.notify(CHANNEL, reply)

    def _resolve(self, word: str, answer: str) -> None:
        token, _, amount = answer.rpartition(":")
        waiting = self._waiting.get(token)
        if waiting is None or waiting.done() or not amount.isdigit():
            return
        if word == "grant":
            waiting.set_result(SlotAnswer(wait=int(amount) / 1_000_000))
        else:
            waiting.set_result(SlotAnswer(wait=None, busy_for=int(amount) / 1000))
