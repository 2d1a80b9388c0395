"""The sweep of unknown outcomes: every ``unknown_sweep_interval`` (30 s), the organisations with
bulk recipients whose outcome is unknown get them settled by their policy once the webhooks of
later messages on the same number have come (``bulks.unknown_outcomes``,
``ports.bulks.UnknownRecipients``).

A pass costs one indexed read when nothing is unknown. Every worker runs it: the store's
updates are guarded, so a recipient is settled once whoever sweeps. Bulks it changed are
published; resent recipients wake the engine (a finished bulk went back to PROCESSING).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mindo_core.domain.clock import Clock
from mindo_core.engine.to_the_end import to_the_end
from mindo_core.ports.bulks import UnknownOutcomePolicies, UnknownRecipients, UnknownSettled
from mindo_core.ports.progress import ProgressBus

__all__ = ["UnknownSweep"]

logger = logging.getLogger("mindo.bulk_engine")


class UnknownSweep:
    def __init__(
        self,
        *,
        recipients: UnknownRecipients,
        policies: UnknownOutcomePolicies,
        clock: Clock,
        progress: ProgressBus,
        interval: float,
        wake: Callable[[], None],
    ) -> None:
        self._recipients = recipients
        self._policies = policies
        self._clock = clock
        self._progress = progress
        self._interval = interval
        self._wake = wake

    async def run(self) -> None:
        """A pass every ``interval`` until cancelled; a failed pass is logged and tried again."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep()
            except Exception:
                logger.exception("Could not settle the bulk recipients whose outcome is unknown")

    async def sweep(self) -> UnknownSettled:
        """One pass over every organisation with unknown recipients; what it did, in all."""
        failed = resent = 0
        for organisation_id in sorted(await self._recipients.organisations_with_unknown()):
            policy = await self._policies.unknown_outcome_policy(organisation_id)
            # Not cut halfway by the engine stopping (see ``to_the_end``).
            settling = asyncio.ensure_future(
                self._recipients.settle_unknown(organisation_id, policy, now=self._clock.now())
            )
            settled = await to_the_end(settling)
            failed, resent = failed + settled.failed, resent + settled.resent
            for bulk in settled.bulks:
                self._progress.publish(bulk.id, bulk)
                logger.info(
                    "Unknown outcomes settled in bulk send %s (policy %s)", bulk.id, policy.action
                )
        if resent:
            self._wake()
        return UnknownSettled(failed=failed, resent=resent)
