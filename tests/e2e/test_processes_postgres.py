"""The API and the engine as separate processes on one PostgreSQL database: a bulk submitted
to `mindo serve --no-engine` is sent by `mindo worker`, and WatchBulk on the API process shows
the worker's progress as it happens (LISTEN/NOTIFY), not only at the 5 s re-read."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from tests.e2e.stack import free_port, order_bulk, spawn_mindo

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KEY = "mindo_ProcessesTestKey01234567"
RECIPIENTS = 300
FINAL = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


def _wait_for(log: Path, line: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while line not in log.read_text(errors="replace"):
        assert all(p.poll() is None for p in processes), log.read_text(errors="replace")
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.1)


def test_watch_bulk_on_an_api_process_sees_a_worker_process_send(
    tmp_path: Path, postgres_url: str
) -> None:
    sandbox, grpc_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "MINDO_DATABASE_URL": postgres_url,
        "MINDO_SECRET_KEY": "processes-test-secret-of-32-characters!",
        "MINDO_META_BASE_URL": f"http://{sandbox}",
        "MINDO_GRPC_ADDRESS": grpc_address,
        "MINDO_DEMO_API_KEY": KEY,
        "MINDO_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "processes.log"
    host, port = sandbox.rsplit(":", 1)
    # 100 messages/s: 300 recipients take about 3 s, so a 5 s re-read alone would show none
    # of the progress in between.
    processes = [
        spawn_mindo(["sandbox", "--host", host, "--port", port, "--mps", "100"], env, log),
    ]
    try:
        processes.append(spawn_mindo(["serve", "--no-engine", "--demo"], env, log))
        _wait_for(log, "Mindo is ready", processes)
        processes.append(spawn_mindo(["worker"], env, log))
        _wait_for(log, "Bulk engine started as worker", processes)
        snapshots = asyncio.run(_send_and_watch(grpc_address))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()

    assert snapshots[-1].status == "COMPLETED"
    assert snapshots[-1].sent_count == RECIPIENTS
    progress = [s.sent_count for s in snapshots]
    assert progress == sorted(progress)
    in_between = {n for n in progress if 0 < n < RECIPIENTS}
    assert len(in_between) >= 5, progress
    assert log.read_text().count("Bulk engine started as worker") == 1


async def _send_and_watch(grpc_address: str) -> list[pb.Bulk]:
    metadata = (("x-api-key", KEY),)
    async with grpc.aio.insecure_channel(grpc_address) as channel:
        stub = mindo_pb2_grpc.MindoStub(channel)
        accepted = await stub.SendBulk(
            order_bulk(RECIPIENTS),
            metadata=metadata,
        )
        watch = stub.WatchBulk(
            pb.WatchBulkRequest(bulk_send_id=accepted.bulk_send_id), metadata=metadata
        )
        async with asyncio.timeout(60):
            return [snapshot async for snapshot in watch]
