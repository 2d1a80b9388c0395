"""``open_stores``: every store port over one database, each a repository of its own over the
shared ``Database``."""

from __future__ import annotations

from mindo_core.adapters.book_reading import DEFAULT_REFRESH_SECONDS
from mindo_core.adapters.memory.ownership import SoleOwnership
from mindo_core.adapters.memory.quota_ledger import ProcessQuotaLedger
from mindo_core.adapters.sql.accounts import SqlAccounts
from mindo_core.adapters.sql.api_keys import SqlApiKeys
from mindo_core.adapters.sql.bulks import SqlBulks
from mindo_core.adapters.sql.callbacks import SqlCallbackOutbox, SqlWebhookEndpoints
from mindo_core.adapters.sql.contact_directory import SqlContactDirectory
from mindo_core.adapters.sql.contacts import SqlContacts, SqlEventMarks
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.delivery import SqlDelivery
from mindo_core.adapters.sql.engine import make_async_engine
from mindo_core.adapters.sql.idempotency import SqlIdempotency
from mindo_core.adapters.sql.messages import SqlMessages
from mindo_core.adapters.sql.number_pacing import SqlNumberPacing
from mindo_core.adapters.sql.opt_out_policies import SqlOptOutPolicies
from mindo_core.adapters.sql.organisations import SqlOrganisations
from mindo_core.adapters.sql.ownership import DEFAULT_LEASE_SECONDS, SqlNumberOwnership
from mindo_core.adapters.sql.quota_book_versions import SqlQuotaBookVersions
from mindo_core.adapters.sql.quota_ledger import DEFAULT_RESERVATION_SECONDS, SqlQuotaLedger
from mindo_core.adapters.sql.templates import SqlTemplates
from mindo_core.adapters.sql.unknown_outcome_policies import SqlUnknownOutcomePolicies
from mindo_core.adapters.sql.unknown_recipients import SqlUnknownRecipients
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.ownership import NumberOwnership
from mindo_core.ports.quota import QuotaLedger
from mindo_core.ports.stores import Stores


async def open_stores(
    url: str,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    reservation_seconds: float = DEFAULT_RESERVATION_SECONDS,
    quota_refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
) -> Stores:
    """The stores over ``url`` as users write it (see ``urls``). Connects on first use.
    ``lease_seconds``: how long a worker's hold on a number lasts unrenewed (PostgreSQL);
    ``reservation_seconds``: how long a quota slot held for a single send lasts unreleased
    (PostgreSQL: longer than a send to Meta may take); ``quota_refresh_seconds``: how long
    the quota's decisions reuse a full reading of an organisation's book."""
    return stores_over(
        Database(make_async_engine(url)),
        lease_seconds=lease_seconds,
        reservation_seconds=reservation_seconds,
        quota_refresh_seconds=quota_refresh_seconds,
    )


def stores_over(
    database: Database,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    reservation_seconds: float = DEFAULT_RESERVATION_SECONDS,
    quota_refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
) -> Stores:
    bulks = SqlBulks(database)
    return Stores(
        organisations=SqlOrganisations(database),
        api_keys=SqlApiKeys(database),
        accounts=SqlAccounts(database),
        templates=SqlTemplates(database),
        messages=SqlMessages(database),
        bulks=bulks,
        delivery=SqlDelivery(database),
        contacts=SqlContacts(database),
        contact_directory=SqlContactDirectory(database),
        opt_out_policies=SqlOptOutPolicies(database),
        unknown_outcome_policies=SqlUnknownOutcomePolicies(database),
        unknown_recipients=SqlUnknownRecipients(database),
        event_marks=SqlEventMarks(database),
        idempotency=SqlIdempotency(database),
        webhook_endpoints=SqlWebhookEndpoints(database),
        callback_outbox=SqlCallbackOutbox(database),
        ownership=_ownership(database, lease_seconds),
        number_pacing=SqlNumberPacing(database) if database.dialect == "postgresql" else None,
        quota_ledger=_quota_ledger(
            database, bulks, reservation_seconds, refresh_seconds=quota_refresh_seconds
        ),
        close=database.close,
    )


def _ownership(database: Database, lease_seconds: float) -> NumberOwnership:
    """Leases on PostgreSQL, where many workers share the numbers; SQLite runs one engine per
    file (``engine_lock``), which owns them all."""
    if database.dialect == "postgresql":
        return SqlNumberOwnership(database, lease_seconds=lease_seconds)
    return SoleOwnership()


def _quota_ledger(
    database: Database, bulks: BulkStore, reservation_seconds: float, *, refresh_seconds: float
) -> QuotaLedger:
    """Shared reservations on PostgreSQL, where several API processes decide for one
    organisation; on SQLite one service process decides, in its memory, as the memory stores.
    Both reuse a reading of the book while the database's book version stands."""
    if database.dialect == "postgresql":
        return SqlQuotaLedger(
            database, reservation_seconds=reservation_seconds, refresh_seconds=refresh_seconds
        )
    versions = SqlQuotaBookVersions(database)
    return ProcessQuotaLedger(bulks, versions=versions, refresh_seconds=refresh_seconds)
