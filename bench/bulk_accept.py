"""Accepting a bulk send: checking 10,000 and 100,000 recipients, then storing them.

Target: 100,000 recipients accepted and durable in at most 1 s. The recipients are what makes
acceptance slow, so each stage is timed on its own, per recipient and in total:

    phones       ``phones.to_e164`` on every number (all different)
    resolve      ``templates.resolve``: a single send's path, which compiles the template anew
    compiled     ``CompiledTemplate.check``: what a bulk does, the template compiled once
    prepare      ``bulk_submission.prepare_recipients``: both of the above, deduplication,
                 the prepared list (the number is the one that counts)
    pb-prep      the same, of the recipients as the gRPC servicer hands them over: the
                 ``BulkRecipient`` messages of a ``SendBulkRequest`` parsed from its bytes
                 (protobuf's maps are slower to read than dicts)
    store        ``create_bulk`` of the prepared recipients into a fresh SQLite file (migrated
                 first, not timed), in chunks of columns as ``SubmitBulk`` hands them over
    grpc         the whole thing as a client sees it: ``SendBulk`` over a real gRPC channel to
                 the server on a local socket (``bench.grpc_stack``: real wiring, a fresh SQLite
                 file, the demo tenant, its number at TIER_100K so that no recipient waits
                 for quota); the request is built beforehand, the time runs from
                 the call to the response (client encoding, transfer, decoding, validation,
                 quota plan, the committed staging of the recipients). The number that the
                 target is about.

The load average is printed first. CPU time is this whole process's (for ``grpc``: client and
server, gRPC's threads and SQLite's); SQLite works in its driver's thread, so CPU time can
differ from wall time either way.

Recipients are the demo's ``welcome_message`` (NAMED body ``name``, ``code``, a URL button)
with different values each, Argentine mobiles ``+54911…``. Wall time and this process's CPU
time are both printed: on a shared machine the gap between them is other processes' load.
Asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from mindo_core.bulks.model import BulkId
from mindo_core.bulks.submission import (
    PreparedBulk,
    RecipientInput,
    SubmittedRecipient,
    prepare_recipients,
)
from mindo_core.domain.accounts import BusinessAccountId
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.phones.e164 import to_e164
from mindo_core.ports.bulks import NewBulk, NewRecipientChunk
from mindo_core.ports.meta import PhoneNumberInfo, TemplateInfo
from mindo_core.ports.stores import Stores
from mindo_core.templating.compiled import CompiledTemplate, resolve
from mindo_core.templating.model import TemplateSpec, parse_template

SIZES = tuple(int(s) for s in os.environ.get("BENCH_BULK_SIZES", "10000,100000").split(","))
TARGET_SECONDS = 1.0
TARGET_SIZE = 100_000
WELCOME = TemplateInfo(
    meta_template_id="1258410395312601",
    name="welcome_message",
    language="es",
    status="APPROVED",
    category="MARKETING",
    parameter_format="NAMED",
    components=[
        {"type": "BODY", "text": "Hola {{name}}, bienvenido. Tu codigo es {{code}}."},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "URL",
                    "text": "Ver mi cuenta",
                    "url": "https://mindo.example/welcome/{{1}}",
                }
            ],
        },
    ],
)

T = TypeVar("T")


def run() -> None:
    spec = parse_template(_stored(WELCOME))
    to_e164("+5491112345678")  # phonenumbers loads a country's metadata on first use
    load = os.getloadavg()[0]
    print(
        f"bulk acceptance, welcome_message, target {TARGET_SIZE:,} in {TARGET_SECONDS:g} s "
        f"(load average {load:.2f})"
    )
    print(f"{'recipients':>10}  {'stage':<9} {'µs/recipient':>12} {'total s':>8} {'cpu s':>7}")
    for size in SIZES:
        _run_size(spec, size)
    asyncio.run(_report_grpc(SIZES))


def _run_size(spec: TemplateSpec, size: int) -> None:
    recipients = _recipients(size)
    compiled = CompiledTemplate(spec)
    _report(size, "phones", lambda: [to_e164(r.phone) for r in recipients])
    _report(size, "resolve", lambda: _resolve_each(spec, recipients))
    _report(size, "compiled", lambda: _check_each(compiled, recipients))
    prepared, prepare_seconds = _report(size, "prepare", lambda: _prepare(spec, recipients))
    from_grpc = _protobuf_recipients(recipients)
    _report(size, "pb-prep", lambda: _prepare(spec, from_grpc))
    _report_store(size, prepared, prepare_seconds)


def _report_store(size: int, prepared: PreparedBulk, prepare_seconds: float) -> None:
    store_seconds, store_cpu = asyncio.run(_store(prepared))
    per_recipient = store_seconds / size * 1e6
    print(
        f"{size:>10}  {'store':<9} {per_recipient:>12.1f} {store_seconds:>8.2f} {store_cpu:>7.2f}"
    )
    accepted = prepare_seconds + store_seconds
    if size == TARGET_SIZE:
        ratio = accepted / TARGET_SECONDS
        print(f"{size:>10}  accepted and durable in {accepted:.2f} s: {ratio:.1f}× the target")
    else:
        print(f"{size:>10}  accepted and durable in {accepted:.2f} s")


def _report(size: int, stage: str, work: Callable[[], T]) -> tuple[T, float]:
    wall = time.perf_counter()
    cpu = time.process_time()
    result = work()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    per_recipient = wall / size * 1e6
    print(f"{size:>10}  {stage:<9} {per_recipient:>12.1f} {wall:>8.2f} {cpu:>7.2f}")
    return result, wall


def _resolve_each(spec: TemplateSpec, recipients: Sequence[RecipientInput]) -> None:
    for r in recipients:
        resolve(spec, r.variables, r.button_variables)


def _check_each(compiled: CompiledTemplate, recipients: Sequence[RecipientInput]) -> None:
    for r in recipients:
        compiled.check(r.variables, r.button_variables)


def _prepare(spec: TemplateSpec, recipients: Sequence[SubmittedRecipient]) -> PreparedBulk:
    prepared = prepare_recipients(spec, recipients)
    assert prepared.unique_recipients == len(recipients)
    return prepared


def _protobuf_recipients(recipients: Sequence[RecipientInput]) -> Sequence[SubmittedRecipient]:
    """``recipients`` as the gRPC servicer receives them: a parsed request's messages."""
    from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb

    request = pb.SendBulkRequest(
        template_name=WELCOME.name,
        recipients=[
            pb.BulkRecipient(
                phone=r.phone, variables=r.variables, button_variables=r.button_variables
            )
            for r in recipients
        ],
    )
    parsed: Sequence[SubmittedRecipient] = pb.SendBulkRequest.FromString(
        request.SerializeToString()
    ).recipients
    return parsed


def _recipients(count: int, *, first: int = 0) -> list[RecipientInput]:
    return [
        RecipientInput(
            phone=f"+54911{10_000_000 + first + i}",
            variables={"name": f"Cliente {i}", "code": f"C{i:06d}"},
            button_variables={"button_0": f"ref-{i}"},
        )
        for i in range(count)
    ]


def _stored(info: TemplateInfo) -> StoredTemplate:
    return StoredTemplate(
        id=TemplateId(1),
        business_account_id=BusinessAccountId(1),
        meta_template_id=info.meta_template_id,
        name=info.name,
        language=info.language,
        status=info.status,
        category=info.category,
        parameter_format=info.parameter_format,
        components=info.components,
    )


async def _store(prepared: PreparedBulk) -> tuple[float, float]:
    """Wall and CPU seconds of what ``SubmitBulk`` does with the store for a bulk (the set-up,
    migrating a fresh file and adding its account, number and template, is not timed)."""
    from mindo_core.adapters.sql import open_stores, upgrade_database

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        upgrade_database(url)
        stores = await open_stores(url)
        try:
            bulk = await _new_bulk(stores, prepared)
            wall = time.perf_counter()
            cpu = time.process_time()
            e164s, used = prepared.e164s, prepared.variables_used
            chunks = (  # as SubmitBulk hands them over when no recipient waits for quota
                NewRecipientChunk(
                    first_position=start,
                    e164s=e164s[start : start + 1_000],
                    variables_used=used[start : start + 1_000],
                )
                for start in range(0, len(e164s), 1_000)
            )
            await stores.bulks.create_bulk(bulk, chunks)
            return time.perf_counter() - wall, time.process_time() - cpu
        finally:
            await stores.close()


async def _report_grpc(sizes: Sequence[int]) -> None:
    import grpc

    from bench.grpc_stack import DEMO_NUMBER, bench_stack
    from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
    from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
    from mindo_grpc.server import MESSAGE_SIZE_OPTIONS
    from mindo_sandbox.state import SandboxState

    def room_for_the_bulk(state: SandboxState) -> None:
        # The demo number's TIER_2K would make 98% of 100,000 recipients wait for quota (and
        # their times be computed and stored): a real 100,000-recipient sender has the tier.
        limit = {"whatsapp_business_manager_messaging_limit": "TIER_100K"}
        state.patch_phone_number(DEMO_NUMBER, limit)

    async with (
        bench_stack(configure_sandbox=room_for_the_bulk) as stack,
        grpc.aio.insecure_channel(stack.server.target, options=MESSAGE_SIZE_OPTIONS) as channel,
    ):
        stub = mindo_pb2_grpc.MindoStub(channel)
        for size in (10, *sizes):  # the first, small, call pays for what happens only once
            request = pb.SendBulkRequest(
                phone_number_id=DEMO_NUMBER,
                template_name=WELCOME.name,
                recipients=[
                    pb.BulkRecipient(
                        phone=r.phone, variables=r.variables, button_variables=r.button_variables
                    )
                    for r in _recipients(size, first=size)
                ],
            )
            wall, cpu = time.perf_counter(), time.process_time()
            response = await stub.SendBulk(request, metadata=stack.metadata)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert response.unique_recipients == size
            if size in sizes:
                ratio = f"  {wall / TARGET_SECONDS:.1f}× the target" if size == TARGET_SIZE else ""
                figures = f"{wall / size * 1e6:>12.1f} {wall:>8.2f} {cpu:>7.2f}"
                print(f"{size:>10}  {'grpc':<9} {figures}{ratio}")


async def _new_bulk(stores: Stores, prepared: PreparedBulk) -> NewBulk:
    organisation = await stores.organisations.create_organisation("bench")
    account = await stores.accounts.upsert_business_account(
        organisation_id=organisation.id, waba_id="bench", name="Bench", encrypted_access_token=b""
    )
    number = await stores.accounts.upsert_phone_number(
        account.id,
        PhoneNumberInfo(phone_number_id="1", display_phone_number="+54 11", verified_name="B"),
    )
    template = await stores.templates.upsert_template(account.id, WELCOME)
    return NewBulk(
        id=BulkId("00000000-0000-4000-8000-000000000001"),
        task_id="bench",
        organisation_id=organisation.id,
        phone_number_row_id=number.id,
        template_id=template.id,
        pacing="max",
        total_recipients=prepared.total_recipients,
        estimated_time_minutes=0.0,
        created_at=datetime.now(UTC),
    )
