"""Kill the service with SIGKILL in the middle of a bulk, with the sandbox posting its status
webhooks to the bridge and the organisation's unknown-outcome policy ``resend`` with a short
window; start it again: every recipient ends sent exactly once in the sandbox's own record.

Until the kill, the sandbox holds one send in ten unanswered and never processes it (Meta
never had it); then it holds none. The recipients whose call was at the sandbox at the kill,
or held and timed out before it, are unknown after the restart. Those the sandbox accepted are
confirmed by their webhooks (posted again by the sandbox until the service answers); those it
held get no webhook, while the messages sent after them do, so once the window has passed the
sweep sends them again. The window (20 s) is longer than the restart and the sandbox's webhook
retries, which is what keeps ``resend`` from duplicating."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path

import grpc
import pytest

from mindo_cli.demo import DEMO_ORGANISATION
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from tests.e2e.stack import (
    APP_SECRET,
    free_port,
    order_bulk,
    sent_to,
    spawn_mindo,
    sqlite_stack_env,
    wait_for_port,
)

pytestmark = pytest.mark.slow

KEY = "mindo_ResendTestKey0123456789a"
RECIPIENTS = 200
KILL_AFTER = 60  # sends the sandbox accepted
WINDOW = "20s"
WEBHOOKS = {
    "app_secret": APP_SECRET,
    "shares": {"delivered": 0.0, "read": 0.0},  # one "sent" status per message
    "delays_ms": {"sent": [20, 100]},
    "flush_interval_ms": 50,
    # Posts refused while the service is down are tried again for some 50 s.
    "max_attempts": 12,
    "retry_backoff_ms": 250,
}
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
LATENCY = {"latency_ms": 200}
# Held, never answered, never processed: as if the request was lost on its way to Meta.
LOST = {**LATENCY, "seed": 3, "timeout_rate": 0.1, "timeout_hold_ms": None}


def test_after_sigkill_with_resend_every_recipient_is_sent_exactly_once(tmp_path: Path) -> None:
    sandbox, grpc_address, http = (f"127.0.0.1:{free_port()}" for _ in range(3))
    env = {
        **sqlite_stack_env(
            tmp_path,
            sandbox=sandbox,
            grpc_address=grpc_address,
            api_key=KEY,
            secret="unknown-resent-after-sigkill-secret-32",
        ),
        "MINDO_HTTP_ADDRESS": http,
        "MINDO_META_APP_SECRET": APP_SECRET,
        "MINDO_UNKNOWN_SWEEP_S": "0.5",
        "MINDO_META_SEND_TIMEOUT_S": "1",
    }
    log = tmp_path / "resend.log"
    host, port = sandbox.rsplit(":", 1)
    # 100 messages/s, 200 ms of latency (LATENCY): some 20 calls at the sandbox at the kill,
    # and one send in ten held unanswered until then (LOST).
    processes = [
        spawn_mindo(
            ["sandbox", "--host", host, "--port", port, "--mps", "100"],
            env,
            log,
        ),
        spawn_mindo(["bridge"], env, log),
    ]
    try:
        wait_for_port(sandbox)
        wait_for_port(http)
        _put(f"http://{sandbox}/_sandbox/webhooks", {**WEBHOOKS, "callback_url": _hook(http)})
        _put(f"http://{sandbox}/_sandbox/faults", LOST)
        serving = spawn_mindo(["serve", "--demo"], env, log)
        processes.append(serving)
        wait_for_port(grpc_address)
        policy = ["--org", DEMO_ORGANISATION, "--policy", "resend", "--window", WINDOW]
        _mindo(env, log, "unknown-outcomes", "policy", *policy)
        bulk_id = asyncio.run(_submit(grpc_address))
        deadline = time.monotonic() + 30
        while len(sent_to(sandbox)) < KILL_AFTER:
            assert time.monotonic() < deadline, "the bulk did not progress"
            time.sleep(0.01)
        serving.send_signal(signal.SIGKILL)
        serving.wait()
        _put(f"http://{sandbox}/_sandbox/faults", LATENCY)
        processes.append(spawn_mindo(["serve", "--demo"], env, log))
        wait_for_port(grpc_address)
        bulk = asyncio.run(_when_all_sent(grpc_address, bulk_id))
        accepted = Counter(sent_to(sandbox))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()

    assert accepted == {f"54911{5000_0000 + i}": 1 for i in range(RECIPIENTS)}
    assert (bulk.status, bulk.sent_count, bulk.failed_count) == ("COMPLETED", RECIPIENTS, 0)
    # Not a vacuous run: some were unknown after the kill, and Meta never had them.
    assert bulk.unknown_resent_count > 0, "no recipient was unknown and resent"


def _hook(http: str) -> str:
    return f"http://{http}/webhooks/meta"


def _put(url: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    urllib.request.urlopen(request).close()


def _mindo(env: dict[str, str], log: Path, *argv: str) -> None:
    """An operator's command, run to its end."""
    assert spawn_mindo(list(argv), env, log).wait(timeout=60) == 0, log.read_text()


async def _submit(grpc_address: str) -> str:
    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        accepted = await stub.SendBulk(order_bulk(RECIPIENTS), metadata=(("x-api-key", KEY),))
        return str(accepted.bulk_send_id)


async def _when_all_sent(grpc_address: str, bulk_id: str) -> pb.Bulk:
    """The bulk once every recipient is sent (or it is over with some not: the test fails)."""
    metadata = (("x-api-key", KEY),)
    request = pb.GetBulkRequest(bulk_send_id=bulk_id)
    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        deadline = time.monotonic() + 50
        bulk = await stub.GetBulk(request, metadata=metadata)
        while bulk.sent_count < RECIPIENTS or bulk.status not in FINAL:
            assert time.monotonic() < deadline, f"not every recipient was sent: {bulk}"
            await asyncio.sleep(0.2)
            bulk = await stub.GetBulk(request, metadata=metadata)
        return bulk
