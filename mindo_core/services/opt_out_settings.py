"""An organisation's opt-out policy as its operator sets it: its stop and start words, and the
template categories its suppression list blocks besides marketing.

Only what is given changes; the result is checked whole (``contacts.opt_out.opt_out_policy``)
before it is stored, so a bad word or category changes nothing. ``reset`` puts the
organisation back on the defaults. A change reaches the webhook intake at once, a bulk's next
batch, and single sends within a second (they keep the policy that long).
"""

from __future__ import annotations

from collections.abc import Sequence

from mindo_core.contacts.opt_out import OptOutPolicy, opt_out_policy
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import Clock
from mindo_core.ports.contacts import OptOutPolicies

__all__ = ["OptOutSettings"]


class OptOutSettings:
    def __init__(self, *, policies: OptOutPolicies, clock: Clock) -> None:
        self._policies = policies
        self._clock = clock

    async def policy(self, organisation_id: OrganisationId) -> OptOutPolicy:
        return await self._policies.opt_out_policy(organisation_id)

    async def update(
        self,
        organisation_id: OrganisationId,
        *,
        stop_words: Sequence[str] | None = None,
        start_words: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
    ) -> OptOutPolicy:
        current = await self._policies.opt_out_policy(organisation_id)
        updated = opt_out_policy(
            stop=current.keywords.stop if stop_words is None else stop_words,
            start=current.keywords.start if start_words is None else start_words,
            categories=current.suppressed_categories if categories is None else categories,
        )
        await self._policies.set_opt_out_policy(organisation_id, updated, at=self._clock.now())
        return updated

    async def reset(self, organisation_id: OrganisationId) -> OptOutPolicy:
        await self._policies.set_opt_out_policy(organisation_id, None, at=self._clock.now())
        return OptOutPolicy()
