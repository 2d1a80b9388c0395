"""A gRPC client in another language: Node's @grpc/grpc-js calls SendMessage from the .proto."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.integration.real_stack import real_stack

NODE_CLIENT = Path(__file__).parent / "node_client"
PROTO = Path(__file__).parents[2] / "protos" / "mindo" / "v1" / "mindo.proto"


async def _node(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_CLIENT / "send_message.mjs"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.fixture(autouse=True)
def _node_client_installed() -> None:
    if shutil.which("node") is None or not (NODE_CLIENT / "node_modules").is_dir():
        pytest.fail("run `make test` (it installs the Node client with npm ci) or `npm ci` there")


async def test_node_sends_a_message_over_grpc(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        code, out, err = await _node(stack.grpc_server.target, stack.api_key, str(PROTO))

        assert code == 0, err
        answer = json.loads(out)
        assert answer["message_id"].startswith("wamid.")
        assert answer["status"] == "sent"
        assert answer["recipient_phone"] == "+5491112345678"
        assert [p["template"]["name"] for p in stack.sent_payloads()] == ["order_update"]


async def test_node_sees_the_documented_refusal_of_a_bad_key(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        code, _, err = await _node(stack.grpc_server.target, "mindo_" + "0" * 24, str(PROTO))

    assert code == 1
    assert json.loads(err) == {"code": 16, "details": "API Key expirada"}
