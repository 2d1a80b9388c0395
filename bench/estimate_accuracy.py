"""Is the 202's ``estimated_time_minutes`` within ±10% of the actual time? The real stack, as
``bench/bulk_rate.py`` builds it: the real engine (running, as in ``mindo serve``) and a SQLite
file in this process, the sandbox in a process of its own over HTTP. Each bulk goes through the
real ``SubmitBulk`` use case; "actual" is the bulk's ``created_at`` (what the 202 says) to its
``completed_at``, so accepting and storing the bulk, the engine's start-up and the last answers
all count.

Cases, each 1,000+ recipients on a fresh database and a fresh sandbox:

* ``max`` on a STANDARD number (80/s) and on a HIGH one (1,000/s);
* ``tier`` on a HIGH number at TIER_10K (60 s / 10,000 = 6 ms apart, 167/s);
* a cap of 200 messages/s on a HIGH number;
* two bulks on one STANDARD number, the second submitted while the first is sending: the
  second's estimate counts what the first still has to send (fair share); the first's could not
  know that a second would come, and is shown for what it is.

Quota waits (hours) are not measured here: the virtual-time tests cover them
(``tests/unit/test_bulk_engine_timing.py``, ``tests/unit/test_pacing_estimate.py``).

Besides estimate, actual and their ratio, each row splits the actual time: ``start`` (created_at
to the first send the sandbox accepted), ``span`` (first to last accepted send, what the estimate
models) and ``tail`` (the last send to completed_at), and counts the sandbox's 130429 answers.

Under faults (issue #16 item 3): a STANDARD number (80/s), 2,000 recipients, the sandbox
answering 5% of sends with a 5xx, adding 20-400 ms to every answer, and ten recipients (drawn
at random per run) answering 131056 twice before accepting. The bulk is read every 50 ms as
the store shows it (what any process shows); when 10%, 25%, 50% and 75% of its recipients are
processed, the time left each estimate gives is compared with the time really left until
``completed_at``: the original (the 202's plan, ``original_estimated_time_minutes``) and the
re-planned one (``estimated_completion_at``). Error = |estimated left - actual left| / actual
left; each point shows the median and the worst over the runs.

``BENCH_ESTIMATE_SCALE`` (1) multiplies every case's recipients (and so its time);
``BENCH_ESTIMATE_RUNS`` (3) is the runs of the fault case; ``BENCH_ESTIMATE_CASES`` picks
``plain`` (the cases above), ``faults`` or ``all`` (the default).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from bench.bench_tenant import NUMBER, bench_principal, order_command, sqlite_services
from bench.sandbox_process import SandboxProcess
from mindo_core.bootstrap import Services
from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.ports.bulks import BulkStore
from mindo_core.services.authenticate import Principal

FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
TOLERANCE = 0.10


@dataclass(frozen=True, kw_only=True)
class Submission:
    label: str
    recipients: int
    pacing: str | None = None
    # Seconds after the case's first submission.
    after: float = 0.0
    # False: a later bulk slows it down, which its estimate could not know (shown, no target).
    target: bool = True


@dataclass(frozen=True, kw_only=True)
class Case:
    level: str  # the number's throughput level
    mps: int  # the sandbox's limit for the number
    tier: str
    submissions: tuple[Submission, ...]


CASES = (
    Case(
        level="STANDARD",
        mps=80,
        tier="TIER_UNLIMITED",
        submissions=(Submission(label="max, STANDARD 80/s", recipients=1000),),
    ),
    Case(
        level="HIGH",
        mps=1000,
        tier="TIER_UNLIMITED",
        submissions=(Submission(label="max, HIGH 1,000/s", recipients=10_000),),
    ),
    Case(
        level="HIGH",
        mps=1000,
        tier="TIER_10K",
        submissions=(Submission(label="tier, HIGH, TIER_10K", recipients=2000, pacing="tier"),),
    ),
    Case(
        level="HIGH",
        mps=1000,
        tier="TIER_UNLIMITED",
        submissions=(Submission(label="cap 200/s, HIGH", recipients=2000, pacing="200"),),
    ),
    Case(
        level="STANDARD",
        mps=80,
        tier="TIER_UNLIMITED",
        submissions=(
            Submission(label="shared: 1st (alone when sent)", recipients=1000, target=False),
            Submission(label="shared: 2nd, 5 s later", recipients=1000, after=5.0),
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class Measured:
    label: str
    recipients: int
    estimate_s: float
    actual_s: float
    start_s: float
    span_s: float
    tail_s: float
    throttled: int  # the sandbox's 130429 answers to this bulk (the engine then slows down)
    status: str
    target: bool


def run() -> None:
    scale = float(os.environ.get("BENCH_ESTIMATE_SCALE", "1"))
    cases = os.environ.get("BENCH_ESTIMATE_CASES", "all")
    if cases in ("all", "plain"):
        _run_plain(scale)
    if cases in ("all", "faults"):
        _run_faults(scale, runs=int(os.environ.get("BENCH_ESTIMATE_RUNS", "3")))


def _run_plain(scale: float) -> None:
    load = os.getloadavg()
    print(
        "estimated_time_minutes against the actual time, created_at to completed_at (real engine"
        " and SQLite here, the sandbox in another process over HTTP; load average"
        f" {load[0]:.2f} at start)"
    )
    print(
        f"{'case':<31} {'recips':>6} {'estimate':>9} {'actual':>8} {'ratio':>6} {'±10%':>5}"
        f" {'start':>6} {'span':>7} {'tail':>5} {'130429':>6}"
    )
    for case in CASES:
        sandbox = SandboxProcess.start("--mps", str(case.mps))
        try:
            results = asyncio.run(_case(sandbox, case, scale))
        finally:
            sandbox.stop()
        for measured in results:
            print(_row(measured))
    print(
        "(ratio = actual / estimate; start, span, tail: see the module's docstring; n/a: the"
        " first shared bulk's estimate could not foresee the second, it is shown, not a target)"
    )


def _row(m: Measured) -> str:
    ratio = m.actual_s / m.estimate_s if m.estimate_s > 0 else float("inf")
    within = ("yes" if abs(ratio - 1) <= TOLERANCE else "NO") if m.target else "n/a"
    status = "" if m.status == "COMPLETED" else f"  ({m.status})"
    return (
        f"{m.label:<31} {m.recipients:>6} {m.estimate_s:>8.2f}s {m.actual_s:>7.2f}s"
        f" {ratio:>6.3f} {within:>5} {m.start_s:>5.2f}s {m.span_s:>6.2f}s"
        f" {m.tail_s:>4.2f}s {m.throttled:>6}{status}"
    )


async def _case(sandbox: SandboxProcess, case: Case, scale: float) -> list[Measured]:
    await sandbox.patch_number(
        NUMBER,
        {"throughput_level": case.level, "whatsapp_business_manager_messaging_limit": case.tier},
    )
    async with sqlite_services(sandbox.url) as (services, stores):
        principal = await bench_principal(services)
        await services.bulk_engine.start()  # running, as in ``mindo serve``
        submitted = await _submit_all(services, principal, case, scale)
        finished = await _await_final(stores.bulks, submitted)
    record = await _sandbox_record(sandbox)
    return [_measure(s, final, record) for s, final in zip(submitted, finished, strict=True)]


@dataclass(frozen=True, kw_only=True)
class Submitted:
    submission: Submission
    bulk: Bulk  # as the 202 showed it
    phones: range  # its recipients' numbers, after the +54911 prefix


async def _submit_all(
    services: Services, principal: Principal, case: Case, scale: float
) -> list[Submitted]:
    loop = asyncio.get_running_loop()
    first = loop.time()
    submitted: list[Submitted] = []
    offset = 40_000_000
    for submission in case.submissions:
        await asyncio.sleep(max(0.0, first + submission.after - loop.time()))
        # Distinct recipients over the case: no pair-rate wait between its bulks.
        phones = range(offset, offset + round(submission.recipients * scale))
        offset = phones.stop
        command = order_command(phones, pacing=submission.pacing)
        bulk = (await services.submit_bulk(principal, command)).bulk
        submitted.append(Submitted(submission=submission, bulk=bulk, phones=phones))
    return submitted


async def _await_final(store: BulkStore, submitted: list[Submitted]) -> list[Bulk]:
    # Bounded: a case far off its estimate still reports what it did by then.
    bulks = [s.bulk for s in submitted]
    longest = sum(b.estimated_time_minutes * 60 for b in bulks) + submitted[-1].submission.after
    deadline = asyncio.get_running_loop().time() + 3 * longest + 20
    final: dict[BulkId, Bulk] = {}
    while len(final) < len(bulks) and asyncio.get_running_loop().time() < deadline:
        for bulk in bulks:
            found = await store.get_bulk(bulk.id)
            if found is not None and found.status in FINAL and found.completed_at is not None:
                final[bulk.id] = found
        await asyncio.sleep(0.05)
    return [final.get(b.id) or await _current(store, b) for b in bulks]


async def _current(store: BulkStore, bulk: Bulk) -> Bulk:
    found = await store.get_bulk(bulk.id)
    return found or bulk


@dataclass(frozen=True, kw_only=True)
class SandboxRecord:
    accepted: dict[str, list[float]]  # wa_id -> when the sandbox accepted a send (Unix s)
    throttled: dict[str, int]  # wa_id -> 130429 answers


async def _sandbox_record(sandbox: SandboxProcess) -> SandboxRecord:
    url = f"{sandbox.url}/_sandbox/requests"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        records = (await response.json())["data"]
    record = SandboxRecord(accepted={}, throttled={})
    for r in records:
        if r["method"] != "POST" or not r["path"].endswith("/messages"):
            continue
        to = _recipient_of(r)
        if r["wamid"]:
            record.accepted.setdefault(to, []).append(r["at"])
        elif r["error_code"] == 130429:
            record.throttled[to] = record.throttled.get(to, 0) + 1
    return record


def _recipient_of(record: dict[str, object]) -> str:
    body = record.get("body")
    if isinstance(body, dict):
        return str(body.get("to", ""))
    return ""


def _measure(submitted: Submitted, final: Bulk, record: SandboxRecord) -> Measured:
    bulk = submitted.bulk
    created = bulk.created_at.timestamp()
    completed = final.completed_at.timestamp() if final.completed_at else float("nan")
    wa_ids = [f"54911{phone}" for phone in submitted.phones]
    sends = sorted(at for wa_id in wa_ids for at in record.accepted.get(wa_id, []))
    first_send, last_send = (sends[0], sends[-1]) if sends else (float("nan"), float("nan"))
    return Measured(
        label=submitted.submission.label,
        recipients=bulk.counters.total,
        estimate_s=bulk.estimated_time_minutes * 60,
        actual_s=completed - created,
        start_s=first_send - created,
        span_s=last_send - first_send,
        tail_s=completed - last_send,
        throttled=sum(record.throttled.get(wa_id, 0) for wa_id in wa_ids),
        status=final.status,
        target=submitted.submission.target,
    )


# -- under faults ------------------------------------------------------------------------------

FAULT_RECIPIENTS = 2000
FAULT_POINTS = (0.10, 0.25, 0.50, 0.75)
PAIR_RATE_RECIPIENTS = 10
FAULT_ARGS = ("--mps", "80", "--latency-ms", "20-400", "--error-rate", "0.05")


@dataclass(frozen=True, kw_only=True)
class Sample:
    at: datetime
    bulk: Bulk


@dataclass(frozen=True, kw_only=True)
class PointError:
    point: float
    original: float  # |estimated left - actual left| / actual left
    replanned: float


def _run_faults(scale: float, *, runs: int) -> None:
    recipients = round(FAULT_RECIPIENTS * scale)
    load = os.getloadavg()
    print(
        f"\nestimate under faults: STANDARD 80/s, {recipients} recipients, 5% 5xx, 20-400 ms,"
        f" {PAIR_RATE_RECIPIENTS} recipients answering 131056 twice; {runs} runs; load average"
        f" {load[0]:.2f} at start"
    )
    errors: list[PointError] = []
    for seed in range(1, runs + 1):
        chosen = random.Random(seed).sample(range(recipients), PAIR_RATE_RECIPIENTS)
        phones = range(40_000_000, 40_000_000 + recipients)
        faulty = [f"--recipient-error=54911{phones[i]}=131056,131056" for i in chosen]
        sandbox = SandboxProcess.start(*FAULT_ARGS, "--seed", str(seed), *faulty)
        try:
            samples = asyncio.run(_fault_run(sandbox, phones))
        finally:
            sandbox.stop()
        run_errors = _point_errors(samples)
        errors.extend(run_errors)
        final = samples[-1].bulk
        actual = _seconds(final.created_at, final.completed_at)
        planned = final.original_estimate_minutes * 60
        print(
            f"  run {seed}: planned {planned:6.2f}s, actual {actual:6.2f}s"
            f" ({actual / planned:4.2f}x), {final.status}; error left at "
            + ", ".join(f"{e.point:.0%} {e.original:.0%}/{e.replanned:.0%}" for e in run_errors)
            + " (original/re-planned)"
        )
    print(
        f"{'at':>5} {'original median':>16} {'worst':>7} {'re-planned median':>18} {'worst':>7}"
        f" {'±10%':>5}"
    )
    for point in FAULT_POINTS:
        at = [e for e in errors if e.point == point]
        if not at:
            continue
        original = [e.original for e in at]
        replanned = [e.replanned for e in at]
        within = "yes" if max(replanned) <= TOLERANCE else "NO"
        print(
            f"{point:>5.0%} {statistics.median(original):>16.1%} {max(original):>7.1%}"
            f" {statistics.median(replanned):>18.1%} {max(replanned):>7.1%} {within:>5}"
        )
    print(f"(load average {os.getloadavg()[0]:.2f} at the end)")


async def _fault_run(sandbox: SandboxProcess, phones: range) -> list[Sample]:
    await sandbox.patch_number(
        NUMBER,
        {
            "throughput_level": "STANDARD",
            "whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED",
        },
    )
    async with sqlite_services(sandbox.url) as (services, stores):
        principal = await bench_principal(services)
        await services.bulk_engine.start()
        bulk = (await services.submit_bulk(principal, order_command(phones))).bulk
        return await _sample_until_over(stores.bulks, bulk)


async def _sample_until_over(store: BulkStore, bulk: Bulk) -> list[Sample]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10 * bulk.estimated_time_minutes * 60 + 60
    samples: list[Sample] = []
    while loop.time() < deadline:
        found = await store.get_bulk(bulk.id)
        assert found is not None
        samples.append(Sample(at=datetime.now(found.created_at.tzinfo), bulk=found))
        if found.status in FINAL and found.completed_at is not None:
            break
        await asyncio.sleep(0.05)
    return samples


def _point_errors(samples: list[Sample]) -> list[PointError]:
    final = samples[-1].bulk
    if final.completed_at is None:
        return []
    planned_end = final.created_at + timedelta(minutes=final.original_estimate_minutes)
    errors: list[PointError] = []
    for point in FAULT_POINTS:
        reached = next(
            (s for s in samples if s.bulk.counters.processed >= point * s.bulk.counters.total),
            None,
        )
        if reached is None or reached.bulk.estimated_completion_at is None:
            continue
        actual_left = _seconds(reached.at, final.completed_at)
        if actual_left <= 0:
            continue
        original_left = _seconds(reached.at, planned_end)
        replanned_left = _seconds(reached.at, reached.bulk.estimated_completion_at)
        errors.append(
            PointError(
                point=point,
                original=abs(original_left - actual_left) / actual_left,
                replanned=abs(replanned_left - actual_left) / actual_left,
            )
        )
    return errors


def _seconds(start: datetime, end: datetime | None) -> float:
    return float("nan") if end is None else (end - start).total_seconds()
