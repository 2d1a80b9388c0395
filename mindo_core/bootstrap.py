"""The composition root: the one place that builds the real object graph from settings.

Nothing connects at import time; ``open_services`` connects, and closes what it opened.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from mindo_core.access.request_limits import KeyRateLimiter, RequestLimit
from mindo_core.adapters.callbacks_http import AiohttpCallbackSender
from mindo_core.adapters.crypto import FernetTokenCipher
from mindo_core.adapters.engine_lock import exclusive_engine
from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.adapters.meta import HttpMetaGateway
from mindo_core.adapters.meta.observed import ObservedMetaGateway
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.adapters.sql.engine_steering import PostgresSteeringRelay
from mindo_core.adapters.sql.notifications import PostgresNotifications
from mindo_core.adapters.sql.progress_bus import PostgresProgressBus
from mindo_core.adapters.sql.slot_asks import PostgresSlotAsks
from mindo_core.adapters.sql.urls import backend_of, sqlite_file
from mindo_core.callbacks.retry_schedule import RetryPolicy
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.domain.clock import Clock, SystemClock
from mindo_core.domain.errors import InvalidRequest
from mindo_core.engine.bulk_engine import BulkEngine, EngineSettings
from mindo_core.engine.settings import number_throughputs
from mindo_core.ports.callbacks import CallbackSender
from mindo_core.ports.engine_steering import EngineSteering, SteeringRelay
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.send_slots import SendSlots
from mindo_core.ports.slot_asks import SlotAsks
from mindo_core.ports.stores import Stores
from mindo_core.ports.telemetry import CallbackTelemetry, Telemetry
from mindo_core.services.account_events import AccountEvents
from mindo_core.services.authenticate import Authenticator
from mindo_core.services.batched_pacing import BatchedPacing
from mindo_core.services.bulk_backlog import BulkBacklog
from mindo_core.services.bulk_queries import BulkQueries
from mindo_core.services.business_info import BusinessInfoQuery
from mindo_core.services.business_overview import BusinessOverviewQuery
from mindo_core.services.callback_delivery import CallbackDelivery, DeliverySettings
from mindo_core.services.cluster_send_slots import ClusterSendSlots
from mindo_core.services.connect_account import AccountConnector
from mindo_core.services.contact_import import ContactImport
from mindo_core.services.contact_lookup import ContactLookup
from mindo_core.services.inbound_messages import InboundMessages
from mindo_core.services.ingest_webhook import IngestWebhook
from mindo_core.services.issue_api_key import ApiKeyAdmin
from mindo_core.services.local_send_slots import LocalSendSlots
from mindo_core.services.message_status import MessageStatusQuery
from mindo_core.services.operator_queries import OperatorQueries
from mindo_core.services.opt_out_settings import OptOutSettings
from mindo_core.services.organisation_admin import OrganisationAdmin
from mindo_core.services.organisation_quota import OrganisationQuota
from mindo_core.services.resend_failed import ResendFailed
from mindo_core.services.revoke_key import KeyRevoker
from mindo_core.services.send_message import DEFAULT_SLOT_WAIT_SECONDS, SendMessage
from mindo_core.services.status_writer import StatusWriter
from mindo_core.services.submit_bulk import SubmitBulk
from mindo_core.services.suppression_list import SuppressionList
from mindo_core.services.template_catalogue import TemplateCatalogue
from mindo_core.services.unknown_outcome_settings import UnknownOutcomeSettings
from mindo_core.services.watch_bulk import WatchBulk
from mindo_core.services.watch_bulks import WatchBulks
from mindo_core.services.webhook_endpoints import WebhookEndpoints
from mindo_core.settings import Settings
from mindo_core.throughput.number_throughputs import NumberThroughputs
from mindo_core.throughput.pacing import SendTiming


@dataclass(frozen=True, kw_only=True)
class Services:
    """The use cases the edges call (the CLI, the gRPC servicer, the tests), and the two
    background workers ``mindo serve`` starts (``mindo worker``: the engine alone): no store,
    gateway or clock."""

    authenticator: Authenticator
    send_message: SendMessage
    organisations: OrganisationAdmin
    api_keys: ApiKeyAdmin
    key_revoker: KeyRevoker
    accounts: AccountConnector
    templates: TemplateCatalogue
    operator_queries: OperatorQueries
    submit_bulk: SubmitBulk
    resend_failed: ResendFailed
    bulk_queries: BulkQueries
    watch_bulk: WatchBulk
    watch_bulks: WatchBulks
    # Not started by wiring: ``mindo serve`` and ``mindo worker`` start it (``running_engine``),
    # and ``open_services`` stops it on the way out.
    bulk_engine: BulkEngine
    business_overview: BusinessOverviewQuery
    business_info: BusinessInfoQuery
    message_status: MessageStatusQuery
    ingest_webhook: IngestWebhook
    # Applies parked statuses in the background once started (``mindo serve`` starts it).
    status_writer: StatusWriter
    contact_lookup: ContactLookup
    suppression_list: SuppressionList
    contact_import: ContactImport
    opt_out_settings: OptOutSettings
    unknown_outcome_settings: UnknownOutcomeSettings
    bulk_backlog: BulkBacklog
    webhook_endpoints: WebhookEndpoints
    # Posts the outbox's status callbacks once started (``running_engine`` starts it, with the
    # engine: whichever process sends also calls back).
    callback_delivery: CallbackDelivery


@dataclass(frozen=True, kw_only=True)
class _Ports:
    """What the builders below take: the ports ``wire`` was given."""

    stores: Stores
    meta: MetaGateway
    cipher: TokenCipher
    clock: Clock
    progress: ProgressBus


def wire(
    stores: Stores,
    meta: MetaGateway,
    cipher: TokenCipher,
    clock: Clock,
    *,
    request_limit: RequestLimit | None = None,
    engine_settings: EngineSettings | None = None,
    progress: ProgressBus | None = None,
    relay: SteeringRelay | None = None,
    meta_app_secret: str = "",
    callbacks: CallbackWiring | None = None,
    telemetry: Telemetry | None = None,
    slot_wait_seconds: float = DEFAULT_SLOT_WAIT_SECONDS,
    slot_asks: SlotAsks | None = None,
) -> Services:
    """Use cases over the given ports: real ones from ``open_services``, fakes in tests. Each
        use case gets exactly the ports it reads and writes. ``relay``: the engine is steered in
        every process (the API and the engine apart), not only in this one. ``slot_asks`` (with the
    stores' ``number_pacing``): single sends share each number's slots with other processes."""
    bus = progress or InProcessProgressBus()
    ports = _Ports(stores=stores, meta=meta, cipher=cipher, clock=clock, progress=bus)
    settings = engine_settings or EngineSettings()
    timing = _timing(settings)
    # One per process: the engine's bulks and the single sends pace each number together.
    throughputs = number_throughputs(settings)
    engine = _bulk_engine(ports, settings, telemetry, throughputs)
    steering = relay.relaying(engine) if relay is not None else engine
    queries = _bulk_queries(ports, steering)
    statuses = StatusWriter(
        delivery=stores.delivery, clock=clock, progress=bus, telemetry=telemetry
    )
    # One per process: single sends' reservations are what business-accounts sees too.
    quota = OrganisationQuota(accounts=stores.accounts, ledger=stores.quota_ledger, clock=clock)
    calling_back = callbacks or CallbackWiring(sender=AiohttpCallbackSender())
    submit_bulk = _submit_bulk(ports, steering, timing)
    return Services(
        authenticator=_authenticator(ports, request_limit),
        send_message=_send_message(
            ports, quota, _send_slots(ports, engine, throughputs, slot_asks), slot_wait_seconds
        ),
        organisations=OrganisationAdmin(organisations=stores.organisations),
        api_keys=ApiKeyAdmin(
            api_keys=stores.api_keys, organisations=stores.organisations, clock=clock
        ),
        key_revoker=_key_revoker(ports),
        accounts=_account_connector(ports),
        templates=TemplateCatalogue(
            accounts=stores.accounts, templates=stores.templates, meta=meta, cipher=cipher
        ),
        operator_queries=OperatorQueries(
            organisations=stores.organisations, accounts=stores.accounts
        ),
        submit_bulk=submit_bulk,
        resend_failed=_resend_failed(ports, submit_bulk),
        bulk_queries=queries,
        watch_bulk=WatchBulk(queries, bus, clock),
        watch_bulks=WatchBulks(
            accounts=stores.accounts,
            templates=stores.templates,
            bulks=stores.bulks,
            progress=bus,
            clock=clock,
        ),
        bulk_engine=engine,
        business_overview=BusinessOverviewQuery(
            accounts=stores.accounts, templates=stores.templates, quota=quota
        ),
        business_info=BusinessInfoQuery(organisations=stores.organisations),
        message_status=MessageStatusQuery(
            messages=stores.messages, templates=stores.templates, contacts=stores.contacts
        ),
        ingest_webhook=_ingest_webhook(ports, statuses, steering, timing, meta_app_secret),
        status_writer=statuses,
        contact_lookup=ContactLookup(contacts=stores.contacts, clock=clock),
        suppression_list=SuppressionList(contacts=stores.contacts, clock=clock),
        contact_import=ContactImport(directory=stores.contact_directory, clock=clock),
        opt_out_settings=OptOutSettings(policies=stores.opt_out_policies, clock=clock),
        unknown_outcome_settings=UnknownOutcomeSettings(
            policies=stores.unknown_outcome_policies, clock=clock
        ),
        bulk_backlog=BulkBacklog(bulks=stores.bulks),
        webhook_endpoints=WebhookEndpoints(
            endpoints=stores.webhook_endpoints,
            outbox=stores.callback_outbox,
            cipher=cipher,
            clock=clock,
            allow_private=calling_back.allow_private,
        ),
        callback_delivery=CallbackDelivery(
            outbox=stores.callback_outbox,
            sender=calling_back.sender,
            cipher=cipher,
            clock=clock,
            settings=DeliverySettings(retry=calling_back.retry, worker_id=settings.worker_id),
            telemetry=calling_back.telemetry,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class CallbackWiring:
    """How status callbacks are posted: the HTTP client, the retry policy, and whether
    private addresses may receive them."""

    sender: CallbackSender
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    allow_private: bool = False
    telemetry: CallbackTelemetry | None = None


def callback_wiring(
    settings: Settings, telemetry: CallbackTelemetry | None = None
) -> CallbackWiring:
    retry_for = timedelta(seconds=settings.callbacks_retry_for_seconds)
    return CallbackWiring(
        sender=AiohttpCallbackSender(timeout_seconds=settings.callbacks_timeout_seconds),
        retry=RetryPolicy(
            base_seconds=settings.callbacks_retry_base_seconds,
            max_seconds=settings.callbacks_retry_max_seconds,
            give_up_after=retry_for,
            disable_after=retry_for,
        ),
        allow_private=settings.callbacks_allow_private,
        telemetry=telemetry,
    )


def _bulk_engine(
    ports: _Ports,
    settings: EngineSettings,
    telemetry: Telemetry | None,
    throughputs: NumberThroughputs[PhoneNumberRowId],
) -> BulkEngine:
    return BulkEngine(
        accounts=ports.stores.accounts,
        templates=ports.stores.templates,
        bulks=ports.stores.bulks,
        contacts=ports.stores.contacts,
        opt_out_policies=ports.stores.opt_out_policies,
        meta=ports.meta,
        cipher=ports.cipher,
        clock=ports.clock,
        progress=ports.progress,
        ownership=ports.stores.ownership,
        settings=settings,
        telemetry=telemetry,
        throughputs=throughputs,
        unknown_recipients=ports.stores.unknown_recipients,
        unknown_policies=ports.stores.unknown_outcome_policies,
    )


def _bulk_queries(ports: _Ports, engine: EngineSteering) -> BulkQueries:
    return BulkQueries(
        accounts=ports.stores.accounts,
        templates=ports.stores.templates,
        bulks=ports.stores.bulks,
        quota=ports.stores.quota_ledger,
        clock=ports.clock,
        progress=ports.progress,
        waker=engine,
    )


def _reservation_seconds(settings: Settings) -> float:
    """How long a single send's quota slot is held unreleased: its call to Meta at most, and a
    minute to record it (only a process killed mid-send leaves one to expire)."""
    send_timeout = settings.meta_send_timeout_seconds or settings.meta_timeout_seconds
    return send_timeout + 60.0


def _authenticator(ports: _Ports, request_limit: RequestLimit | None) -> Authenticator:
    return Authenticator(
        api_keys=ports.stores.api_keys,
        organisations=ports.stores.organisations,
        clock=ports.clock,
        limiter=KeyRateLimiter(request_limit) if request_limit is not None else None,
    )


def _send_slots(
    ports: _Ports,
    engine: BulkEngine,
    throughputs: NumberThroughputs[PhoneNumberRowId],
    asks: SlotAsks | None,
) -> SendSlots:
    """A number's slots in this process alone, or shared with the others over the database
    (``cluster_send_slots``) where they share one."""
    pacing = ports.stores.number_pacing
    if asks is None or pacing is None:
        return LocalSendSlots(throughputs, ports.clock)
    return ClusterSendSlots(
        throughputs=throughputs,
        holds=engine.holds,
        pacing=BatchedPacing(pacing),
        asks=asks,
        clock=ports.clock,
    )


def _send_message(
    ports: _Ports, quota: OrganisationQuota, slots: SendSlots, slot_wait_seconds: float
) -> SendMessage:
    return SendMessage(
        accounts=ports.stores.accounts,
        templates=ports.stores.templates,
        messages=ports.stores.messages,
        contacts=ports.stores.contacts,
        opt_out_policies=ports.stores.opt_out_policies,
        meta=ports.meta,
        cipher=ports.cipher,
        clock=ports.clock,
        quota=quota,
        idempotency=ports.stores.idempotency,
        slots=slots,
        slot_wait_seconds=slot_wait_seconds,
    )


def _key_revoker(ports: _Ports) -> KeyRevoker:
    return KeyRevoker(
        organisations=ports.stores.organisations,
        api_keys=ports.stores.api_keys,
        accounts=ports.stores.accounts,
        clock=ports.clock,
    )


def _account_connector(ports: _Ports) -> AccountConnector:
    return AccountConnector(
        organisations=ports.stores.organisations,
        accounts=ports.stores.accounts,
        templates=ports.stores.templates,
        meta=ports.meta,
        cipher=ports.cipher,
    )


def _timing(settings: EngineSettings) -> SendTiming:
    """How estimates pace: as the engine does, with its margin and its throughput override."""
    return SendTiming(
        margin_seconds=settings.margin_seconds, throughput_mps=settings.throughput_mps
    )


def _submit_bulk(ports: _Ports, engine: EngineSteering, timing: SendTiming) -> SubmitBulk:
    return SubmitBulk(
        accounts=ports.stores.accounts,
        templates=ports.stores.templates,
        bulks=ports.stores.bulks,
        quota=ports.stores.quota_ledger,
        idempotency=ports.stores.idempotency,
        clock=ports.clock,
        waker=engine,
        timing=timing,
        progress=ports.progress,
    )


def _resend_failed(ports: _Ports, submit: SubmitBulk) -> ResendFailed:
    return ResendFailed(
        accounts=ports.stores.accounts,
        templates=ports.stores.templates,
        bulks=ports.stores.bulks,
        contacts=ports.stores.contacts,
        idempotency=ports.stores.idempotency,
        clock=ports.clock,
        submit=submit,
    )


def _ingest_webhook(
    ports: _Ports,
    statuses: StatusWriter,
    engine: EngineSteering,
    timing: SendTiming,
    app_secret: str,
) -> IngestWebhook:
    events = AccountEvents(
        accounts=ports.stores.accounts,
        templates=ports.stores.templates,
        bulks=ports.stores.bulks,
        quota=ports.stores.quota_ledger,
        clock=ports.clock,
        progress=ports.progress,
        engine=engine,
        marks=ports.stores.event_marks,
        organisations=ports.stores.organisations,
        timing=timing,
    )
    inbound = InboundMessages(
        contacts=ports.stores.contacts, policies=ports.stores.opt_out_policies, clock=ports.clock
    )
    return IngestWebhook(statuses, events, app_secret=app_secret, inbound=inbound)


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    telemetry: Telemetry | None = None,
    callback_telemetry: CallbackTelemetry | None = None,
) -> AsyncIterator[Services]:
    """Migrates the database, connects the store and the progress bus and builds the Meta
    client; with ``telemetry``, every send to Meta is reported to it. The engine is built,
    claiming as a name of its own (``new_worker_id``), but not started: ``running_engine``
    starts it."""
    cipher = _cipher(settings)
    await asyncio.to_thread(upgrade_database, settings.database_url)
    stores = await open_stores(
        settings.database_url,
        lease_seconds=settings.lease_seconds,
        reservation_seconds=_reservation_seconds(settings),
        quota_refresh_seconds=settings.quota_refresh_seconds,
    )
    meta: MetaGateway = HttpMetaGateway(
        base_url=settings.meta_base_url,
        api_version=settings.meta_api_version,
        total_timeout=settings.meta_timeout_seconds,
        send_timeout=settings.meta_send_timeout_seconds,
        list_timeout=settings.meta_list_timeout_seconds,
    )
    if telemetry is not None:
        meta = ObservedMetaGateway(inner=meta, telemetry=telemetry)
    calling_back = callback_wiring(settings, callback_telemetry)
    try:
        async with _across_processes(settings, stores) as across:
            limit = RequestLimit(
                rate_per_second=settings.key_rate_limit, burst=settings.key_rate_burst
            )
            services = wire(
                stores,
                meta,
                cipher,
                SystemClock(),
                request_limit=limit,
                engine_settings=EngineSettings(
                    worker_id=new_worker_id(),
                    stop_grace_seconds=settings.stop_grace_seconds,
                    throughput_mps=settings.throughput_mps,
                    unknown_sweep_interval=settings.unknown_sweep_seconds,
                ),
                progress=across.progress,
                relay=across.relay,
                meta_app_secret=settings.meta_app_secret,
                callbacks=calling_back,
                telemetry=telemetry,
                slot_wait_seconds=settings.send_slot_wait_seconds,
                slot_asks=across.slot_asks,
            )
            await across.start()
            try:
                yield services
            finally:
                await services.status_writer.stop()
                await services.callback_delivery.stop()
                await services.bulk_engine.stop()
    finally:
        await calling_back.sender.close()
        await meta.close()
        await stores.close()


@asynccontextmanager
async def running_engine(settings: Settings, services: Services) -> AsyncIterator[None]:
    """The bulk engine of ``services``, running until the block ends. On SQLite one engine per
    database file: ``EngineAlreadyRunning`` if another process runs one. On PostgreSQL any
    number run: they share the numbers out by leases (``ports.ownership``)."""
    with exclusive_engine(sqlite_file(settings.database_url)):
        await services.bulk_engine.start()
        services.callback_delivery.start()
        try:
            yield
        finally:
            await services.callback_delivery.stop()
            await services.bulk_engine.stop()


def new_worker_id() -> str:
    """A name no other engine has, now or after a restart: ``host:pid:random``. Claims are
    recorded under it, so a row's claimant says which process took it."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, kw_only=True)
class _CrossProcess:
    """What carries progress and the engine's steering between processes, started once the
    use cases are wired (the relay's channel is registered as it is handed the engine)."""

    progress: ProgressBus
    relay: SteeringRelay | None = None
    slot_asks: SlotAsks | None = None
    notifications: PostgresNotifications | None = None

    async def start(self) -> None:
        if self.notifications is not None:
            await self.notifications.start()


@asynccontextmanager
async def _across_processes(settings: Settings, stores: Stores) -> AsyncIterator[_CrossProcess]:
    """PostgreSQL: progress and the engine's steering cross processes (LISTEN/NOTIFY), so API
    processes and workers can run apart. SQLite: one engine per file; the in-process bus carries
    what it changes, and an engine in another process finds new work at its next poll."""
    if backend_of(settings.database_url) != "postgresql":
        yield _CrossProcess(progress=InProcessProgressBus())
        return
    notifications = PostgresNotifications(settings.database_url)
    bus = PostgresProgressBus(notifications, stores.bulks.get_bulk)
    bus.start()
    try:
        yield _CrossProcess(
            progress=bus,
            relay=PostgresSteeringRelay(notifications),
            slot_asks=PostgresSlotAsks(notifications),
            notifications=notifications,
        )
    finally:
        await notifications.close()
        await bus.close()


def _cipher(settings: Settings) -> TokenCipher:
    if not settings.secret_key:
        raise InvalidRequest.for_field(
            "MINDO_SECRET_KEY",
            "is required: it encrypts Meta access tokens (generate one: mindo secret-key)",
        )
    return FernetTokenCipher(settings.secret_key)
