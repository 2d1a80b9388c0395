"""Status callbacks: how fast the outbox reaches a receiver, and how late a callback arrives
after the status webhook that caused it.

Targets (issue #15): at least 2,000 events/s from the outbox to a local receiver on two cores,
and a p99 lag of at most 500 ms from a status being applied to its callback being received, at
1,000 statuses/s.

Two processes: this one runs the real stores over a fresh SQLite file and the real delivery
worker (``CallbackDelivery`` with the aiohttp sender, signing every POST); a receiver process
(aiohttp) answers 204 and stamps each event's arrival. Cases:

    raw posts    the baseline: the same number of signed POSTs straight from aiohttp at the
                 worker's concurrency, no outbox (the ceiling the transport allows)
    drain        ``EVENTS`` events enqueued at once, then drained by the worker: events/s, and
                 its ratio to the baseline
    lag          ``STATUSES`` messages recorded as sent; ``delivered`` statuses applied at
                 1,000/s through the delivery store (``apply_statuses``, batches of 50 every
                 50 ms, as the status writer's group commit does) while the worker runs: for
                 each, received time minus the time its batch was applied (p50, p99, max).
                 The HTTP hop of Meta's webhook into the bridge is measured by
                 ``webhook_ingest``; this is the outbox's part.

It prints figures, medians of ``ROUNDS`` and the load average; it asserts nothing.
Environment: ``BENCH_CALLBACK_EVENTS`` (5,000), ``BENCH_CALLBACK_STATUSES`` (3,000),
``BENCH_CALLBACK_ROUNDS`` (3).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.cluster_processes import free_port
from mindo_core.adapters.callbacks_http import AiohttpCallbackSender
from mindo_core.adapters.crypto import FernetTokenCipher
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.callbacks.model import EventType, NewEndpoint, NewEvent
from mindo_core.callbacks.retry_schedule import RetryPolicy
from mindo_core.callbacks.signing import signature_header
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import SystemClock
from mindo_core.domain.messages import NewMessage
from mindo_core.ports.meta import PhoneNumberInfo, TemplateInfo
from mindo_core.ports.stores import Stores
from mindo_core.services.callback_delivery import CallbackDelivery, DeliverySettings

EVENTS = int(os.environ.get("BENCH_CALLBACK_EVENTS", "5000"))
STATUSES = int(os.environ.get("BENCH_CALLBACK_STATUSES", "3000"))
ROUNDS = int(os.environ.get("BENCH_CALLBACK_ROUNDS", "3"))
RATE = 1000
BATCH = 50
SECRET = "bench-callbacks-secret-of-at-least-32-characters"
NUMBER = "813497231850626"


# -- the receiver (its own process) ------------------------------------------------------------


def _receiver(port: int, ready: Connection) -> None:
    arrivals: list[tuple[bytes, float]] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        arrivals.append((body, time.time()))
        return web.Response(status=204)

    async def collect(request: web.Request) -> web.Response:
        del request
        lines = [f"{at:.6f} {body.decode()}" for body, at in arrivals]
        arrivals.clear()
        return web.Response(text="\n".join(lines))

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/hook", receive)
        app.router.add_get("/collect", collect)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.send("ready")
        await asyncio.Event().wait()

    asyncio.run(serve())


async def _collect(url: str) -> list[tuple[float, str]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/collect") as answer:
        text = await answer.text()
    return [(float(line[:17]), line[18:]) for line in text.splitlines() if line]


# -- the service side --------------------------------------------------------------------------


async def _tenant(stores: Stores) -> tuple[OrganisationId, int, int]:
    organisation = await stores.organisations.create_organisation("Bench")
    account = await stores.accounts.upsert_business_account(
        organisation_id=organisation.id,
        waba_id="waba-bench",
        name="Bench",
        encrypted_access_token=b"x",
    )
    number = await stores.accounts.upsert_phone_number(
        account.id,
        PhoneNumberInfo(
            phone_number_id=NUMBER,
            display_phone_number="+54 9 11 0000-0000",
            verified_name="Bench",
            quality_rating="GREEN",
            messaging_limit_tier="TIER_100K",
            throughput_level="HIGH",
        ),
    )
    template = await stores.templates.upsert_template(
        account.id,
        TemplateInfo(
            meta_template_id="t-1",
            name="order_update",
            language="es",
            status="APPROVED",
            category="UTILITY",
            parameter_format="NAMED",
            components=[{"type": "BODY", "text": "Hola"}],
        ),
    )
    return organisation.id, number.id, template.id


def _worker(
    stores: Stores, cipher: FernetTokenCipher, sender: AiohttpCallbackSender
) -> CallbackDelivery:
    return CallbackDelivery(
        outbox=stores.callback_outbox,
        sender=sender,
        cipher=cipher,
        clock=SystemClock(),
        settings=DeliverySettings(retry=RetryPolicy(base_seconds=0.1, max_seconds=1)),
    )


async def _raw_posts(url: str, count: int, concurrency: int) -> float:
    body = b'{"id":"x","type":"message.delivered","created_at":"2026-12-07T03:00:00Z","data":{}}'
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:

        async def post() -> None:
            async with limit:
                header = signature_header([SECRET], int(time.time()), body)
                async with http.post(
                    f"{url}/hook", data=body, headers={"Mindo-Signature": header}
                ) as r:
                    await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(count)))
        return count / (time.perf_counter() - started)


async def _drain(stores: Stores, cipher: FernetTokenCipher, organisation: OrganisationId) -> float:
    now = datetime.now(UTC)
    kind: EventType = "message.delivered"
    for start in range(0, EVENTS, 1000):
        await stores.callback_outbox.enqueue(
            [
                NewEvent(organisation_id=organisation, type=kind, occurred_at=now, data={"n": n})
                for n in range(start, min(EVENTS, start + 1000))
            ]
        )
    sender = AiohttpCallbackSender(timeout_seconds=10)
    worker = _worker(stores, cipher, sender)
    started = time.perf_counter()
    delivered = 0
    try:
        while delivered < EVENTS:
            tried = await worker.deliver_due()
            if not tried:
                break
            delivered += tried
    finally:
        await sender.close()
    return delivered / (time.perf_counter() - started)


async def _lag(
    stores: Stores,
    cipher: FernetTokenCipher,
    tenant: tuple[OrganisationId, int, int],
    url: str,
    round_number: int,
) -> list[float]:
    organisation, number, template = tenant
    now = datetime.now(UTC)
    wamids = [f"wamid.lag{round_number}.{i}" for i in range(STATUSES)]
    for start in range(0, STATUSES, 500):
        await stores.messages.add_messages(
            [
                NewMessage(
                    organisation_id=organisation,
                    phone_number_row_id=number,  # type: ignore[arg-type]
                    template_id=template,  # type: ignore[arg-type]
                    recipient_phone=f"+5491140{i:06d}",
                    variables_used={},
                    wamid=wamid,
                    status="sent",
                    created_at=now,
                    sent_at=now,
                )
                for i, wamid in enumerate(wamids[start : start + 500], start)
            ]
        )
    await _collect(url)
    sender = AiohttpCallbackSender(timeout_seconds=10)
    worker = _worker(stores, cipher, sender)
    worker.start()
    applied_at: dict[str, float] = {}
    try:
        started = time.perf_counter()
        for batch_start in range(0, STATUSES, BATCH):
            due = started + batch_start / RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            batch = wamids[batch_start : batch_start + BATCH]
            at = datetime.now(UTC)
            updates = [
                StatusUpdate(
                    wamid=w,
                    status="delivered",
                    at=at,
                    recipient_id="549114000000",
                    phone_number_id=NUMBER,
                )
                for w in batch
            ]
            await stores.delivery.apply_statuses(updates, received_at=at)
            stamp = time.time()
            applied_at.update(dict.fromkeys(batch, stamp))
        received: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while len(received) < STATUSES and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            for at_received, body in await _collect(url):
                wamid = body.split('"wamid":"', 1)[1].split('"', 1)[0]
                received.setdefault(wamid, at_received)
    finally:
        await worker.stop()
        await sender.close()
    return sorted(received[w] - applied_at[w] for w in received if w in applied_at)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(share * len(values)))]


async def _bench(url: str) -> None:
    cipher = FernetTokenCipher(SECRET)
    with tempfile.TemporaryDirectory() as workdir:
        database = f"sqlite:///{Path(workdir) / 'bench.db'}"
        await asyncio.to_thread(upgrade_database, database)
        stores = await open_stores(database)
        try:
            tenant = await _tenant(stores)
            await stores.webhook_endpoints.add_endpoint(
                NewEndpoint(
                    organisation_id=tenant[0],
                    url=f"{url}/hook",
                    events=frozenset({"message.delivered"}),
                    secret_ciphertext=cipher.encrypt(SECRET),
                    created_at=datetime.now(UTC),
                )
            )
            raw, drained, p50s, p99s, worst = [], [], [], [], []
            for round_number in range(ROUNDS):
                raw.append(await _raw_posts(url, EVENTS, DeliverySettings().concurrency))
                await _collect(url)
                drained.append(await _drain(stores, cipher, tenant[0]))
                await _collect(url)
                lags = await _lag(stores, cipher, tenant, url, round_number)
                p50s.append(_percentile(lags, 0.5) * 1000)
                p99s.append(_percentile(lags, 0.99) * 1000)
                worst.append((lags[-1] if lags else float("nan")) * 1000)
                print(
                    f"  round {round_number + 1}: raw {raw[-1]:,.0f}/s, drain {drained[-1]:,.0f} "
                    f"events/s, lag p50 {p50s[-1]:.0f} ms p99 {p99s[-1]:.0f} ms "
                    f"({len(lags):,}/{STATUSES:,} received)"
                )
        finally:
            await stores.close()
    median = statistics.median
    print(f"raw signed POSTs (baseline)   {median(raw):>8,.0f} /s")
    print(
        f"outbox → receiver             {median(drained):>8,.0f} events/s "
        f"({median(drained) / median(raw):.0%} of the baseline; target ≥ 2,000)"
    )
    print(
        f"lag at {RATE:,} statuses/s       p50 {median(p50s):.0f} ms, p99 {median(p99s):.0f} ms, "
        f"max {median(worst):.0f} ms (target p99 ≤ 500 ms)"
    )


def run() -> None:
    print(
        f"Callback delivery: {EVENTS:,} events drained, {STATUSES:,} statuses at {RATE:,}/s, "
        f"{ROUNDS} rounds; load average {os.getloadavg()[0]:.2f}"
    )
    port = free_port()
    parent, child = multiprocessing.Pipe()
    receiver = multiprocessing.get_context("spawn").Process(
        target=_receiver, args=(port, child), daemon=True
    )
    receiver.start()
    try:
        parent.recv()
        asyncio.run(_bench(f"http://127.0.0.1:{port}"))
    finally:
        receiver.kill()
        receiver.join()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
