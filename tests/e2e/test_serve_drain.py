"""`mindo serve` drains on SIGTERM: gRPC health says NOT_SERVING from the signal on, while the
engine lets its sends in flight finish (each takes 2 s at the sandbox here) and gives back what
it claimed but did not send; then the process exits 0, leaving nothing in flight and nothing
"outcome unknown"."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from tests.e2e.stack import free_port, order_bulk, spawn_mindo

pytestmark = pytest.mark.slow

KEY = "mindo_DrainTestKey0123456789ab"
RECIPIENTS = 400  # at 80/s, far more than the 2 s of sending before the signal


def test_sigterm_drains_the_engine_while_health_says_not_serving(tmp_path: Path) -> None:
    sandbox, grpc_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    database = tmp_path / "mindo.db"
    env = {
        **os.environ,
        "MINDO_DATABASE_URL": f"sqlite:///{database}",
        "MINDO_SECRET_KEY": "drain-test-secret-of-32-characters!!",
        "MINDO_META_BASE_URL": f"http://{sandbox}",
        "MINDO_GRPC_ADDRESS": grpc_address,
        "MINDO_DEMO_API_KEY": KEY,
        "MINDO_STOP_GRACE_S": "15",
    }
    log = tmp_path / "drain.log"
    host, port = sandbox.rsplit(":", 1)
    latency = ["--latency-ms", "2000", "--mps", "100"]
    processes = [spawn_mindo(["sandbox", "--host", host, "--port", port, *latency], env, log)]
    try:
        serve = spawn_mindo(["serve", "--demo"], env, log)
        processes.append(serve)
        _wait_for(log, "Mindo is ready", processes)
        health = asyncio.run(_send_then_stop(grpc_address, serve, database))
        assert serve.wait(timeout=30) == 0, log.read_text()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()

    assert health[0] == health_pb2.HealthCheckResponse.SERVING
    assert health_pb2.HealthCheckResponse.NOT_SERVING in health[1:], health
    with sqlite3.connect(database) as connection:
        states = dict(
            connection.execute("SELECT status, count(*) FROM messages GROUP BY status").fetchall()
        )
    assert states.get("sent", 0) > 0, states
    assert set(states) <= {"sent", "pending"}, states  # none in flight, none unconfirmed
    assert sum(states.values()) == RECIPIENTS


def _wait_for(log: Path, line: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while line not in log.read_text(errors="replace"):
        assert all(p.poll() is None for p in processes), log.read_text(errors="replace")
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.1)


def _in_flight(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        found = connection.execute("SELECT count(*) FROM messages WHERE status = 'in_flight'")
        return int(found.fetchone()[0])


async def _send_then_stop(
    grpc_address: str, serve: subprocess.Popen[bytes], database: Path
) -> list[int]:
    """Health before the signal, then every answer until the server goes away; the server
    must not go while the engine still has sends in flight."""
    metadata = (("x-api-key", KEY),)
    answers = []
    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        await stub.SendBulk(
            order_bulk(RECIPIENTS),
            metadata=metadata,
        )
        answers.append((await health.Check(health_pb2.HealthCheckRequest())).status)
        await asyncio.sleep(2.0)  # sends in flight: each waits 2 s at the sandbox
        serve.send_signal(signal.SIGTERM)
        while serve.poll() is None:
            in_flight = _in_flight(database)
            try:
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.aio.AioRpcError:
                assert in_flight == 0, "the API stopped before the engine had drained"
                break
            answers.append(answer.status)
            await asyncio.sleep(0.05)
    return answers
