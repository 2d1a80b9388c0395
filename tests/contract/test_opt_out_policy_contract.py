"""What every opt-out policy store promises (memory, a SQLite file, PostgreSQL): an organisation
on the defaults reads ``OptOutPolicy()``; its own policy is read back as set, found by its
numbers for the webhook intake, and dropped by a reset."""

from __future__ import annotations

from mindo_core.contacts.opt_out import OptOutKeywords, OptOutPolicy
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, tenant

OWN = OptOutPolicy(
    keywords=OptOutKeywords(stop=frozenset({"NO MAS", "STOP"}), start=frozenset({"VOLVER"})),
    suppressed_categories=frozenset({"MARKETING", "UTILITY"}),
)


async def test_an_organisation_that_set_nothing_has_the_defaults(stores: Stores) -> None:
    owner = await tenant(stores)

    policy = await stores.opt_out_policies.opt_out_policy(owner.organisation.id)
    by_number = await stores.opt_out_policies.keywords_by_number({"101"})

    assert policy == OptOutPolicy()
    assert by_number == {}


async def test_its_own_policy_is_read_back_and_found_by_its_numbers(stores: Stores) -> None:
    acme = await tenant(stores)
    globex = await tenant(stores, name="globex", suffix="2")
    policies = stores.opt_out_policies

    await policies.set_opt_out_policy(acme.organisation.id, OWN, at=T0)

    assert await policies.opt_out_policy(acme.organisation.id) == OWN
    assert await policies.opt_out_policy(globex.organisation.id) == OptOutPolicy()
    assert await policies.keywords_by_number({"101", "102", "999"}) == {"101": OWN.keywords}


async def test_setting_again_replaces_and_a_reset_goes_back_to_the_defaults(
    stores: Stores,
) -> None:
    org = (await tenant(stores)).organisation.id
    policies = stores.opt_out_policies
    await policies.set_opt_out_policy(org, OWN, at=T0)
    marketing_only = OptOutPolicy(keywords=OWN.keywords)

    await policies.set_opt_out_policy(org, marketing_only, at=T0)
    replaced = await policies.opt_out_policy(org)
    await policies.set_opt_out_policy(org, None, at=T0)

    assert replaced == marketing_only
    assert await policies.opt_out_policy(org) == OptOutPolicy()
    assert await policies.keywords_by_number({"101"}) == {}
