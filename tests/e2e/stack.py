"""`mindo dev` started as a user starts it, in its own directory, on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb

DEMO_KEY = "mindo_E2eDemoKey0123456789abcd"
# Pinned so that a test can re-point the sandbox's webhooks (PUT /_sandbox/webhooks replaces
# every setting, the secret included) and still have them accepted by the bridge.
APP_SECRET = "e2e-meta-app-secret-0123456789abcdef"


def spawn_mindo(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``mindo ARGV`` as a real process in ``log``'s folder, its output appended to ``log``."""
    with log.open("ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "mindo_cli", *argv],
            env=env,
            cwd=log.parent,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


DEMO_NUMBER = "813497231850626"  # the sandbox demo's number


def order_bulk(recipients: int) -> pb.SendBulkRequest:
    """``order_update`` from the demo number to ``recipients`` distinct phones, +54911 5000 0000
    onwards (the phone of recipient i ends in i)."""
    return pb.SendBulkRequest(
        phone_number_id=DEMO_NUMBER,
        template_name="order_update",
        recipients=[
            pb.BulkRecipient(
                phone=f"+54911{5000_0000 + i}",
                variables={"order_id": f"ORD-{i}", "status": "listo"},
            )
            for i in range(recipients)
        ],
    )


def sqlite_stack_env(
    folder: Path, *, sandbox: str, grpc_address: str, api_key: str, secret: str
) -> dict[str, str]:
    """The environment of ``mindo serve --demo`` over a SQLite file in ``folder``, talking to
    the sandbox at ``sandbox``."""
    return {
        **os.environ,
        "MINDO_DATABASE_URL": f"sqlite:///{folder / 'mindo.db'}",
        "MINDO_SECRET_KEY": secret,
        "MINDO_META_BASE_URL": f"http://{sandbox}",
        "MINDO_GRPC_ADDRESS": grpc_address,
        "MINDO_DEMO_API_KEY": api_key,
        "MINDO_LOG_LEVEL": "WARNING",
    }


def sandbox_sends(sandbox: str, *, refused_too: bool = False) -> list[dict[str, Any]]:
    """The sandbox's record of the messages sent to it at ``host:port``: those it accepted,
    and those it refused too if asked (a 130429 under load reached Meta as well)."""
    with urllib.request.urlopen(f"http://{sandbox}/_sandbox/requests") as answer:
        records: list[dict[str, Any]] = json.load(answer)["data"]
    return [
        r for r in records if str(r["path"]).endswith("/messages") and (r["wamid"] or refused_too)
    ]


def sent_to(sandbox: str, *, refused_too: bool = False) -> list[str]:
    """The recipient (wa_id) of each of ``sandbox_sends``, once per send."""
    return [str(r["body"]["to"]) for r in sandbox_sends(sandbox, refused_too=refused_too)]


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


@dataclass
class DevStack:
    process: subprocess.Popen[bytes]
    http: str
    grpc: str
    sandbox: str
    api_key: str
    log: Path
    log_file: BinaryIO

    @property
    def base_url(self) -> str:
        return f"http://{self.http}"

    def sandbox_requests(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(f"http://{self.sandbox}/_sandbox/requests") as answer:
            body = json.load(answer)
        return list(body["data"])

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/meta"

    def set_sandbox_webhooks(self, config: dict[str, object]) -> dict[str, object]:
        """Replaces the sandbox's webhook settings (``mindo_sandbox/webhook_config.py``)."""
        request = urllib.request.Request(
            f"http://{self.sandbox}/_sandbox/webhooks",
            data=json.dumps(config).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(request) as answer:
            body: dict[str, object] = json.load(answer)
        return body

    def sent_webhooks(self) -> tuple[list[dict[str, object]], int]:
        """Every webhook POST the sandbox made (exact body, receiver's status), and how many
        statuses or posts are still to come."""
        url = f"http://{self.sandbox}/_sandbox/webhooks/sent"
        with urllib.request.urlopen(url) as answer:
            body = json.load(answer)
        return list(body["data"]), int(body["pending"])

    def patch_sandbox_number(self, phone_number_id: str, changes: dict[str, object]) -> None:
        """Changes a number of the sandbox's (``throughput_mps``: what it refuses beyond)."""
        request = urllib.request.Request(
            f"http://{self.sandbox}/_sandbox/phone_numbers/{phone_number_id}",
            data=json.dumps(changes).encode(),
            headers={"Content-Type": "application/json"},
            method="PATCH",
        )
        urllib.request.urlopen(request).close()

    def clear_sandbox_requests(self) -> None:
        request = urllib.request.Request(
            f"http://{self.sandbox}/_sandbox/requests", method="DELETE"
        )
        urllib.request.urlopen(request).close()

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C, as a user stops it."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.log_file.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.log_file.close()


def start_dev_stack(workdir: Path, **settings: str) -> DevStack:
    """``settings``: more environment variables (``MINDO_…``) for every process."""
    http, grpc_, sandbox = (f"127.0.0.1:{free_port()}" for _ in range(3))
    env = {
        **os.environ,
        "MINDO_HTTP_ADDRESS": http,
        "MINDO_GRPC_ADDRESS": grpc_,
        "MINDO_SANDBOX_ADDRESS": sandbox,
        "MINDO_DEMO_API_KEY": DEMO_KEY,
        "MINDO_META_APP_SECRET": APP_SECRET,
        "MINDO_LOG_LEVEL": "WARNING",
        **settings,
    }
    env.pop("MINDO_DATABASE_URL", None)
    env.pop("MINDO_META_BASE_URL", None)
    env.pop("MINDO_SECRET_KEY", None)
    log = workdir / "mindo-dev.log"
    log_file = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mindo_cli", "dev"],
        cwd=workdir,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    stack = DevStack(process, http, grpc_, sandbox, DEMO_KEY, log, log_file)
    try:
        _wait_until_serving(stack)
    except BaseException:
        stack.kill()
        raise
    return stack


def _wait_until_serving(stack: DevStack, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise RuntimeError(f"mindo dev exited early:\n{stack.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{stack.base_url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"mindo dev did not serve in {timeout} s:\n{stack.log.read_text()}")
