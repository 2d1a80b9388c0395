"""``memory_stores``: every store port over one shared ``Tables``, for fast tests of services."""

from __future__ import annotations

from mindo_core.adapters.memory.accounts import InMemoryAccounts
from mindo_core.adapters.memory.api_keys import InMemoryApiKeys
from mindo_core.adapters.memory.bulks import InMemoryBulks
from mindo_core.adapters.memory.callbacks import InMemoryCallbackOutbox, InMemoryWebhookEndpoints
from mindo_core.adapters.memory.contact_directory import InMemoryContactDirectory
from mindo_core.adapters.memory.contacts import InMemoryContacts, InMemoryEventMarks
from mindo_core.adapters.memory.delivery import InMemoryDelivery
from mindo_core.adapters.memory.idempotency import InMemoryIdempotency
from mindo_core.adapters.memory.messages import InMemoryMessages
from mindo_core.adapters.memory.opt_out_policies import InMemoryOptOutPolicies
from mindo_core.adapters.memory.organisations import InMemoryOrganisations
from mindo_core.adapters.memory.ownership import SoleOwnership
from mindo_core.adapters.memory.quota_ledger import ProcessQuotaLedger
from mindo_core.adapters.memory.tables import Tables
from mindo_core.adapters.memory.templates import InMemoryTemplates
from mindo_core.adapters.memory.unknown_outcome_policies import InMemoryUnknownOutcomePolicies
from mindo_core.adapters.memory.unknown_recipients import InMemoryUnknownRecipients
from mindo_core.ports.stores import Stores


def memory_stores(tables: Tables | None = None) -> Stores:
    """Stores over ``tables`` (new, empty ones by default); closing them holds nothing."""
    shared = tables or Tables()
    bulks = InMemoryBulks(shared)
    return Stores(
        organisations=InMemoryOrganisations(shared),
        api_keys=InMemoryApiKeys(shared),
        accounts=InMemoryAccounts(shared),
        templates=InMemoryTemplates(shared),
        messages=InMemoryMessages(shared),
        bulks=bulks,
        delivery=InMemoryDelivery(shared),
        contacts=InMemoryContacts(shared),
        contact_directory=InMemoryContactDirectory(shared),
        opt_out_policies=InMemoryOptOutPolicies(shared),
        unknown_outcome_policies=InMemoryUnknownOutcomePolicies(shared),
        unknown_recipients=InMemoryUnknownRecipients(shared),
        event_marks=InMemoryEventMarks(shared),
        idempotency=InMemoryIdempotency(shared),
        webhook_endpoints=InMemoryWebhookEndpoints(shared),
        callback_outbox=InMemoryCallbackOutbox(shared),
        ownership=SoleOwnership(),
        quota_ledger=ProcessQuotaLedger(bulks),
        close=_nothing_to_close,
    )


async def _nothing_to_close() -> None:
    return None
