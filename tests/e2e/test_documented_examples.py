"""`make run` as a user meets it: the Send message page's examples run verbatim against
`mindo dev` (only host and key swapped), each message is recorded, and the sandbox received
exactly the payload Meta expects. Ctrl-C then stops everything cleanly."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.documented_examples import Example, examples
from tests.e2e.stack import DevStack, start_dev_stack

pytestmark = pytest.mark.slow

SEND_MESSAGE_EXAMPLES = examples("send_message_page.md")
WELCOME_FULL = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "5491112345678",
    "type": "template",
    "template": {
        "name": "welcome_message",
        "language": {"code": "es", "policy": "deterministic"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "parameter_name": "name", "text": "Juan Perez"},
                    {"type": "text", "parameter_name": "code", "text": "ABC123"},
                ],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "ABC-123"}],
            },
        ],
    },
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    running = start_dev_stack(tmp_path_factory.mktemp("mindo-dev"))
    try:
        yield running
    finally:
        running.kill()


def _run(example: Example, stack: DevStack, workdir: Path) -> str:
    code = example.runnable(stack.base_url, stack.api_key)
    if example.language == "bash":
        argv = ["bash", "-c", code]
    elif example.language == "python":
        argv = [sys.executable, "-c", code]
    else:
        script = workdir / f"example_{example.index}.mjs"
        script.write_text(code)
        argv = ["node", str(script)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{example.language} example failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.mark.parametrize(
    "example", SEND_MESSAGE_EXAMPLES, ids=[f"{e.index}-{e.language}" for e in SEND_MESSAGE_EXAMPLES]
)
def test_every_send_message_example_works_verbatim(
    example: Example, stack: DevStack, tmp_path: Path
) -> None:
    if example.language == "javascript" and shutil.which("node") is None:
        pytest.fail("node is needed to run the documented JavaScript examples")
    stack.clear_sandbox_requests()

    output = _run(example, stack, tmp_path)

    assert "wamid." in output
    received = [r for r in stack.sandbox_requests() if str(r.get("path", "")).endswith("/messages")]
    assert len(received) == 1
    assert received[0]["body"]["to"] == "5491112345678"  # type: ignore[index]


def test_the_sandbox_received_exactly_the_payload_meta_expects(stack: DevStack) -> None:
    stack.clear_sandbox_requests()
    body = json.dumps(
        {
            "phone_number_id": "813497231850626",
            "template_name": "welcome_message",
            "language": "es",
            "recipient_phone": "+5491112345678",
            "variables": {"name": "Juan Perez", "code": "ABC123"},
            "button_variables": {"button_0": "ABC-123"},
        }
    ).encode()
    request = urllib.request.Request(
        f"{stack.base_url}/api/v1/meta-templates/send/",
        data=body,
        headers={"X-API-Key": stack.api_key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        sent = json.load(answer)

    assert sent["success"] is True
    assert sent["status"] == "sent"
    assert sent["recipient_phone"] == "+5491112345678"
    (received,) = stack.sandbox_requests()
    assert received["body"] == WELCOME_FULL
    assert received["wamid"] == sent["message_id"]


def test_ctrl_c_stops_everything_cleanly(tmp_path: Path) -> None:
    running = start_dev_stack(tmp_path)
    assert running.interrupt() == 0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{running.base_url}/healthz", timeout=1)


def test_killing_mindo_dev_outright_stops_its_children_too(tmp_path: Path) -> None:
    """SIGKILL runs no handler in the supervisor; the children must not live on as orphans
    holding the ports."""
    running = start_dev_stack(tmp_path)
    addresses = (running.http, running.grpc, running.sandbox)

    running.kill()

    deadline = time.monotonic() + 20  # a safety bound: the children stop gracefully
    while time.monotonic() < deadline and any(_accepts(a) for a in addresses):
        time.sleep(0.1)
    assert not any(_accepts(a) for a in addresses)


def _accepts(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


SEND_BULK_EXAMPLES = examples("send_bulk_page.md")
FINAL_STATUSES = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}


def _get(stack: DevStack, path: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"{stack.base_url}{path}", headers={"X-API-Key": stack.api_key}
    )
    with urllib.request.urlopen(request) as answer:
        body: dict[str, object] = json.load(answer)
    return body


@pytest.mark.parametrize(
    "example", SEND_BULK_EXAMPLES, ids=[f"{e.index}-{e.language}" for e in SEND_BULK_EXAMPLES]
)
def test_every_send_bulk_example_works_verbatim_and_completes(
    example: Example, stack: DevStack, tmp_path: Path
) -> None:
    stack.clear_sandbox_requests()
    _run(example, stack, tmp_path)

    newest = _get(stack, "/api/v1/meta-templates/bulk-sends/?page_size=1")["results"][0]  # type: ignore[index]
    deadline = time.monotonic() + 60
    bulk = _get(stack, f"/api/v1/meta-templates/bulk-sends/{newest['id']}/")
    while bulk["status"] not in FINAL_STATUSES:
        assert time.monotonic() < deadline, f"the bulk did not finish: {bulk}"
        time.sleep(0.2)
        bulk = _get(stack, f"/api/v1/meta-templates/bulk-sends/{newest['id']}/")

    sends = [r for r in stack.sandbox_requests() if str(r["path"]).endswith("/messages")]
    assert bulk["status"] == "COMPLETED"
    assert bulk["sent_count"] == bulk["total_recipients"] == len(sends)
    assert (bulk["failed_count"], bulk["pending_count"]) == (0, 0)
