"""Mindo as a cluster of real processes on a fresh PostgreSQL database: the sandbox playing Meta
with two numbers, API processes (`mindo serve --no-engine`) and workers (`mindo worker`)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from mindo_core.adapters.sql.engine import make_sync_engine
from tests.e2e.stack import free_port, spawn_mindo

KEY = "mindo_TakeoverTestKey012345678"
NUMBERS = ("813497231850626", "813497231850627")
T = TypeVar("T")

_LEASES = sa.text(
    "SELECT p.phone_number_id, l.worker_id FROM number_leases AS l "
    "JOIN phone_numbers AS p ON p.id = l.phone_number_row_id "
    "WHERE l.expires_at > clock_timestamp()"
)
_UNCONFIRMED_CLAIMS = sa.text(
    "SELECT claimed_by, count(*) FROM messages WHERE status = 'unconfirmed' GROUP BY claimed_by"
)


def two_number_config(path: Path) -> Path:
    """The sandbox's demo account with a second number beside the first."""
    demo = Path(__file__).resolve().parents[2] / "mindo_sandbox" / "demo.json"
    data = json.loads(demo.read_text())
    first = data["wabas"][0]["phone_numbers"][0]
    second = {**first, "id": NUMBERS[1], "display_phone_number": "+54 9 223 675-0781"}
    data["wabas"][0]["phone_numbers"].append(second)
    path.write_text(json.dumps(data))
    return path


class Cluster:
    def __init__(self, tmp_path: Path, postgres_url: str) -> None:
        self.sandbox = f"127.0.0.1:{free_port()}"
        self.grpc_address = f"127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "MINDO_DATABASE_URL": postgres_url,
            "MINDO_SECRET_KEY": "takeover-test-secret-of-32-characters!",
            "MINDO_META_BASE_URL": f"http://{self.sandbox}",
            "MINDO_GRPC_ADDRESS": self.grpc_address,
            "MINDO_DEMO_API_KEY": KEY,
            "MINDO_LOG_LEVEL": "INFO",
        }
        self.log = tmp_path / "cluster.log"
        self.config = two_number_config(tmp_path / "sandbox.json")
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.database = make_sync_engine(postgres_url)

    def start(self, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        """``mindo ARGV``; ``env``: variables of this process's own (another gRPC address)."""
        process = spawn_mindo(argv, {**self.env, **env}, self.log)
        self.processes.append(process)
        if argv[0] == "worker":
            self.workers[process.pid] = process
        return process

    def wait_for(self, line: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.log.read_text(errors="replace").count(line) < count:
            assert all(p.poll() is None for p in self.processes), self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text(errors="replace")
            time.sleep(0.1)

    def owners(self) -> dict[str, str]:
        """phone_number_id → the worker id holding its lease now."""
        with self.database.connect() as connection:
            return {number: worker for number, worker in connection.execute(_LEASES)}

    def unconfirmed_by_claimant(self) -> dict[str, int]:
        with self.database.connect() as connection:
            return {who: int(n) for who, n in connection.execute(_UNCONFIRMED_CLAIMS)}

    def sandbox_sends(self) -> list[dict[str, object]]:
        url = f"http://{self.sandbox}/_sandbox/requests"
        with urllib.request.urlopen(url) as answer:
            records: list[dict[str, object]] = json.load(answer)["data"]
        return [r for r in records if str(r["path"]).endswith("/messages")]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        self.database.dispose()


def wait_until(probe: Callable[[], T | None], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")
