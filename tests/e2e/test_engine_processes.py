"""The engine and the API as separate processes: `mindo worker` runs the engine alone,
`mindo serve --no-engine` the API alone, and one SQLite file takes one engine at a time."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.stack import free_port, spawn_mindo

pytestmark = pytest.mark.slow

STARTED = "Bulk engine started as worker"


def _environment(database: Path, grpc_address: str = "") -> dict[str, str]:
    return {
        **os.environ,
        "MINDO_DATABASE_URL": f"sqlite:///{database}",
        "MINDO_SECRET_KEY": "engine-process-test-secret-of-32-chars!",
        "MINDO_GRPC_ADDRESS": grpc_address or f"127.0.0.1:{free_port()}",
        "MINDO_LOG_LEVEL": "INFO",
    }


def _wait_for_line(process: subprocess.Popen[bytes], log: Path, line: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if line in text:
            return text
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before {line!r}:\n{text}")
        time.sleep(0.1)
    raise AssertionError(f"no {line!r} in 60 s:\n{log.read_text(errors='replace')}")


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_a_second_engine_on_one_sqlite_file_refuses_to_start_in_one_line(
    tmp_path: Path,
) -> None:
    env = _environment(tmp_path / "mindo.db")
    first = spawn_mindo(["worker"], env, tmp_path / "first.log")
    try:
        _wait_for_line(first, tmp_path / "first.log", STARTED)

        second = subprocess.run(
            [sys.executable, "-m", "mindo_cli", "worker"],
            env={**env, "MINDO_LOG_LEVEL": "WARNING"},
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )

        assert second.returncode != 0
        errors = second.stderr.decode().strip().splitlines()
        assert len(errors) == 1, errors
        assert "another Mindo engine already runs on the SQLite database" in errors[0]
        assert STARTED not in second.stdout.decode()
    finally:
        first.kill()
        first.wait()


def test_an_engine_killed_with_sigkill_leaves_no_lock_behind(tmp_path: Path) -> None:
    env = _environment(tmp_path / "mindo.db")
    first = spawn_mindo(["worker"], env, tmp_path / "first.log")
    _wait_for_line(first, tmp_path / "first.log", STARTED)
    first.send_signal(signal.SIGKILL)
    first.wait()

    next_one = spawn_mindo(["worker"], env, tmp_path / "next.log")
    try:
        _wait_for_line(next_one, tmp_path / "next.log", STARTED)
        assert _stop(next_one) == 0
    finally:
        if next_one.poll() is None:
            next_one.kill()
            next_one.wait()


def test_the_worker_listens_on_no_port_and_serve_no_engine_runs_beside_it(
    tmp_path: Path,
) -> None:
    grpc_address = f"127.0.0.1:{free_port()}"
    env = _environment(tmp_path / "mindo.db", grpc_address)
    worker = spawn_mindo(["worker"], env, tmp_path / "worker.log")
    api = None
    try:
        _wait_for_line(worker, tmp_path / "worker.log", STARTED)
        assert not _listening(grpc_address)

        api = spawn_mindo(["serve", "--no-engine"], env, tmp_path / "api.log")
        deadline = time.monotonic() + 60
        while not _listening(grpc_address):
            assert api.poll() is None, (tmp_path / "api.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)

        assert STARTED not in (tmp_path / "api.log").read_text()
        with_engine = subprocess.run(
            [sys.executable, "-m", "mindo_cli", "serve"],
            env={**env, "MINDO_GRPC_ADDRESS": f"127.0.0.1:{free_port()}"},
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )
        assert with_engine.returncode != 0
        assert "another Mindo engine already runs" in with_engine.stderr.decode()
        assert _stop(api) == 0
        assert _stop(worker) == 0
    finally:
        for process in (worker, api):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def test_a_worker_given_a_metrics_address_answers_metrics_and_health_there(
    tmp_path: Path,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {**_environment(tmp_path / "mindo.db"), "MINDO_METRICS_ADDRESS": address}
    worker = spawn_mindo(["worker"], env, tmp_path / "worker.log")
    try:
        _wait_for_line(worker, tmp_path / "worker.log", "Metrics and health at")
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=5) as answer:
            health = (answer.status, json.loads(answer.read()))
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as answer:
            metrics = answer.read().decode()

        assert health == (200, {"status": "SERVING"})
        assert "mindo_bulk_recipients_pending 0.0" in metrics
        assert "mindo_callback_backlog" in metrics
        assert _stop(worker) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
