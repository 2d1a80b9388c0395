"""The sweep of unknown outcomes: every ``interval``, the engine settles the unconfirmed
recipients the webhooks have decided (``bulks.unknown_outcomes.sweep_action``), by their
organisation's policy and window. It runs in the engine's process, off the request path; a
resent recipient is pending again in a bulk that runs again, and the supervisor is woken to
send it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from mindo_core.bulks.unknown_outcomes import SweepAction, UnknownRecipient, sweep_action
from mindo_core.domain.accounts import (
    UNKNOWN_OUTCOME_WINDOW_MINUTES,
    OrganisationId,
    OrganisationProfile,
)
from mindo_core.domain.clock import Clock
from mindo_core.domain.messages import MessageId
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.ports.progress import ProgressBus

__all__ = ["UnknownSweep"]

logger = logging.getLogger("mindo.bulk_engine")

# Unknown recipients settled per sweep at most (the next sweep takes the rest).
_PER_SWEEP = 500


class UnknownSweep:
    def __init__(
        self,
        *,
        bulks: BulkStore,
        organisations: OrganisationStore,
        clock: Clock,
        progress: ProgressBus,
        interval: float,
        resent: Callable[[], None],
    ) -> None:
        self._bulks = bulks
        self._organisations = organisations
        self._clock = clock
        self._progress = progress
        self._interval = interval
        self._resent = resent

    async def run(self) -> None:
        """Sweep every ``interval`` until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("Could not settle the recipients whose outcome is unknown")
            await asyncio.sleep(self._interval)

    async def sweep(self) -> dict[SweepAction, int]:
        """One sweep; how many recipients each action took."""
        now = self._clock.now()
        shortest = timedelta(minutes=UNKNOWN_OUTCOME_WINDOW_MINUTES[0])
        unknown = await self._bulks.unknown_recipients(
            started_before=now - shortest, limit=_PER_SWEEP
        )
        profiles: dict[OrganisationId, OrganisationProfile] = {}
        actions: dict[SweepAction, list[MessageId]] = {"wait": [], "fail": [], "resend": []}
        for recipient in unknown:
            profile = await self._profile(recipient, profiles)
            action = sweep_action(
                recipient,
                policy=profile.unknown_outcome_policy,
                window=timedelta(minutes=profile.unknown_outcome_window_minutes),
                now=now,
            )
            actions[action].append(recipient.message_id)
        if actions["fail"] or actions["resend"]:
            changed = await self._bulks.settle_unknown(
                failed=actions["fail"], resent=actions["resend"], now=now
            )
            for bulk in changed:
                self._progress.publish(bulk.id, bulk)
            logger.warning(
                "Settled recipients whose outcome was unknown: %d failed, %d resent",
                len(actions["fail"]),
                len(actions["resend"]),
            )
        if actions["resend"]:
            self._resent()
        return {action: len(ids) for action, ids in actions.items()}

    async def _profile(
        self, recipient: UnknownRecipient, known: dict[OrganisationId, OrganisationProfile]
    ) -> OrganisationProfile:
        organisation_id = recipient.organisation_id
        if organisation_id not in known:
            organisation = await self._organisations.get_organisation(organisation_id)
            known[organisation_id] = (
                OrganisationProfile() if organisation is None else organisation.profile
            )
        return known[organisation_id]
