"""Status callbacks end to end, with real processes: a receiver (a real aiohttp server in the
test) registered over REST gets every event of a bulk, each with a valid Mindo-Signature,
although it answers 500 for the first minute and although `mindo serve` is killed with
SIGKILL in the middle of the bulk and started again (1,000 recipients). Events are matched to
what the sandbox says happened: each message's final status, and the bulk's final status."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from mindo_core.callbacks.signing import SIGNATURE_HEADER, verify
from tests.e2e.stack import free_port, spawn_mindo, wait_for_port

pytestmark = pytest.mark.slow

KEY = "mindo_CallbackE2eKey0123456789"
APP_SECRET = "callbacks-e2e-app-secret-0123456789abcdef"
NUMBER = "813497231850626"
RECIPIENTS = 1000
FAILING = {i: 131026 for i in range(0, RECIPIENTS, 25)}
RANK = {"sent": 1, "delivered": 2, "read": 3}
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
SETTLE_SECONDS = 180
REFUSING_SECONDS = 60.0


def phone(i: int) -> str:
    return f"+54911{6000_0000 + i}"


@dataclass
class Receiver:
    """Verifies each request's signature, answers 500 until ``refuse_until``, then keeps the
    events by id (a retried or replayed one counts once)."""

    secret: str = ""
    refuse_until: float = 0.0
    refused: int = 0
    bad_signatures: int = 0
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(
            request.headers.get(SIGNATURE_HEADER, ""), body, self.secret, now=time.time()
        ):
            self.bad_signatures += 1
            return web.Response(status=400)
        if time.monotonic() < self.refuse_until:
            self.refused += 1
            return web.Response(status=500)
        event = json.loads(body)
        self.events[event["id"]] = event
        self.deliveries += 1
        return web.Response(status=204)


def _call(base: str, method: str, path: str, body: object | None = None) -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": KEY},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


def _put_json(url: str, body: object) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    urllib.request.urlopen(request, timeout=10).close()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def test_a_receiver_gets_every_event_of_a_bulk_across_a_kill_and_its_own_outage(
    tmp_path: Path,
) -> None:
    asyncio.run(_run(tmp_path))


async def _run(tmp_path: Path) -> None:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/events", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    receiver_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", receiver_port).start()
    sandbox, grpc_address, http = (f"127.0.0.1:{free_port()}" for _ in range(3))
    env = {
        **os.environ,
        "MINDO_DATABASE_URL": f"sqlite:///{tmp_path / 'mindo.db'}",
        "MINDO_SECRET_KEY": "callbacks-e2e-test-secret-of-32-characters",
        "MINDO_META_BASE_URL": f"http://{sandbox}",
        "MINDO_GRPC_ADDRESS": grpc_address,
        "MINDO_HTTP_ADDRESS": http,
        "MINDO_DEMO_API_KEY": KEY,
        "MINDO_META_APP_SECRET": APP_SECRET,
        "MINDO_LOG_LEVEL": "WARNING",
        "MINDO_CALLBACKS_ALLOW_PRIVATE": "1",
        # Short waits between retries (10 s at most), so that the end of the receiver's
        # outage is seen within seconds, not the production backoff's hour.
        "MINDO_CALLBACKS_RETRY_BASE_S": "0.2",
        "MINDO_CALLBACKS_RETRY_MAX_S": "10",
    }
    log = tmp_path / "callbacks.log"
    host, port = sandbox.rsplit(":", 1)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            spawn_mindo(
                ["sandbox", "--host", host, "--port", port, "--mps", "100", "--latency-ms", "20"],
                env,
                log,
            )
        )
        wait_for_port(sandbox)
        serve = spawn_mindo(["serve", "--demo"], env, log)
        processes.append(serve)
        processes.append(spawn_mindo(["bridge"], env, log))
        wait_for_port(grpc_address)
        wait_for_port(http)
        base = f"http://{http}"
        _put_json(
            f"http://{sandbox}/_sandbox/webhooks",
            {
                "callback_url": f"{base}/webhooks/meta",
                "app_secret": APP_SECRET,
                "seed": 7,
                "shares": {"delivered": 0.9, "read": 0.5},
                "failures": {phone(i).lstrip("+"): code for i, code in FAILING.items()},
                "delays_ms": {"sent": [5, 50], "delivered": [20, 300], "read": [50, 600]},
                "flush_interval_ms": 50,
            },
        )
        created = await asyncio.to_thread(
            _call,
            base,
            "POST",
            "/api/v1/webhook-endpoints/",
            {"url": f"http://127.0.0.1:{receiver_port}/events"},
        )
        receiver.secret = created["secret"]
        receiver.refuse_until = time.monotonic() + REFUSING_SECONDS
        bulk_id = await asyncio.to_thread(_send_bulk, base)

        await _until(lambda: _sent(base, bulk_id) >= RECIPIENTS // 3, "the bulk did not progress")
        serve.send_signal(signal.SIGKILL)
        serve.wait()
        processes.append(spawn_mindo(["serve"], env, log))
        wait_for_port(grpc_address)

        await _until(lambda: _bulk(base, bulk_id)["status"] in FINAL, "the bulk did not finish")
        await _until(lambda: _all_posted(sandbox), "the sandbox did not post every status")
        expected = _expected(sandbox)
        final_bulk = _bulk(base, bulk_id)["status"]

        def complete() -> bool:
            return _missing(receiver, expected, final_bulk) == []

        await _until_async(
            complete, lambda: f"missing {_missing(receiver, expected, final_bulk)[:5]}"
        )

        assert receiver.bad_signatures == 0
        assert receiver.refused > 0, "the receiver's outage did not happen"
        attempts = await asyncio.to_thread(
            _call, base, "GET", f"/api/v1/webhook-endpoints/{created['id']}/attempts/"
        )
        codes = {a["status_code"] for a in attempts["results"]}
        assert 204 in codes
        listed = await asyncio.to_thread(_call, base, "GET", "/api/v1/webhook-endpoints/")
        assert [e["id"] for e in listed["results"]] == [created["id"]]
        assert "secret" not in listed["results"][0]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        await runner.cleanup()


def _send_bulk(base: str) -> str:
    body = {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "language": "es",
        "recipients": [
            {"phone": phone(i), "variables": {"order_id": f"ORD-{i}", "status": "listo"}}
            for i in range(RECIPIENTS)
        ],
    }
    accepted = _call(base, "POST", "/api/v1/meta-templates/send-bulk/", body)
    return str(accepted["bulk_send_id"])


def _bulk(base: str, bulk_id: str) -> Any:
    return _call(base, "GET", f"/api/v1/meta-templates/bulk-sends/{bulk_id}/")


def _sent(base: str, bulk_id: str) -> int:
    return int(_bulk(base, bulk_id)["sent_count"])


def _all_posted(sandbox: str) -> bool:
    return int(_get_json(f"http://{sandbox}/_sandbox/webhooks/sent")["pending"]) == 0


def _expected(sandbox: str) -> dict[str, str]:
    """Each wamid's final status as the sandbox posted it (failed is final)."""
    expected: dict[str, str] = {}
    for post in _get_json(f"http://{sandbox}/_sandbox/webhooks/sent")["data"]:
        if post["field"] != "messages":
            continue
        for entry in json.loads(post["body"])["entry"]:
            for change in entry["changes"]:
                for status in change["value"].get("statuses", []):
                    wamid, name = status["id"], status["status"]
                    before = expected.get(wamid)
                    if (
                        name == "failed"
                        or before is None
                        or (before != "failed" and RANK[name] > RANK[before])
                    ):
                        expected[wamid] = name
    return expected


def _missing(receiver: Receiver, expected: dict[str, str], final_bulk: str) -> list[str]:
    seen: dict[str, set[str]] = defaultdict(set)
    bulk_statuses: set[str] = set()
    for event in list(receiver.events.values()):
        data = event["data"]
        if event["type"].startswith("message."):
            seen[data["wamid"]].add(data["status"])
        elif event["type"] == "bulk.status_changed":
            bulk_statuses.add(data["status"])
    missing = [
        f"{wamid}:{status}" for wamid, status in expected.items() if status not in seen[wamid]
    ]
    if final_bulk not in bulk_statuses:
        missing.append(f"bulk:{final_bulk}")
    return missing


async def _until(condition: Any, message: str) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not await asyncio.to_thread(_holds, condition):
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.2)


def _holds(condition: Any) -> bool:
    """The condition; false while the bridge answers 503 (the service is restarting)."""
    try:
        return bool(condition())
    except urllib.error.HTTPError as error:
        if error.code == 503:
            return False
        raise


async def _until_async(condition: Any, explain: Any) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, explain()
        await asyncio.sleep(0.2)
