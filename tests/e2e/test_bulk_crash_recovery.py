"""Kill the service with SIGKILL in the middle of a bulk, start it again: the bulk completes,
no recipient is lost, none is sent twice, and the one caught in flight is settled explicitly."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import grpc
import pytest

from mindo_core.bulks.model import UNCONFIRMED_REASON
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from tests.e2e.stack import (
    free_port,
    order_bulk,
    sandbox_sends,
    sent_to,
    spawn_mindo,
    sqlite_stack_env,
    wait_for_port,
)

pytestmark = pytest.mark.slow

KEY = "mindo_CrashTestKey0123456789ab"
RECIPIENTS = 400
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


async def _bulk(stub: mindo_pb2_grpc.MindoStub, bulk_id: str) -> pb.Bulk:
    return await stub.GetBulk(
        pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=(("x-api-key", KEY),)
    )


def test_a_bulk_survives_sigkill_without_loss_or_duplicates(tmp_path: Path) -> None:
    sandbox, grpc_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = sqlite_stack_env(
        tmp_path,
        sandbox=sandbox,
        grpc_address=grpc_address,
        api_key=KEY,
        secret="crash-recovery-test-secret-of-32-characters",
    )
    log = tmp_path / "crash.log"
    host, port = sandbox.rsplit(":", 1)
    # 100 messages/s with 50 ms of latency: a 400-recipient bulk takes about 4 s.
    sandbox_process = spawn_mindo(
        ["sandbox", "--host", host, "--port", port, "--mps", "100", "--latency-ms", "50"], env, log
    )
    services: list[subprocess.Popen[bytes]] = []
    try:
        wait_for_port(sandbox)
        services.append(spawn_mindo(["serve", "--demo"], env, log))
        wait_for_port(grpc_address)
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
        request = order_bulk(RECIPIENTS)
        accepted = await stub.SendBulk(request, metadata=(("x-api-key", KEY),))
        bulk_id = accepted.bulk_send_id
        deadline = time.monotonic() + 30
        while (await _bulk(stub, bulk_id)).sent_count < RECIPIENTS // 3:
            assert time.monotonic() < deadline, "the bulk did not progress"
            await asyncio.sleep(0.05)

    services[0].send_signal(signal.SIGKILL)
    services[0].wait()
    sent_before_restart = len(sandbox_sends(sandbox))
    assert 0 < sent_before_restart < RECIPIENTS

    services.append(spawn_mindo(["serve", "--demo"], env, log))
    wait_for_port(grpc_address)
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

    sends = sent_to(sandbox)
    per_recipient = Counter(sends)
    assert max(per_recipient.values()) == 1, "a recipient was sent twice"
    assert bulk.pending_count == 0
    # Every recipient is accounted for: sent, or settled as unconfirmed (counted as failed).
    assert bulk.sent_count + bulk.failed_count == RECIPIENTS
    # Meta accepted every recipient recorded as sent, and perhaps some caught in flight.
    assert bulk.sent_count <= len(sends) <= bulk.sent_count + bulk.failed_count
