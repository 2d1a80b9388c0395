"""Real Mindo processes on one PostgreSQL database, for the scale-out benchmarks: the sandbox,
``mindo serve --no-engine --demo`` (the API, with the demo tenant and key) and ``mindo worker``
processes, all writing to one log file; what the sandbox recorded, read over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

DEMO_NUMBER = "813497231850626"  # the sandbox demo's number
DEMO_KEY = "mindo_BenchClusterKey012345678"


class ClusterProcesses:
    def __init__(self, folder: Path, url: str, **env: str) -> None:
        self.log = folder / "cluster.log"
        self.sandbox = f"127.0.0.1:{free_port()}"
        self.grpc_address = f"127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "MINDO_DATABASE_URL": url,
            "MINDO_SECRET_KEY": "bench-cluster-secret-of-32-characters!",
            "MINDO_META_BASE_URL": f"http://{self.sandbox}",
            "MINDO_GRPC_ADDRESS": self.grpc_address,
            "MINDO_DEMO_API_KEY": DEMO_KEY,
            "MINDO_LOG_LEVEL": "INFO",
            **env,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: dict[int, subprocess.Popen[bytes]] = {}

    def spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "mindo_cli", *argv],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        if argv[0] == "worker":
            self.workers[process.pid] = process
        return process

    def start_all(self, *, workers: int, sandbox_args: tuple[str, ...] = ("--mps", "100")) -> None:
        """The sandbox (by default with headroom over the demo number's 80/s: a loaded
        machine's bunched sends are not the point), the API process and ``workers`` workers."""
        host, port = self.sandbox.rsplit(":", 1)
        self.spawn("sandbox", "--host", host, "--port", port, *sandbox_args)
        self.spawn("serve", "--no-engine", "--demo")
        self.wait_for_line("Mindo is ready", 1)
        for _ in range(workers):
            self.spawn("worker")
        self.wait_for_line("Bulk engine started as worker", workers)

    def wait_for_line(self, line: str, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.log.read_text(errors="replace").count(line) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(self.log.read_text(errors="replace")[-3000:])
            time.sleep(0.1)

    def sandbox_sends(
        self, number: str = DEMO_NUMBER, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The sandbox's records of sends from ``number`` (the latest ``limit`` requests'),
        oldest first."""
        query = "" if limit is None else f"?limit={limit}"
        url = f"http://{self.sandbox}/_sandbox/requests{query}"
        with urllib.request.urlopen(url) as answer:
            records: list[dict[str, Any]] = json.load(answer)["data"]
        return [r for r in records if str(r["path"]).endswith(f"{number}/messages")]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(address: str, timeout: float = 60) -> None:
    """Until something listens on ``host:port``."""
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {address}")
