"""Recipients settled "outcome unknown" after a SIGKILL, against the calls that really reached
Meta. A real ``mindo serve --demo`` (SQLite file) sends a bulk to the sandbox (its own process,
``--mps 100 --latency-ms 200``: about 20 calls at Meta at any moment); it is killed with SIGKILL
at a random moment between 15% and 75% of the bulk, started again, and the bulk runs to its end.
Per kill: how many recipients ended unknown, how many of those the sandbox's record shows
reached Meta, accepted or refused (really in flight: the call started and its answer was not
yet durable), how many
never reached it (claimed ahead but never called: what issue #16 removes), and how many were
sent twice or lost (both must be 0).

``BENCH_KILLS`` (5) kills, each of a fresh bulk of ``BENCH_KILL_RECIPIENTS`` (600) recipients.
``BENCH_MINDO_SOURCE`` runs the service from another source tree (the baseline: a checkout of
``main``), with this tree's benchmark around it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.cluster_processes import free_port, wait_for_port
from bench.sandbox_process import SandboxProcess
from mindo_core.bulks.model import UNCONFIRMED_REASON
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc

KEY = "mindo_BenchCrashKey0123456789a"
NUMBER = "813497231850626"
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


@dataclass(frozen=True)
class Kill:
    sent_at_kill: int  # accepted by the sandbox when the kill came
    unknown: int  # recipients settled "outcome unknown"
    reached_meta: int  # of those, the ones whose call the sandbox received
    never_reached: int  # of those, the ones Meta never saw
    sent_twice: int
    lost: int  # neither sent nor unknown nor failed by Meta


def run() -> None:
    kills = int(os.environ.get("BENCH_KILLS", "5"))
    recipients = int(os.environ.get("BENCH_KILL_RECIPIENTS", "600"))
    source = Path(os.environ.get("BENCH_MINDO_SOURCE", Path(__file__).resolve().parent.parent))
    print(
        f"unknown after SIGKILL vs calls really at Meta ({kills} kills of a {recipients}-recipient"
        f" bulk at 100/s, 200 ms latency; service from {source};"
        f" load average {os.getloadavg()[0]:.2f} at start)"
    )
    print(
        f"{'kill':>4} {'sent':>5} {'unknown':>8} {'at Meta':>8} {'never':>6} {'twice':>6}"
        f" {'lost':>5}"
    )
    shuffle = random.Random(os.environ.get("BENCH_SEED"))
    results = []
    with tempfile.TemporaryDirectory() as folder:
        sandbox = SandboxProcess.start("--mps", "100", "--latency-ms", "200")
        try:
            for k in range(kills):
                at = shuffle.uniform(0.15, 0.75)
                kill = _one_kill(Path(folder) / f"k{k}", source, sandbox.url, recipients, k, at)
                results.append(kill)
                print(
                    f"{k + 1:>4} {kill.sent_at_kill:>5} {kill.unknown:>8} {kill.reached_meta:>8}"
                    f" {kill.never_reached:>6} {kill.sent_twice:>6} {kill.lost:>5}"
                )
        finally:
            sandbox.stop()
    total = Kill(*(sum(getattr(r, f) for r in results) for f in Kill.__dataclass_fields__))
    print(
        f" all {total.sent_at_kill:>5} {total.unknown:>8} {total.reached_meta:>8}"
        f" {total.never_reached:>6} {total.sent_twice:>6} {total.lost:>5}"
        f"   (load average {os.getloadavg()[0]:.2f} at the end)"
    )


def _one_kill(folder: Path, source: Path, sandbox: str, recipients: int, k: int, at: float) -> Kill:
    folder.mkdir()
    grpc_address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "MINDO_DATABASE_URL": f"sqlite:///{folder / 'mindo.db'}",
        "MINDO_SECRET_KEY": "bench-crash-unknown-secret-of-32-characters",
        "MINDO_META_BASE_URL": sandbox,
        "MINDO_GRPC_ADDRESS": grpc_address,
        "MINDO_DEMO_API_KEY": KEY,
        "MINDO_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(source),
    }
    phones = [f"+5491{k + 1}{6000_0000 + i}" for i in range(recipients)]
    service = _serve(env, source, folder)
    try:
        wait_for_port(grpc_address)
        bulk_id = asyncio.run(_submit(grpc_address, phones))
        _wait_sandbox(sandbox, set(phones), int(recipients * at))
        service.send_signal(signal.SIGKILL)
        service.wait()
        sent_at_kill = len(_accepted(sandbox, set(phones)))
        service = _serve(env, source, folder)
        wait_for_port(grpc_address)
        unknown = asyncio.run(_unknown_when_over(grpc_address, bulk_id))
    finally:
        if service.poll() is None:
            service.kill()
        service.wait()
    accepted = Counter(_accepted(sandbox, set(phones)))
    called = set(_accepted(sandbox, set(phones), refused_too=True))
    reached = {phone for phone in unknown if phone.removeprefix("+") in called}
    answered = {f"+{to}" for to in accepted} | unknown
    return Kill(
        sent_at_kill=sent_at_kill,
        unknown=len(unknown),
        reached_meta=len(reached),
        never_reached=len(unknown - reached),
        sent_twice=sum(1 for count in accepted.values() if count > 1),
        lost=len(set(phones) - answered),
    )


def _serve(env: dict[str, str], source: Path, folder: Path) -> subprocess.Popen[bytes]:
    with (folder / "mindo.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mindo_cli", "serve", "--demo"],
            env=env,
            cwd=source,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def _submit(address: str, phones: list[str]) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        request = pb.SendBulkRequest(
            phone_number_id=NUMBER,
            template_name="order_update",
            recipients=[
                pb.BulkRecipient(phone=p, variables={"order_id": "ORD-1", "status": "listo"})
                for p in phones
            ],
        )
        accepted = await stub.SendBulk(request, metadata=(("x-api-key", KEY),))
        return str(accepted.bulk_send_id)


async def _unknown_when_over(address: str, bulk_id: str) -> set[str]:
    """The phones of the bulk's recipients settled "outcome unknown", once it is over."""
    metadata = (("x-api-key", KEY),)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        deadline = time.monotonic() + 120
        while True:
            bulk = await stub.GetBulk(pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=metadata)
            if bulk.status in FINAL:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bulk did not finish: {bulk}")
            await asyncio.sleep(0.2)
        unknown: set[str] = set()
        for number in range(1, 1_000):
            page = await stub.ListBulkMessages(
                pb.ListBulkMessagesRequest(
                    bulk_send_id=bulk_id, status="failed", page=number, page_size=100
                ),
                metadata=metadata,
            )
            unknown |= {
                m.recipient_phone for m in page.results if m.error_message == UNCONFIRMED_REASON
            }
            if len(page.results) < 100:
                break
        return unknown


def _accepted(sandbox: str, phones: set[str], *, refused_too: bool = False) -> list[str]:
    """The wa_ids of the sends to ``phones`` the sandbox accepted (and refused, if asked: a
    130429 reached Meta too), one per send."""
    with urllib.request.urlopen(f"{sandbox}/_sandbox/requests") as answer:
        records = json.load(answer)["data"]
    wanted = {phone.removeprefix("+") for phone in phones}
    return [
        str(r["body"]["to"])
        for r in records
        if str(r["path"]).endswith("/messages")
        and (r["wamid"] or refused_too)
        and r["body"]["to"] in wanted
    ]


def _wait_sandbox(sandbox: str, phones: set[str], count: int) -> None:
    deadline = time.monotonic() + 60
    while len(_accepted(sandbox, phones)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the bulk did not progress")
        time.sleep(0.02)
