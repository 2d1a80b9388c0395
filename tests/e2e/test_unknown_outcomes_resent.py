"""With Meta's webhooks on and the organisation's policy ``resend``: the service is killed with
SIGKILL in the middle of a bulk, started again, and every recipient ends sent exactly once in
the sandbox's record: those whose call Meta received are confirmed by their webhook, those it
never received are resent once the webhooks of later messages have come for the window."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import grpc
import pytest

from mindo_cli.demo import DEMO_ORGANISATION
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from tests.e2e.stack import APP_SECRET, free_port, spawn_mindo
from tests.e2e.test_bulk_crash_recovery import KEY, _bulk, _sandbox_sends, _wait_port

pytestmark = pytest.mark.slow

RECIPIENTS = 300
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


def _configure_webhooks(sandbox: str, bridge: str) -> None:
    config = {
        "callback_url": f"http://{bridge}/webhooks/meta",
        "app_secret": APP_SECRET,
        "delays_ms": {"sent": [5, 50], "delivered": [20, 200], "read": [50, 300]},
        "flush_interval_ms": 50,
    }
    request = urllib.request.Request(
        f"http://{sandbox}/_sandbox/webhooks",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    urllib.request.urlopen(request).close()


def test_with_policy_resend_every_recipient_is_sent_exactly_once(tmp_path: Path) -> None:
    sandbox, grpc_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    bridge = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "MINDO_DATABASE_URL": f"sqlite:///{tmp_path / 'mindo.db'}",
        "MINDO_SECRET_KEY": "unknown-outcome-test-secret-of-32-chars",
        "MINDO_META_BASE_URL": f"http://{sandbox}",
        "MINDO_GRPC_ADDRESS": grpc_address,
        "MINDO_HTTP_ADDRESS": bridge,
        "MINDO_META_APP_SECRET": APP_SECRET,
        "MINDO_DEMO_API_KEY": KEY,
        "MINDO_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "unknown.log"
    host, port = sandbox.rsplit(":", 1)
    processes: list[subprocess.Popen[bytes]] = [
        spawn_mindo(
            ["sandbox", "--host", host, "--port", port, "--mps", "100", "--latency-ms", "50"],
            env,
            log,
        )
    ]
    try:
        _wait_port(sandbox)
        processes.append(spawn_mindo(["serve", "--demo"], env, log))
        _wait_port(grpc_address)
        processes.append(spawn_mindo(["bridge"], env, log))
        _wait_port(bridge)
        _configure_webhooks(sandbox, bridge)
        subprocess.run(
            [
                *(sys.executable, "-m", "mindo_cli", "orgs", "update", DEMO_ORGANISATION),
                *("--unknown-policy", "resend", "--unknown-window", "1"),
            ],
            env=env,
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        asyncio.run(_kill_and_settle(env, log, processes, sandbox, grpc_address))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


async def _kill_and_settle(
    env: dict[str, str],
    log: Path,
    processes: list[subprocess.Popen[bytes]],
    sandbox: str,
    grpc_address: str,
) -> None:
    serve = processes[1]
    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        request = pb.SendBulkRequest(
            phone_number_id="813497231850626",
            template_name="order_update",
            recipients=[
                pb.BulkRecipient(
                    phone=f"+54911{6000_0000 + i}",
                    variables={"order_id": f"ORD-{i}", "status": "listo"},
                )
                for i in range(RECIPIENTS)
            ],
        )
        bulk_id = (await stub.SendBulk(request, metadata=(("x-api-key", KEY),))).bulk_send_id
        deadline = time.monotonic() + 30
        while (await _bulk(stub, bulk_id)).sent_count < RECIPIENTS // 3:
            assert time.monotonic() < deadline, "the bulk did not progress"
            await asyncio.sleep(0.01)
    serve.send_signal(signal.SIGKILL)
    serve.wait()
    processes.append(spawn_mindo(["serve", "--demo"], env, log))
    _wait_port(grpc_address)

    # The window (1 minute) after the later webhooks, and a sweep (every 30 s).
    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        deadline = time.monotonic() + 180
        bulk = await _bulk(stub, bulk_id)
        while not (bulk.status in FINAL and bulk.sent_count == RECIPIENTS):
            assert time.monotonic() < deadline, f"not every recipient was sent: {bulk}"
            await asyncio.sleep(0.5)
            bulk = await _bulk(stub, bulk_id)

    sends = _sandbox_sends(sandbox)
    per_recipient = Counter(str(r["body"]["to"]) for r in sends)  # type: ignore[index]
    assert len(per_recipient) == RECIPIENTS
    assert max(per_recipient.values()) == 1, "a recipient was sent twice"
    assert (bulk.status, bulk.failed_count, bulk.pending_count) == ("COMPLETED", 0, 0)
