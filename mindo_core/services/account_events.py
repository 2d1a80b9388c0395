"""Meta's account webhooks: a template's status, a number's limits, the portfolio's tier.

* ``message_template_status_update``: the template takes Meta's new status (REINSTATED and
  UNARCHIVED read as APPROVED again; FLAGGED is a warning, and a flagged template can still be
  sent, so it changes nothing). A template that can no longer be sent (PAUSED, DISABLED, …)
  stops every running or paused bulk that uses it, with a reason that names the template and
  the event;
  their pending recipients are skipped, and new sends are refused (it is no longer APPROVED).
* ``phone_number_quality_update``: the number's messaging tier (``current_limit`` /
  ``max_daily_conversations_per_business``) and, on THROUGHPUT_UPGRADE, its throughput (HIGH,
  1,000 messages/s). The engine applies the number's new values at once.
* ``business_capability_update``: the portfolio's messaging limit; Mindo's quota is per
  portfolio, read off its numbers' tiers, so every number of the account takes the new tier.
* ``message_template_quality_update``: a template's quality score; only RED matters (below).

The quality guard (``quality_guard``): a number flagged or rated RED, a messaging limit that
went down, or a template rated RED pauses the organisation's bulks on that number or template,
with a ``pause_reason`` (``delivery.quality_alarms``), unless its policy is "continue". The
throughput and tier changes apply all the same.

A tier that rises re-plans the running bulks of the number that wait for quota
(``quota_replan``) before the engine is told, so they go sooner, with a new estimate.

An event about an account, number or template Mindo does not know is logged and ignored: the
webhook subscription may cover more than Mindo manages.

Only the newest event counts. Meta retries, duplicates and reorders webhooks, so each object (a
template, a number, an account's portfolio limit) keeps the time of the last event applied to it
(``AccountEventMarks``), and an event older than that changes nothing: a PAUSED posted again
after REINSTATED does not pause the template again. An event with the same time as the last one
is applied (Meta's times are whole seconds, so two real events can share one, and a retry of an
event whose application failed must get through). An event that carries no time cannot be
ordered and is applied as it comes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Final, Protocol

from mindo_core.bulks.model import Bulk, BulkId, BulkStatus, IllegalTransition
from mindo_core.delivery.quality_alarms import (
    number_alarm,
    template_alarm,
    tier_fell,
    tier_lowered_alarm,
)
from mindo_core.delivery.webhook_payloads import (
    AccountEvent,
    CapabilityChange,
    NumberQualityChange,
    TemplateQualityChange,
    TemplateStatusChange,
)
from mindo_core.domain.accounts import BusinessAccount, PhoneNumber, PhoneNumberRowId
from mindo_core.domain.clock import Clock
from mindo_core.domain.templates import StoredTemplate
from mindo_core.domain.tiers import UnknownTier, parse_tier
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkFilter, BulkStore
from mindo_core.ports.contacts import AccountEventMarks
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.quota import QuotaLedger
from mindo_core.ports.templates import TemplateStore
from mindo_core.services.quality_guard import QualityGuard
from mindo_core.services.quota_replan import QuotaReplan, tier_rose
from mindo_core.throughput.pacing import HIGH_THROUGHPUT_LEVEL, SendTiming

__all__ = ["AccountEvents", "EngineControl"]

logger = logging.getLogger("mindo.webhooks")

APPROVED: Final = "APPROVED"
_PAGE: Final = 100
# Events that mean "sendable again", and events that are only a warning.
_APPROVED_AGAIN = frozenset({"REINSTATED", "UNARCHIVED"})
_WARNINGS = frozenset({"FLAGGED"})


class EngineControl(Protocol):
    """The part of the bulk engine that account events steer."""

    def drop(self, bulk_id: BulkId) -> None: ...

    def refresh_number(self, phone_number_row_id: PhoneNumberRowId) -> None: ...


class AccountEvents:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        bulks: BulkStore,
        quota: QuotaLedger,
        clock: Clock,
        progress: ProgressBus,
        engine: EngineControl,
        marks: AccountEventMarks,
        organisations: OrganisationStore,
        timing: SendTiming | None = None,
    ) -> None:
        self._marks = marks
        self._accounts = accounts
        self._templates = templates
        self._bulks = bulks
        self._clock = clock
        self._bus = progress
        self._engine = engine
        self._replan = QuotaReplan(
            bulks=bulks, quota=quota, clock=clock, progress=progress, timing=timing
        )
        self._guard = QualityGuard(
            organisations=organisations, bulks=bulks, progress=progress, engine=engine
        )

    async def apply(self, event: AccountEvent) -> None:
        if isinstance(event, TemplateStatusChange):
            await self._template_changed(event)
        elif isinstance(event, TemplateQualityChange):
            await self._template_quality_changed(event)
        elif isinstance(event, NumberQualityChange):
            await self._number_changed(event)
        else:
            await self._capability_changed(event)

    # -- templates -----------------------------------------------------------------------------

    async def _template_changed(self, event: TemplateStatusChange) -> None:
        status = _template_status(event.event)
        if status is None:
            return
        account = await self._account(event.waba_id)
        template = None if account is None else await self._template(account, event)
        if template is None:
            logger.info("Template status webhook for an unknown template (%s)", event.name)
            return
        if not await self._newest(f"template:{template.id}", event.at):
            logger.info("Ignored a template status webhook older than the last one applied")
            return
        updated = await self._templates.set_template_status(template.id, status)
        logger.info("Template %s (%s) is now %s", updated.name, updated.language, status)
        if not updated.is_approved and account is not None:
            await self._stop_bulks_of(updated, account, _stop_reason(updated, event))

    async def _template_quality_changed(self, event: TemplateQualityChange) -> None:
        account = await self._account(event.waba_id)
        template = None if account is None else await self._template(account, event)
        if template is None or account is None:
            logger.info("Template quality webhook for an unknown template (%s)", event.name)
            return
        if not await self._newest(f"template_quality:{template.id}", event.at):
            logger.info("Ignored a template quality webhook older than the last one applied")
            return
        reason = template_alarm(event, name=template.name, language=template.language)
        if reason is not None:
            await self._guard.template_alarm(account.organisation_id, template.id, reason)

    async def _template(
        self, account: BusinessAccount, event: TemplateStatusChange | TemplateQualityChange
    ) -> StoredTemplate | None:
        templates = await self._templates.list_templates(account.id)
        if event.meta_template_id:
            by_id = [t for t in templates if t.meta_template_id == event.meta_template_id]
            if by_id:
                return by_id[0]
        same = [t for t in templates if (t.name, t.language) == (event.name, event.language)]
        return same[0] if same else None

    async def _stop_bulks_of(
        self, template: StoredTemplate, account: BusinessAccount, reason: str
    ) -> None:
        # The template's own organisation's bulks only: not every running bulk of every one.
        statuses: tuple[BulkStatus, ...] = ("QUEUED", "PROCESSING", "PAUSED", "SCHEDULED")
        bulks = [b for status in statuses for b in await self._bulks_of(template, account, status)]
        for bulk in bulks:
            # Stopped first, so that what the engine claimed but did not send is released as
            # skipped when it drops the bulk, never as pending again.
            try:
                stopped = await self._bulks.stop_bulk(
                    bulk.id, now=self._clock.now(), reason=reason, cancelled=False
                )
            except IllegalTransition:  # over meanwhile (finished, cancelled, or 132015 seen)
                continue
            finally:
                self._engine.drop(bulk.id)
            logger.warning("Bulk send %s stopped: %s", bulk.id, reason)
            self._bus.publish(stopped.id, stopped)

    async def _bulks_of(
        self, template: StoredTemplate, account: BusinessAccount, status: BulkStatus
    ) -> list[Bulk]:
        """The bulks of ``template`` in ``status`` (PAUSED and SCHEDULED ones are stopped too, so
        that resuming one, or its time coming, finds it over)."""
        found: list[Bulk] = []
        filters = BulkFilter(status=status, template_id=template.id)
        while True:
            page = await self._bulks.list_bulks(
                account.organisation_id, filters, offset=len(found), limit=_PAGE
            )
            found += page.items
            if len(page.items) < _PAGE:
                return found

    # -- numbers and tiers ---------------------------------------------------------------------

    async def _number_changed(self, event: NumberQualityChange) -> None:
        account = await self._account(event.waba_id)
        numbers = [] if account is None else await self._accounts.list_phone_numbers(account.id)
        number = _by_display_number(numbers, event.display_phone_number)
        if number is None:
            logger.info("Quality webhook for an unknown number (%s)", event.display_phone_number)
            return
        tier = _tier_name(event.messaging_limit)
        throughput = HIGH_THROUGHPUT_LEVEL if event.event == "THROUGHPUT_UPGRADE" else None
        alarm = number_alarm(
            event,
            display_number=number.display_phone_number,
            tier_before=number.messaging_limit_tier,
            tier_after=tier or number.messaging_limit_tier,
        )
        if tier is None and throughput is None and alarm is None:
            return
        if not await self._newest(f"number:{number.id}", event.at):
            logger.info("Ignored a quality webhook older than the last one applied")
            return
        if alarm is not None and account is not None:
            await self._guard.number_alarm(account.organisation_id, number.id, alarm)
        if tier is not None or throughput is not None:
            await self._update_number(number, tier=tier, throughput=throughput)

    async def _capability_changed(self, event: CapabilityChange) -> None:
        tier = _tier_name(event.max_daily_conversations)
        account = await self._account(event.waba_id)
        if tier is None or account is None:
            return
        if not await self._newest(f"capability:{account.id}", event.at):
            logger.info("Ignored a capability webhook older than the last one applied")
            return
        for number in await self._accounts.list_phone_numbers(account.id):
            if tier_fell(number.messaging_limit_tier, tier):
                alarm = tier_lowered_alarm(
                    number.display_phone_number, number.messaging_limit_tier, tier
                )
                await self._guard.number_alarm(account.organisation_id, number.id, alarm)
            await self._update_number(number, tier=tier, throughput=None)

    async def _update_number(
        self, number: PhoneNumber, *, tier: str | None, throughput: str | None
    ) -> None:
        updated = await self._accounts.update_phone_number_limits(
            number.id, messaging_limit_tier=tier, throughput_level=throughput
        )
        logger.info(
            "Number %s: tier %s, throughput %s",
            updated.display_phone_number,
            updated.messaging_limit_tier,
            updated.throughput_level,
        )
        if tier_rose(number.messaging_limit_tier, updated.messaging_limit_tier):
            replanned = await self._replan(updated)
            if replanned:
                logger.info("Re-planned %d bulk send(s) waiting for quota", len(replanned))
        self._engine.refresh_number(updated.id)

    async def _newest(self, object_key: str, at: datetime | None) -> bool:
        """Whether the event is not older than the last one applied to the object (and, when it
        is not, it is now the last one)."""
        return at is None or await self._marks.mark_if_not_older(object_key, at)

    async def _account(self, waba_id: str) -> BusinessAccount | None:
        accounts = await self._accounts.list_business_accounts()
        return next((a for a in accounts if a.waba_id == waba_id), None)


def _template_status(event: str) -> str | None:
    """The template's new status, or None when the event changes nothing."""
    if event in _WARNINGS or not event:
        return None
    return APPROVED if event in _APPROVED_AGAIN else event


def _stop_reason(template: StoredTemplate, event: TemplateStatusChange) -> str:
    why = f" ({event.reason})" if event.reason and event.reason.upper() != "NONE" else ""
    return (
        f"Stopped: Meta set the template '{template.name}' ({template.language}) to "
        f"{template.status}{why}"
    )


def _tier_name(limit: str | int | None) -> str | None:
    if limit is None:
        return None
    try:
        return parse_tier(limit).name
    except UnknownTier:
        logger.warning("Ignoring an unknown messaging limit %r", limit)
        return None


def _by_display_number(numbers: Sequence[PhoneNumber], display: str) -> PhoneNumber | None:
    digits = _digits(display)
    return next((n for n in numbers if _digits(n.display_phone_number) == digits), None)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
