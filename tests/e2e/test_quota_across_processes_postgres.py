"""The organisation's 24 h quota holds across API processes: two `mindo serve --no-engine` on
one PostgreSQL database (a REST bridge in front of the second), the sandbox playing Meta with a
TIER_50 number answering each send in 100–200 ms. With three slots left, thirty single sends to
new recipients fired at once through both processes (gRPC to one, REST to the other): exactly
three are sent; the others are refused before Meta (gRPC RESOURCE_EXHAUSTED, REST 429, both
``quota_exceeded``), and business-accounts on either process shows the limit reached."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from mindo_grpc.status_details import from_rpc_error
from tests.e2e.stack import free_port, spawn_mindo

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KEY = "mindo_QuotaProcsTestKey0123456"
NUMBER = "813497231850626"
LIMIT = 50  # TIER_50
FREE_SLOTS = 3
PER_PROCESS = 15
METADATA = (("x-api-key", KEY),)


class TwoApiProcesses:
    def __init__(self, tmp_path: Path, postgres_url: str) -> None:
        self.sandbox = f"127.0.0.1:{free_port()}"
        self.grpc = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
        self.rest = f"127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "MINDO_DATABASE_URL": postgres_url,
            "MINDO_SECRET_KEY": "quota-processes-secret-of-32-characters",
            "MINDO_META_BASE_URL": f"http://{self.sandbox}",
            "MINDO_DEMO_API_KEY": KEY,
            "MINDO_LOG_LEVEL": "INFO",
        }
        self.log = tmp_path / "processes.log"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.config = _tier_50_config(tmp_path / "sandbox.json")

    def start(self, argv: list[str], **env: str) -> None:
        self.processes.append(spawn_mindo(argv, {**self.env, **env}, self.log))

    def wait_for(self, line: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.log.read_text(errors="replace"):
            assert all(p.poll() is None for p in self.processes), self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text(errors="replace")
            time.sleep(0.1)

    def sandbox_accepted(self) -> list[str]:
        """The recipients the sandbox accepted a send to."""
        with urllib.request.urlopen(f"http://{self.sandbox}/_sandbox/requests") as answer:
            records = json.load(answer)["data"]
        return [
            r["body"]["to"]
            for r in records
            if str(r["path"]).endswith("/messages") and r["status"] == 200
        ]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def api(tmp_path: Path, postgres_url: str) -> Iterator[TwoApiProcesses]:
    running = TwoApiProcesses(tmp_path, postgres_url)
    try:
        host, port = running.sandbox.rsplit(":", 1)
        sandbox = ["sandbox", "--host", host, "--port", port, "--latency-ms", "100-200"]
        running.start([*sandbox, "--config", str(running.config)])
        running.start(["serve", "--no-engine", "--demo"], MINDO_GRPC_ADDRESS=running.grpc[0])
        running.wait_for("Mindo is ready")
        running.start(["serve", "--no-engine"], MINDO_GRPC_ADDRESS=running.grpc[1])
        running.start(
            ["bridge"], MINDO_GRPC_ADDRESS=running.grpc[1], MINDO_HTTP_ADDRESS=running.rest
        )
        yield running
    finally:
        running.close()


def test_concurrent_sends_through_two_processes_take_exactly_the_slots_left(
    api: TwoApiProcesses,
) -> None:
    outcomes, quotas = asyncio.run(_fill_then_race(api))

    sent = [o for o in outcomes if o == "sent"]
    assert len(sent) == FREE_SLOTS, outcomes
    assert sorted(set(outcomes)) == ["grpc quota_exceeded", "rest 429 quota_exceeded", "sent"]
    accepted = api.sandbox_accepted()
    assert len(accepted) == LIMIT  # nothing refused reached Meta
    assert len(set(accepted)) == LIMIT
    for quota in quotas:  # each process's business-accounts, gRPC and REST
        assert (quota["unique"], quota["remaining"], quota["can_send"]) == (LIMIT, 0, False)


async def _fill_then_race(api: TwoApiProcesses) -> tuple[list[str], list[dict[str, object]]]:
    async with (
        grpc.aio.insecure_channel(api.grpc[0]) as first,
        grpc.aio.insecure_channel(api.grpc[1]) as second,
        aiohttp.ClientSession(f"http://{api.rest}") as http,
    ):
        stubs = [mindo_pb2_grpc.MindoStub(first), mindo_pb2_grpc.MindoStub(second)]
        await _until_serving(stubs[1], http)
        # The window fills, through both processes, to three slots short of the limit.
        for start in range(0, LIMIT - FREE_SLOTS, 10):
            batch = range(start, min(start + 10, LIMIT - FREE_SLOTS))
            await asyncio.gather(*(_grpc_send(stubs[i % 2], i) for i in batch))

        outcomes = await asyncio.gather(
            *(_grpc_send(stubs[0], 1000 + i) for i in range(PER_PROCESS)),
            *(_rest_send(http, 2000 + i) for i in range(PER_PROCESS)),
        )
        quotas = [await _grpc_quota(stub) for stub in stubs]
        quotas.append(await _rest_quota(http))
        return list(outcomes), quotas


async def _until_serving(stub: mindo_pb2_grpc.MindoStub, http: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            await stub.ListBusinessAccounts(pb.ListBusinessAccountsRequest(), metadata=METADATA)
            async with http.get("/api/v1/business-accounts/", headers={"X-API-Key": KEY}) as r:
                if r.status == 200:
                    return
        except (grpc.aio.AioRpcError, aiohttp.ClientError):
            pass
        assert time.monotonic() < deadline, "the second API process and its bridge never served"
        await asyncio.sleep(0.2)


def _phone(i: int) -> str:
    return f"+54911{i:08d}"


async def _grpc_send(stub: mindo_pb2_grpc.MindoStub, i: int) -> str:
    request = pb.SendMessageRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipient_phone=_phone(i),
        variables={"order_id": "ORD-1", "status": "listo"},
    )
    try:
        await stub.SendMessage(request, metadata=METADATA)
    except grpc.aio.AioRpcError as error:
        details = from_rpc_error(error)
        assert details.status == grpc.StatusCode.RESOURCE_EXHAUSTED, details
        return f"grpc {details.code}"
    return "sent"


async def _rest_send(http: aiohttp.ClientSession, i: int) -> str:
    body = {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipient_phone": _phone(i),
        "variables": {"order_id": "ORD-1", "status": "listo"},
    }
    headers = {"X-API-Key": KEY}
    async with http.post("/api/v1/meta-templates/send/", json=body, headers=headers) as answer:
        if answer.status == 200:
            return "sent"
        assert answer.status == 429, await answer.text()
        assert "Retry-After" in answer.headers
        return f"rest 429 {(await answer.json())['code']}"


async def _grpc_quota(stub: mindo_pb2_grpc.MindoStub) -> dict[str, object]:
    listed = await stub.ListBusinessAccounts(pb.ListBusinessAccountsRequest(), metadata=METADATA)
    quota = listed.business_accounts[0].phone_numbers[0].quota
    return {
        "unique": quota.unique_numbers_sent_24h,
        "remaining": quota.remaining,
        "can_send": quota.can_send,
    }


async def _rest_quota(http: aiohttp.ClientSession) -> dict[str, object]:
    headers = {"X-API-Key": KEY}
    async with http.get("/api/v1/business-accounts/", headers=headers) as answer:
        quota = (await answer.json())["phoneNumbers"][0]["quota"]
    return {
        "unique": quota["uniqueNumbersSent24h"],
        "remaining": quota["remaining"],
        "can_send": quota["canSend"],
    }


def _tier_50_config(path: Path) -> Path:
    """The sandbox's demo account, its number at TIER_50."""
    demo = Path(__file__).resolve().parents[2] / "mindo_sandbox" / "demo.json"
    data = json.loads(demo.read_text())
    data["wabas"][0]["phone_numbers"][0]["whatsapp_business_manager_messaging_limit"] = "TIER_50"
    path.write_text(json.dumps(data))
    return path
