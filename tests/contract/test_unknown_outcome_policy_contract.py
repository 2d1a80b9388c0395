"""What every unknown-outcome policy store promises (memory, a SQLite file, PostgreSQL): an
organisation that set nothing reads the default (fail, 10 minutes); its own policy is read back
as set, for it alone, and dropped by a reset."""

from __future__ import annotations

from datetime import timedelta

from mindo_core.bulks.unknown_outcomes import UnknownOutcomePolicy
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, tenant

RESEND = UnknownOutcomePolicy(action="resend", window=timedelta(minutes=3))


async def test_an_organisation_that_set_nothing_fails_them_after_ten_minutes(
    stores: Stores,
) -> None:
    owner = await tenant(stores)

    policy = await stores.unknown_outcome_policies.unknown_outcome_policy(owner.organisation.id)

    assert policy == UnknownOutcomePolicy(action="fail", window=timedelta(minutes=10))


async def test_its_own_policy_is_read_back_for_it_alone_and_reset(stores: Stores) -> None:
    acme = (await tenant(stores)).organisation.id
    globex = (await tenant(stores, name="globex", suffix="2")).organisation.id
    policies = stores.unknown_outcome_policies

    await policies.set_unknown_outcome_policy(acme, RESEND, at=T0)
    own = await policies.unknown_outcome_policy(acme)
    other = await policies.unknown_outcome_policy(globex)
    await policies.set_unknown_outcome_policy(acme, replace_window(RESEND, hours=24), at=T0)
    replaced = await policies.unknown_outcome_policy(acme)
    await policies.set_unknown_outcome_policy(acme, None, at=T0)

    assert (own, other) == (RESEND, UnknownOutcomePolicy())
    assert replaced == UnknownOutcomePolicy(action="resend", window=timedelta(hours=24))
    assert await policies.unknown_outcome_policy(acme) == UnknownOutcomePolicy()


def replace_window(policy: UnknownOutcomePolicy, *, hours: int) -> UnknownOutcomePolicy:
    return UnknownOutcomePolicy(action=policy.action, window=timedelta(hours=hours))
