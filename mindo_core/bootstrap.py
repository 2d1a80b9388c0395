"""The composition root: the one place that builds the real object graph from settings.

Nothing connects at import time; ``open_services`` connects, and closes what it opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from mindo_core.access.request_limits import KeyRateLimiter, RequestLimit
from mindo_core.adapters.crypto import FernetTokenCipher
from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.adapters.meta import AiohttpMetaGateway
from mindo_core.adapters.sql import open_store, upgrade_database
from mindo_core.domain.clock import Clock, SystemClock
from mindo_core.domain.errors import InvalidRequest
from mindo_core.engine.bulk_engine import BulkEngine, EngineSettings
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.delivery import DeliveryStore
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.stores import Store
from mindo_core.services.account_events import AccountEvents
from mindo_core.services.authenticate import Authenticator
from mindo_core.services.bulk_queries import BulkQueries
from mindo_core.services.business_info import BusinessInfoQuery
from mindo_core.services.business_overview import BusinessOverviewQuery
from mindo_core.services.connect_account import AccountConnector
from mindo_core.services.ingest_webhook import IngestWebhook
from mindo_core.services.issue_api_key import ApiKeyAdmin
from mindo_core.services.message_status import MessageStatusQuery
from mindo_core.services.operator_queries import OperatorQueries
from mindo_core.services.organisation_admin import OrganisationAdmin
from mindo_core.services.revoke_key import KeyRevoker
from mindo_core.services.send_message import SendMessage
from mindo_core.services.status_writer import StatusWriter
from mindo_core.services.submit_bulk import SubmitBulk
from mindo_core.services.template_catalogue import TemplateCatalogue
from mindo_core.services.watch_bulk import WatchBulk
from mindo_core.settings import Settings
from mindo_core.throughput.pacing import SendTiming


class FullStore(Store, BulkStore, DeliveryStore, Protocol):
    """Every store port: what one database adapter implements."""


@dataclass(frozen=True, kw_only=True)
class Services:
    """The use cases the edges call (the CLI, the gRPC servicer, the tests), and the two
    background workers ``mindo serve`` starts: no store, gateway or clock."""

    authenticator: Authenticator
    send_message: SendMessage
    organisations: OrganisationAdmin
    api_keys: ApiKeyAdmin
    key_revoker: KeyRevoker
    accounts: AccountConnector
    templates: TemplateCatalogue
    operator_queries: OperatorQueries
    submit_bulk: SubmitBulk
    bulk_queries: BulkQueries
    watch_bulk: WatchBulk
    # Not started by wiring: ``mindo serve`` starts it (``await bulk_engine.start()``), and
    # ``open_services`` stops it on the way out.
    bulk_engine: BulkEngine
    business_overview: BusinessOverviewQuery
    business_info: BusinessInfoQuery
    message_status: MessageStatusQuery
    ingest_webhook: IngestWebhook
    # Applies parked statuses in the background once started (``mindo serve`` starts it).
    status_writer: StatusWriter


def wire(
    store: FullStore,
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
    engine = BulkEngine(store, meta, cipher, clock, bus, settings)
    # The estimate paces as the engine does: its margin, its throughput override.
    timing = SendTiming(
        margin_seconds=settings.margin_seconds, throughput_mps=settings.throughput_mps
    )
    queries = BulkQueries(store, clock, bus, engine)
    statuses = StatusWriter(store, clock, bus)
    ingest = IngestWebhook(
        statuses, AccountEvents(store, clock, bus, engine), app_secret=meta_app_secret
    )
    return Services(
        authenticator=Authenticator(store, clock, limiter),
        send_message=SendMessage(store, meta, cipher, clock),
        organisations=OrganisationAdmin(organisations=store),
        api_keys=ApiKeyAdmin(store, clock),
        key_revoker=KeyRevoker(organisations=store, api_keys=store, accounts=store, clock=clock),
        accounts=AccountConnector(store, meta, cipher),
        templates=TemplateCatalogue(accounts=store, templates=store, meta=meta, cipher=cipher),
        operator_queries=OperatorQueries(organisations=store, accounts=store),
        submit_bulk=SubmitBulk(store, clock, engine, timing=timing),
        bulk_queries=queries,
        watch_bulk=WatchBulk(queries, bus),
        bulk_engine=engine,
        business_overview=BusinessOverviewQuery(store, clock),
        business_info=BusinessInfoQuery(organisations=store),
        message_status=MessageStatusQuery(store),
        ingest_webhook=ingest,
        status_writer=statuses,
    )


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Migrates the database, connects the store and builds the Meta client."""
    cipher = _cipher(settings)
    await asyncio.to_thread(upgrade_database, settings.database_url)
    store = await open_store(settings.database_url)
    meta = AiohttpMetaGateway(
        base_url=settings.meta_base_url,
        api_version=settings.meta_api_version,
        total_timeout=settings.meta_timeout_seconds,
    )
    try:
        limit = RequestLimit(rate_per_second=settings.key_rate_limit, burst=settings.key_rate_burst)
        services = wire(
            store,
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
        await store.close()


def _cipher(settings: Settings) -> TokenCipher:
    if not settings.secret_key:
        raise InvalidRequest.for_field(
            "MINDO_SECRET_KEY",
            "is required: it encrypts Meta access tokens (generate one: mindo secret-key)",
        )
    return FernetTokenCipher(settings.secret_key)
