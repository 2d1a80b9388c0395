"""The composition root: the one place that builds the real object graph from settings.

Nothing connects at import time; ``open_services`` connects, and closes what it opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mindo_core.access.request_limits import KeyRateLimiter, RequestLimit
from mindo_core.adapters.crypto import FernetTokenCipher
from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.adapters.meta import AiohttpMetaGateway
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.domain.clock import Clock, SystemClock
from mindo_core.domain.errors import InvalidRequest
from mindo_core.engine.bulk_engine import BulkEngine, EngineSettings
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.stores import Stores
from mindo_core.services.account_events import AccountEvents
from mindo_core.services.authenticate import Authenticator
from mindo_core.services.bulk_queries import BulkQueries
from mindo_core.services.business_overview import BusinessOverviewQuery
from mindo_core.services.connect_account import AccountConnector
from mindo_core.services.ingest_webhook import IngestWebhook
from mindo_core.services.issue_api_key import ApiKeyAdmin
from mindo_core.services.message_status import MessageStatusQuery
from mindo_core.services.organisation_quota import OrganisationQuota
from mindo_core.services.send_message import SendMessage
from mindo_core.services.status_writer import StatusWriter
from mindo_core.services.submit_bulk import SubmitBulk
from mindo_core.services.watch_bulk import WatchBulk
from mindo_core.settings import Settings
from mindo_core.throughput.pacing import SendTiming


@dataclass(frozen=True, kw_only=True)
class Services:
    stores: Stores
    meta: MetaGateway
    clock: Clock
    authenticator: Authenticator
    send_message: SendMessage
    api_keys: ApiKeyAdmin
    accounts: AccountConnector
    submit_bulk: SubmitBulk
    bulk_queries: BulkQueries
    watch_bulk: WatchBulk
    # Not started by wiring: ``mindo serve`` starts it (``await bulk_engine.start()``), and
    # ``open_services`` stops it on the way out.
    bulk_engine: BulkEngine
    progress: ProgressBus
    business_overview: BusinessOverviewQuery
    message_status: MessageStatusQuery
    ingest_webhook: IngestWebhook
    # Applies parked statuses in the background once started (``mindo serve`` starts it).
    status_writer: StatusWriter


def wire(
    stores: Stores,
    meta: MetaGateway,
    cipher: TokenCipher,
    clock: Clock,
    *,
    request_limit: RequestLimit | None = None,
    engine_settings: EngineSettings | None = None,
    progress: ProgressBus | None = None,
    meta_app_secret: str = "",
) -> Services:
    """Use cases over the given ports: real ones from ``open_services``, fakes in tests."""
    limiter = KeyRateLimiter(request_limit) if request_limit is not None else None
    bus = progress or InProcessProgressBus()
    settings = engine_settings or EngineSettings()
    engine = BulkEngine(
        accounts=stores.accounts,
        templates=stores.templates,
        bulks=stores.bulks,
        meta=meta,
        cipher=cipher,
        clock=clock,
        progress=bus,
        settings=settings,
    )
    # The estimate paces as the engine does: its margin, its throughput override.
    timing = SendTiming(
        margin_seconds=settings.margin_seconds, throughput_mps=settings.throughput_mps
    )
    queries = BulkQueries(
        accounts=stores.accounts,
        templates=stores.templates,
        bulks=stores.bulks,
        clock=clock,
        progress=bus,
        waker=engine,
    )
    statuses = StatusWriter(delivery=stores.delivery, clock=clock, progress=bus)
    events = AccountEvents(
        accounts=stores.accounts,
        templates=stores.templates,
        bulks=stores.bulks,
        clock=clock,
        progress=bus,
        engine=engine,
    )
    ingest = IngestWebhook(statuses, events, app_secret=meta_app_secret)
    # One per process: single sends' reservations are what business-accounts sees too.
    quota = OrganisationQuota(accounts=stores.accounts, bulks=stores.bulks, clock=clock)
    return Services(
        stores=stores,
        meta=meta,
        clock=clock,
        authenticator=Authenticator(
            api_keys=stores.api_keys,
            organisations=stores.organisations,
            clock=clock,
            limiter=limiter,
        ),
        send_message=SendMessage(
            accounts=stores.accounts,
            templates=stores.templates,
            messages=stores.messages,
            meta=meta,
            cipher=cipher,
            clock=clock,
            quota=quota,
            idempotency=stores.idempotency,
        ),
        api_keys=ApiKeyAdmin(
            api_keys=stores.api_keys, organisations=stores.organisations, clock=clock
        ),
        accounts=AccountConnector(
            organisations=stores.organisations,
            accounts=stores.accounts,
            templates=stores.templates,
            meta=meta,
            cipher=cipher,
        ),
        submit_bulk=SubmitBulk(
            accounts=stores.accounts,
            templates=stores.templates,
            bulks=stores.bulks,
            clock=clock,
            waker=engine,
            timing=timing,
        ),
        bulk_queries=queries,
        watch_bulk=WatchBulk(queries, bus, clock),
        bulk_engine=engine,
        progress=bus,
        business_overview=BusinessOverviewQuery(
            accounts=stores.accounts, templates=stores.templates, quota=quota
        ),
        message_status=MessageStatusQuery(messages=stores.messages, templates=stores.templates),
        ingest_webhook=ingest,
        status_writer=statuses,
    )


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Migrates the database, connects the store and builds the Meta client."""
    cipher = _cipher(settings)
    await asyncio.to_thread(upgrade_database, settings.database_url)
    stores = await open_stores(settings.database_url)
    meta = AiohttpMetaGateway(
        base_url=settings.meta_base_url,
        api_version=settings.meta_api_version,
        total_timeout=settings.meta_timeout_seconds,
        send_timeout=settings.meta_send_timeout_seconds,
        list_timeout=settings.meta_list_timeout_seconds,
    )
    try:
        limit = RequestLimit(rate_per_second=settings.key_rate_limit, burst=settings.key_rate_burst)
        services = wire(
            stores,
            meta,
            cipher,
            SystemClock(),
            request_limit=limit,
            meta_app_secret=settings.meta_app_secret,
        )
        try:
            yield services
        finally:
            await services.status_writer.stop()
            await services.bulk_engine.stop()
    finally:
        await meta.close()
        await stores.close()


def _cipher(settings: Settings) -> TokenCipher:
    if not settings.secret_key:
        raise InvalidRequest.for_field(
            "MINDO_SECRET_KEY",
            "is required: it encrypts Meta access tokens (generate one: mindo secret-key)",
        )
    return FernetTokenCipher(settings.secret_key)
