"""Hand-written fakes and helpers for the bulk use cases and the bulk engine's unit tests."""

from __future__ import annotations

import asyncio
import selectors
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.adapters.memory.stores import memory_stores
from mindo_core.bootstrap import Services, wire
from mindo_core.bulks.model import Bulk, BulkRecipient
from mindo_core.bulks.submission import RecipientInput
from mindo_core.delivery.webhook_payloads import TemplateStatusChange
from mindo_core.domain.clock import Clock, SystemClock
from mindo_core.domain.errors import MetaError, MetaErrorDetail, MetaUnavailable
from mindo_core.engine.bulk_engine import BulkEngine, EngineSettings
from mindo_core.ports.meta import MetaSendResult, PhoneNumberInfo, TemplateInfo
from mindo_core.ports.stores import Stores
from mindo_core.services.account_events import AccountEvents
from mindo_core.services.authenticate import Principal
from mindo_core.services.submit_bulk import SubmitBulkCommand
from mindo_core.throughput.rate_gate import SlowDownPolicy
from mindo_core.throughput.retry_policy import RetrySettings
from mindo_core.throughput.scheduler import PairRatePolicy
from tests.fakes import PAUSED, WELCOME, FakeMeta, ReversingCipher, SentToMeta

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

T = TypeVar("T")


def meta_error(code: int, title: str = "") -> MetaError:
    return MetaError(
        MetaErrorDetail(meta_code=code, title=title or f"error {code}"), retryable=False
    )


@dataclass
class ScriptedMeta(FakeMeta):
    """``FakeMeta`` whose sends are answered per recipient (``to``, digits only).

    ``scripts[to]``: errors for the first attempts, then success. ``refusals[to]``: the error for
    every attempt. ``hold``: while cleared, every send waits (it is "in flight") until it is set.
    ``attempts`` counts every call per recipient; ``sent`` keeps only the accepted ones.
    """

    scripts: dict[str, list[MetaError | MetaUnavailable]] = field(default_factory=dict)
    refusals: dict[str, MetaError | MetaUnavailable] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    calls: list[str] = field(default_factory=list)
    # The event loop's time of each call, in order (exact under virtual time).
    call_times: list[float] = field(default_factory=list)
    hold: asyncio.Event | None = None
    held: int = 0

    async def send_template(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        payload: Mapping[str, Any],
        max_seconds: float | None = None,
    ) -> MetaSendResult:
        to = str(payload["to"])
        self.attempts[to] += 1
        self.calls.append(to)
        self.call_times.append(asyncio.get_running_loop().time())
        if self.hold is not None and not self.hold.is_set():
            self.held += 1
            await self.hold.wait()
        script = self.scripts.get(to)
        if script:
            raise script.pop(0)
        if to in self.refusals:
            raise self.refusals[to]
        self.sent.append(SentToMeta(phone_number_id, access_token, payload))
        return MetaSendResult(wamid=f"wamid.{to}.{self.attempts[to]}", wa_id=to)

    def sends_to(self, to: str) -> int:
        return sum(1 for sent in self.sent if sent.payload["to"] == to)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, limit: float = 10.0, every: float = 0.005
) -> None:
    """Wait until ``check()`` holds; a safety bound, not a timing assertion."""

    async def poll() -> None:
        while True:
            if await check():
                return
            await asyncio.sleep(every)

    await asyncio.wait_for(poll(), limit)


FINAL = frozenset({"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"})


def is_over(bulk: Bulk | None) -> bool:
    return bulk is not None and bulk.status in FINAL and bulk.counters.pending == 0


# --------------------------------------------------------------------------------------------
# A tenant with numbers and templates, over the in-memory stores, with fast engine settings.

WABA = "waba-bulk"
TOKEN = "bulk-token"
NUMBER = "813497231850626"
OTHER_NUMBER = "813497231850627"

ORDER_UPDATE = TemplateInfo(
    meta_template_id="11",
    name="order_update",
    language="es",
    status="APPROVED",
    category="UTILITY",
    parameter_format="NAMED",
    components=[{"type": "BODY", "text": "Tu pedido {{order_id}} esta {{status}}."}],
)

FAST = EngineSettings(
    poll_interval=0.05,
    flush_interval=0.005,
    stop_grace_seconds=2.0,
    retry=RetrySettings(base_delay_seconds=0.002, max_delay_seconds=0.01),
    slow_down=SlowDownPolicy(
        first_pause_seconds=0.01,
        quiet_seconds=0.05,
        recovery_step_seconds=0.01,
        decrease_window_seconds=0.1,
    ),
    pair_rate=PairRatePolicy(interval_seconds=0.001),
    seed=7,
)


def phone(i: int) -> str:
    """The i-th test recipient, E.164 (a valid Argentine mobile)."""
    return f"+54911{50_000_000 + i}"


def order(i: int) -> RecipientInput:
    return RecipientInput(phone=phone(i), variables={"order_id": f"ORD-{i}", "status": "listo"})


def number_info(phone_number_id: str, *, tier: str, throughput: str) -> PhoneNumberInfo:
    return PhoneNumberInfo(
        phone_number_id=phone_number_id,
        display_phone_number="+54 9 223 675-0780",
        verified_name="Demo",
        messaging_limit_tier=tier,
        throughput_level=throughput,
    )


@dataclass
class BulkWorld:
    services: Services
    # The stores under the services: tests read what the engine wrote, as it wrote it.
    stores: Stores
    clock: Clock
    progress: InProcessProgressBus
    meta: ScriptedMeta
    principal: Principal

    @property
    def engine(self) -> BulkEngine:
        return self.services.bulk_engine

    async def submit(
        self,
        count: int,
        *,
        first: int = 0,
        pacing: str | None = None,
        number: str = NUMBER,
        send_at: str | None = None,
    ) -> Bulk:
        command = SubmitBulkCommand(
            phone_number_id=number,
            template_name="order_update",
            recipients=[order(i) for i in range(first, first + count)],
            pacing=pacing,
            send_at=send_at,
        )
        return (await self.services.submit_bulk(self.principal, command)).bulk

    async def bulk(self, bulk: Bulk) -> Bulk:
        found = await self.stores.bulks.get_bulk(bulk.id)
        assert found is not None
        return found

    async def finished(self, bulk: Bulk, *, limit: float = 10.0, every: float = 0.005) -> Bulk:
        async def over() -> bool:
            return is_over(await self.stores.bulks.get_bulk(bulk.id))

        await eventually(over, limit=limit, every=every)
        return await self.bulk(bulk)

    def account_events(self) -> AccountEvents:
        """Meta's account webhooks as the service applies them, over this world's stores."""
        return AccountEvents(
            accounts=self.stores.accounts,
            templates=self.stores.templates,
            bulks=self.stores.bulks,
            quota=self.stores.quota_ledger,
            clock=self.clock,
            progress=self.progress,
            engine=self.engine,
            marks=self.stores.event_marks,
            organisations=self.stores.organisations,
        )

    async def meta_pauses_order_update(self) -> None:
        """Meta's webhook: the ``order_update`` template is PAUSED."""
        change = TemplateStatusChange(
            waba_id=WABA,
            meta_template_id="11",
            name="order_update",
            language="es",
            event="PAUSED",
            reason=None,
        )
        await self.account_events().apply(change)

    async def recipients(self, bulk: Bulk) -> list[BulkRecipient]:
        page = await self.stores.bulks.list_bulk_recipients(
            self.principal.organisation.id, bulk.id, status=None, offset=0, limit=100_000
        )
        return list(page.items)


async def bulk_world(
    *,
    clock: Clock | None = None,
    settings: EngineSettings = FAST,
    tier: str = "TIER_UNLIMITED",
    throughput: str = "HIGH",
    organisation: str = "Acme",
    meta_app_secret: str = "",
    stores: Stores | None = None,
) -> BulkWorld:
    meta = ScriptedMeta(
        phone_numbers={
            WABA: [
                number_info(NUMBER, tier=tier, throughput=throughput),
                number_info(OTHER_NUMBER, tier=tier, throughput=throughput),
            ]
        },
        templates={WABA: [ORDER_UPDATE, WELCOME, PAUSED]},
        tokens={WABA: TOKEN},
    )
    stores = stores or memory_stores()
    clock = clock or SystemClock()
    progress = InProcessProgressBus()
    services = wire(
        stores,
        meta,
        ReversingCipher(),
        clock,
        engine_settings=settings,
        progress=progress,
        meta_app_secret=meta_app_secret,
    )
    principal = await tenant(services, organisation, connect=True)
    return BulkWorld(services, stores, clock, progress, meta, principal)


async def tenant(services: Services, name: str, *, connect: bool) -> Principal:
    await services.organisations.create(name)
    issued = await services.api_keys.issue(name)
    principal = await services.authenticator.authenticate(issued.plaintext, None)
    if connect:
        await services.accounts.connect(name, waba_id=WABA, access_token=TOKEN)
    return principal


# --------------------------------------------------------------------------------------------
# Virtual time: an event loop whose clock jumps to the next timer whenever every task waits.
# With the in-memory store and a fake Meta nothing waits on real I/O, so a run is exact and
# instantaneous: 24 hours of quota waits take no time, and rates can be measured to the
# microsecond without any real clock in the assertion.


class _JumpingSelector(selectors.BaseSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout is None or timeout <= 0:
            # Nothing scheduled at all: only real I/O (a thread's wake-up) can come.
            return ready or (self._real.select(0.05) if timeout is None else [])
        self._loop.advance(timeout)
        return []

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


class LoopClock:
    """The wall clock of a virtual-time loop: ``start`` plus the loop's time."""

    def __init__(self, start: datetime) -> None:
        self._start = start

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def run_world_virtually(
    test: Callable[[BulkWorld], Awaitable[None]],
    *,
    start: datetime,
    settings: EngineSettings,
    **world_options: Any,
) -> None:
    """``test`` against a fresh ``bulk_world`` on a virtual-time loop whose clock starts at
    ``start``; the engine is stopped afterwards, whatever happened."""

    async def main() -> None:
        world = await bulk_world(clock=LoopClock(start), settings=settings, **world_options)
        try:
            await test(world)
        finally:
            await world.engine.stop()

    run_virtual(main)
