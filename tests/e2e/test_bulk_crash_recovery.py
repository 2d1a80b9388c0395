"""Kill the service with SIGKILL at random moments of a bulk, start it again each time: the bulk
completes, no recipient is lost, none is sent twice, and only calls really started are settled
as "outcome unknown" (those claimed but not called are sent after the restart)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path

import grpc
import pytest

from mindo_core.bulks.model import UNCONFIRMED_REASON
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from tests.e2e.stack import free_port, spawn_mindo

pytestmark = pytest.mark.slow

KEY = "mindo_CrashTestKey0123456789ab"
RECIPIENTS = 400
KILLS = 3
# The sandbox answers 100 sends/s after 50 ms: about 5 calls are at Meta at any moment, and as
# many answered ones wait for their outcome's write (every 50 ms); both are rightly unknown
# after a kill. Sends are taken, and their starts written, 50 ms ahead of their slots
# (call_start_lead): about 5 more, marked started but not yet at Meta. Measured: 9-10 unknown
# per kill, 2-4 of them never received. Before call starts were marked, the 10-20 recipients
# claimed ahead per kill were unknown too, and never received.
STARTED_NOT_RECORDED = 18  # per kill: at Meta, answers not yet written, taken ahead, slack
NEVER_RECEIVED = 8  # per kill: taken ahead, and on their way
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


def _wait_port(address: str, timeout: float = 60) -> None:
    import socket

    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {address}")


def _sandbox_sends(sandbox: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"http://{sandbox}/_sandbox/requests") as answer:
        records = json.load(answer)["data"]
    return [r for r in records if str(r["path"]).endswith("/messages") and r["wamid"]]


async def _bulk(stub: mindo_pb2_grpc.MindoStub, bulk_id: str) -> pb.Bulk:
    return await stub.GetBulk(
        pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=(("x-api-key", KEY),)
    )


def test_a_bulk_survives_sigkill_without_loss_or_duplicates(tmp_path: Path) -> None:
    sandbox, grpc_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "MINDO_DATABASE_URL": f"sqlite:///{tmp_path / 'mindo.db'}",
        "MINDO_SECRET_KEY": "crash-recovery-test-secret-of-32-characters",
        "MINDO_META_BASE_URL": f"http://{sandbox}",
        "MINDO_GRPC_ADDRESS": grpc_address,
        "MINDO_DEMO_API_KEY": KEY,
        "MINDO_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "crash.log"
    host, port = sandbox.rsplit(":", 1)
    # 100 messages/s with 50 ms of latency: a 400-recipient bulk takes about 4 s.
    sandbox_process = spawn_mindo(
        ["sandbox", "--host", host, "--port", port, "--mps", "100", "--latency-ms", "50"], env, log
    )
    services: list[subprocess.Popen[bytes]] = []
    try:
        _wait_port(sandbox)
        services.append(spawn_mindo(["serve", "--demo"], env, log))
        _wait_port(grpc_address)
        asyncio.run(_crash_and_recover(env, log, services, sandbox, grpc_address))
    finally:
        for process in [*services, sandbox_process]:
            if process.poll() is None:
                process.kill()
            process.wait()


async def _crash_and_recover(
    env: dict[str, str],
    log: Path,
    services: list[subprocess.Popen[bytes]],
    sandbox: str,
    grpc_address: str,
) -> None:
    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        request = pb.SendBulkRequest(
            phone_number_id="813497231850626",
            template_name="order_update",
            recipients=[
                pb.BulkRecipient(
                    phone=f"+54911{5000_0000 + i}",
                    variables={"order_id": f"ORD-{i}", "status": "listo"},
                )
                for i in range(RECIPIENTS)
            ],
        )
        accepted = await stub.SendBulk(request, metadata=(("x-api-key", KEY),))
        bulk_id = accepted.bulk_send_id
    # Kill points spread over the bulk: after a random share of each third has been sent.
    chooser = random.Random()
    for kill in range(KILLS):
        target = int(RECIPIENTS * (kill + chooser.uniform(0.2, 0.8)) / (KILLS + 1))
        async with grpc.aio.insecure_channel(grpc_address) as channel:
            stub = mindo_pb2_grpc.MindoStub(channel)
            deadline = time.monotonic() + 60
            while (await _bulk(stub, bulk_id)).sent_count < target:
                assert time.monotonic() < deadline, "the bulk did not progress"
                await asyncio.sleep(0.01)
        services[-1].send_signal(signal.SIGKILL)
        services[-1].wait()
        services.append(spawn_mindo(["serve", "--demo"], env, log))
        _wait_port(grpc_address)

    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        deadline = time.monotonic() + 60
        bulk = await _bulk(stub, bulk_id)
        while bulk.status not in FINAL:
            assert time.monotonic() < deadline, f"the bulk did not finish: {bulk}"
            await asyncio.sleep(0.1)
            bulk = await _bulk(stub, bulk_id)
        settled = await stub.ListBulkMessages(
            pb.ListBulkMessagesRequest(bulk_send_id=bulk_id, status="failed", page_size=100),
            metadata=(("x-api-key", KEY),),
        )
    # Those caught in flight say so, distinctly.
    assert {m.error_message for m in settled.results} <= {UNCONFIRMED_REASON}
    unknown = {m.recipient_phone.removeprefix("+") for m in settled.results}

    sends = _sandbox_sends(sandbox)
    per_recipient = Counter(str(r["body"]["to"]) for r in sends)  # type: ignore[index]
    assert max(per_recipient.values()) == 1, "a recipient was sent twice"
    assert bulk.pending_count == 0
    # Every recipient is accounted for: sent, or settled as unconfirmed (counted as failed).
    assert bulk.sent_count + bulk.failed_count == RECIPIENTS
    assert len(per_recipient) + len(unknown - set(per_recipient)) == RECIPIENTS
    # Meta accepted every recipient recorded as sent, and perhaps some caught in flight.
    assert bulk.sent_count <= len(sends) <= bulk.sent_count + bulk.failed_count
    # Unknown only when its call had started: the calls at Meta or answered and not yet
    # recorded at each kill; of them, those Meta never received are the few between their
    # start mark and their request.
    assert len(unknown) <= KILLS * STARTED_NOT_RECORDED
    never_received = unknown - set(per_recipient)
    assert len(never_received) <= KILLS * NEVER_RECEIVED
