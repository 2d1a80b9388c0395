"""Inbound messages from Meta's ``messages`` webhooks, stored with their senders as contacts.

What they said is stored, never logged: only counts reach the log. Messages to numbers Mindo
does not manage are counted and dropped (the webhook subscription may cover more numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mindo_core.delivery.webhook_payloads import InboundMessage
from mindo_core.domain.clock import Clock
from mindo_core.ports.contacts import ContactStore, InboundReport

__all__ = ["InboundMessages"]

logger = logging.getLogger("mindo.webhooks")


class InboundMessages:
    def __init__(self, *, contacts: ContactStore, clock: Clock) -> None:
        self._contacts = contacts
        self._clock = clock

    async def record(self, messages: Sequence[InboundMessage]) -> InboundReport:
        """Durable before it returns; a failure raises (the webhook is then answered with an
        error, so that Meta posts it again: recording is idempotent on the wamid)."""
        # Oldest first, so that the store sees them in the order the users wrote them.
        ordered = sorted(messages, key=lambda m: m.at)
        report = await self._contacts.record_inbound(ordered, received_at=self._clock.now())
        if report.unmanaged:
            logger.info(
                "Ignored %d inbound messages to numbers Mindo does not manage", report.unmanaged
            )
        return report
