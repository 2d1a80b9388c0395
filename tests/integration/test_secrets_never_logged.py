"""No secret reaches a log line, at any level: not Meta's token, not an API key, not the
secret key, not the app secret."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from mindo_cli.demo import DEMO_ACCESS_TOKEN
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from tests.integration.real_stack import SECRET, real_stack


async def test_a_whole_session_at_debug_level_logs_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with real_stack(tmp_path) as stack:
        issued = await stack.services.api_keys.issue("Mindo Demo", name="logged?")
        await stack.stub.CheckApiKey(pb.CheckApiKeyRequest(), metadata=stack.metadata())
        body = {
            "phone_number_id": "813497231850626",
            "template_name": "order_update",
            "recipient_phone": "+5491112345678",
            "variables": {"order_id": "ORD-1", "status": "ok"},
        }
        async with aiohttp.ClientSession() as http:
            for key in (stack.api_key, issued.plaintext, "mindo_" + "W" * 24):
                async with http.post(
                    f"{stack.bridge.url}/api/v1/meta-templates/send/",
                    json=body,
                    headers={"X-API-Key": key},
                ) as answer:
                    await answer.read()

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert caplog.records, "the session logged nothing: the check would prove nothing"
    for secret in (DEMO_ACCESS_TOKEN, stack.api_key, issued.plaintext, SECRET):
        assert secret not in logged
