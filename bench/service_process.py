"""The real service (``mindo serve --demo``) and REST bridge (``mindo bridge``) as processes of
their own, for the benchmarks that measure the service alone: its CPU is then read from
``/proc`` instead of being mixed with the clients' in the benchmark's process. Not a benchmark
itself (not in ``BENCHMARKS``).

``ServiceProcess.start(meta_url=..., database_url=...)`` runs ``python -m mindo_cli serve
--demo`` over that database, talking to the sandbox at ``meta_url``, with the demo key pinned
(``api_key``), no per-key request limit and every number's throughput fixed high
(``MINDO_THROUGHPUT_MPS``: the sandbox is unlimited, so the gate must not pace at the tier's
80/s); it is ready once its gRPC port answers (the demo tenant is seeded before the server
starts). ``BridgeProcess.start(grpc_target)`` runs the bridge in front of it. Both log (at
INFO, the default) into a temporary file, shown if they fail to start; ``cpu_seconds()`` is
the child's CPU so far (utime + stime).

``tree``: another checkout of Mindo (its protobuf code generated) to run the child from instead
of this one, to compare a change with what came before in the same run and load.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench.process_cpu import cpu_seconds
from mindo_core.access.api_keys import generate_key

_STARTUP_SECONDS = 60.0
SECRET = "bench-service-process-secret-of-at-least-32-characters"
THROUGHPUT_MPS = "100000"
# As an operator runs it by default; BENCH_SERVICE_LOG_LEVEL=WARNING to compare.
LOG_LEVEL = os.environ.get("BENCH_SERVICE_LOG_LEVEL", "INFO")


def free_address() -> str:
    """A local address no one listens on now (the child binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    address: str

    @classmethod
    def spawn(
        cls, argv: list[str], env: dict[str, str], address: str, tree: Path | None = None
    ) -> _Child:
        log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        command = [sys.executable, "-m", "mindo_cli", *argv]
        if tree is not None:
            env = {**env, "PYTHONPATH": str(tree)}
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        child = cls(process=process, log=log, address=address)
        child._wait_listening()
        return child

    def _wait_listening(self) -> None:
        host, _, port = self.address.rpartition(":")
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        self.log.seek(0)
        said = self.log.read().decode(errors="replace")[-2000:]
        raise RuntimeError(f"{self.process.args!r} did not start; it said:\n{said}")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid) or 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@dataclass
class ServiceProcess:
    child: _Child
    api_key: str

    @classmethod
    def start(cls, *, meta_url: str, database_url: str, tree: Path | None = None) -> ServiceProcess:
        api_key = generate_key()
        env = {
            "MINDO_DATABASE_URL": database_url,
            "MINDO_SECRET_KEY": SECRET,
            "MINDO_META_BASE_URL": meta_url,
            "MINDO_GRPC_ADDRESS": free_address(),
            "MINDO_DEMO_API_KEY": api_key,
            "MINDO_KEY_RATE_LIMIT": "0",
            "MINDO_THROUGHPUT_MPS": THROUGHPUT_MPS,
            "MINDO_LOG_LEVEL": LOG_LEVEL,
            "MINDO_METRICS_ADDRESS": "",
        }
        child = _Child.spawn(["serve", "--demo"], env, env["MINDO_GRPC_ADDRESS"], tree)
        return cls(child=child, api_key=api_key)

    @property
    def target(self) -> str:
        return self.child.address

    @property
    def pid(self) -> int:
        return self.child.process.pid

    def cpu_seconds(self) -> float:
        return self.child.cpu_seconds()

    def stop(self) -> None:
        self.child.stop()


@dataclass
class BridgeProcess:
    child: _Child

    @classmethod
    def start(cls, grpc_target: str, tree: Path | None = None) -> BridgeProcess:
        env = {
            "MINDO_GRPC_ADDRESS": grpc_target,
            "MINDO_HTTP_ADDRESS": free_address(),
            "MINDO_LOG_LEVEL": LOG_LEVEL,
        }
        return cls(child=_Child.spawn(["bridge"], env, env["MINDO_HTTP_ADDRESS"], tree))

    @property
    def url(self) -> str:
        return f"http://{self.child.address}"

    def cpu_seconds(self) -> float:
        return self.child.cpu_seconds()

    def stop(self) -> None:
        self.child.stop()
