"""Inbound messages from Meta's ``messages`` webhooks, stored with their senders as contacts.

A message that is, as a whole, a stop word (STOP, BAJA, CANCELAR, PARAR, SAIR, UNSUBSCRIBE) or a
start word (START, ALTA), or a button whose payload is one, puts its sender on the
organisation's suppression list or takes them off it (``contacts.opt_out``); an organisation
may have its own words (``OptOutPolicies``), read only for a message short enough to be one.
So does Meta itself: a ``user_preferences`` webhook (the user stopped or resumed marketing
messages in WhatsApp) and a status failed with 131050 (the user stopped marketing messages:
Meta refused one; it changes nothing once a later message opted them back in).

What they said is stored, never logged: only counts reach the log. Messages to numbers Mindo
does not manage are counted and dropped (the webhook subscription may cover more numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Final

from mindo_core.contacts.opt_out import OptChange, OptOutKeywords, keyword
from mindo_core.delivery.webhook_payloads import InboundMessage, MarketingPreference, StatusUpdate
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import InvalidPhoneNumber
from mindo_core.phones.e164 import to_e164
from mindo_core.ports.contacts import ContactStore, InboundReport, OptEvent, OptOutPolicies

__all__ = ["InboundMessages"]

logger = logging.getLogger("mindo.webhooks")

# Meta's "this user stopped marketing messages from the business" (a failed send's status).
MARKETING_STOPPED: Final = 131050


class InboundMessages:
    def __init__(self, *, contacts: ContactStore, policies: OptOutPolicies, clock: Clock) -> None:
        self._contacts = contacts
        self._policies = policies
        self._clock = clock
        self._defaults = OptOutKeywords()

    async def record(self, messages: Sequence[InboundMessage]) -> InboundReport:
        """Durable before it returns; a failure raises (the webhook is then answered with an
        error, so that Meta posts it again: recording is idempotent on the wamid)."""
        # Oldest first, so that the store sees them in the order the users wrote them.
        ordered = sorted(messages, key=lambda m: m.at)
        changes = await self._opt_changes(ordered)
        report = await self._contacts.record_inbound(
            ordered, received_at=self._clock.now(), opt_changes=changes
        )
        if report.unmanaged:
            logger.info(
                "Ignored %d inbound messages to numbers Mindo does not manage", report.unmanaged
            )
        return report

    async def record_meta_opt_outs(
        self, statuses: Sequence[StatusUpdate], preferences: Sequence[MarketingPreference]
    ) -> int:
        """What Meta says of users' marketing preferences, applied; returns how many applied
        to Mindo's numbers."""
        events = [*_stopped_by_meta(statuses), *map(_preference_event, preferences)]
        if not events:
            return 0
        return await self._contacts.apply_opt_events(sorted(events, key=lambda e: e.at))

    async def _opt_changes(self, messages: Sequence[InboundMessage]) -> dict[str, OptChange]:
        # Only a message that compares as a word can be one: most never cost a read.
        candidates = [m for m in messages if keyword(m.payload) or keyword(m.text)]
        if not candidates:
            return {}
        numbers = {m.phone_number_id for m in candidates}
        own = await self._policies.keywords_by_number(numbers)
        changes: dict[str, OptChange] = {}
        for message in candidates:
            words = own.get(message.phone_number_id, self._defaults)
            change = words.change_for(message.text, message.payload)
            if change is not None:
                changes[message.wamid] = change
        return changes


def _stopped_by_meta(statuses: Sequence[StatusUpdate]) -> Iterator[OptEvent]:
    for status in statuses:
        phone = _e164(status.recipient_id)
        if status.error_code == MARKETING_STOPPED and phone is not None:
            yield OptEvent(
                phone_number_id=status.phone_number_id, phone=phone, at=status.at, change="opt_out"
            )


def _preference_event(preference: MarketingPreference) -> OptEvent:
    return OptEvent(
        phone_number_id=preference.phone_number_id,
        phone=preference.phone,
        at=preference.at,
        change="opt_out" if preference.stop else "opt_in",
    )


def _e164(wa_id: str) -> str | None:
    try:
        return to_e164("+" + wa_id, field="recipient_id") if wa_id.isdigit() else None
    except InvalidPhoneNumber:
        return None
