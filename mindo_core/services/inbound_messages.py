"""Inbound messages from Meta's ``messages`` webhooks, stored with their senders as contacts.

A message that is, as a whole, a stop word (STOP, BAJA, CANCELAR, PARAR, SAIR, UNSUBSCRIBE) or a
start word (START, ALTA), or a button whose payload is one, puts its sender on the
organisation's suppression list or takes them off it (``contacts.opt_out``).

What they said is stored, never logged: only counts reach the log. Messages to numbers Mindo
does not manage are counted and dropped (the webhook subscription may cover more numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mindo_core.contacts.opt_out import OptChange, OptOutKeywords
from mindo_core.delivery.webhook_payloads import InboundMessage
from mindo_core.domain.clock import Clock
from mindo_core.ports.contacts import ContactStore, InboundReport

__all__ = ["InboundMessages"]

logger = logging.getLogger("mindo.webhooks")


class InboundMessages:
    def __init__(
        self, *, contacts: ContactStore, clock: Clock, keywords: OptOutKeywords | None = None
    ) -> None:
        self._contacts = contacts
        self._clock = clock
        self._keywords = keywords or OptOutKeywords()

    async def record(self, messages: Sequence[InboundMessage]) -> InboundReport:
        """Durable before it returns; a failure raises (the webhook is then answered with an
        error, so that Meta posts it again: recording is idempotent on the wamid)."""
        # Oldest first, so that the store sees them in the order the users wrote them.
        ordered = sorted(messages, key=lambda m: m.at)
        report = await self._contacts.record_inbound(
            ordered, received_at=self._clock.now(), opt_changes=self._opt_changes(ordered)
        )
        if report.unmanaged:
            logger.info(
                "Ignored %d inbound messages to numbers Mindo does not manage", report.unmanaged
            )
        return report

    def _opt_changes(self, messages: Sequence[InboundMessage]) -> dict[str, OptChange]:
        changes = {m.wamid: self._keywords.change_for(m.text, m.payload) for m in messages}
        return {wamid: change for wamid, change in changes.items() if change is not None}
