"""An organisation's unknown-outcome policy as its operator sets it: ``fail`` or ``resend`` the
bulk recipients whose outcome stayed unknown, and the window of later webhooks that decides it
(``bulks.unknown_outcomes``).

Only what is given changes; the result is checked whole before it is stored, so a bad policy
or window changes nothing. ``reset`` puts the organisation back on the default. The engine's
sweep reads the policy at each pass.
"""

from __future__ import annotations

from datetime import timedelta

from mindo_core.bulks.unknown_outcomes import UnknownOutcomePolicy, unknown_outcome_policy
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import Clock
from mindo_core.ports.bulks import UnknownOutcomePolicies

__all__ = ["UnknownOutcomeSettings"]


class UnknownOutcomeSettings:
    def __init__(self, *, policies: UnknownOutcomePolicies, clock: Clock) -> None:
        self._policies = policies
        self._clock = clock

    async def policy(self, organisation_id: OrganisationId) -> UnknownOutcomePolicy:
        return await self._policies.unknown_outcome_policy(organisation_id)

    async def update(
        self,
        organisation_id: OrganisationId,
        *,
        action: str | None = None,
        window: timedelta | None = None,
    ) -> UnknownOutcomePolicy:
        current = await self._policies.unknown_outcome_policy(organisation_id)
        updated = unknown_outcome_policy(
            action=current.action if action is None else action,
            window=current.window if window is None else window,
        )
        await self._policies.set_unknown_outcome_policy(
            organisation_id, updated, at=self._clock.now()
        )
        return updated

    async def reset(self, organisation_id: OrganisationId) -> UnknownOutcomePolicy:
        await self._policies.set_unknown_outcome_policy(organisation_id, None, at=self._clock.now())
        return UnknownOutcomePolicy()
