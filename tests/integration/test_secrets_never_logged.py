"""No secret or personal data reaches a log line, at any level: not Meta's token, an API key or
its hash, the secret key or the app secret; not a recipient's phone, nor a template variable."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from mindo_cli.demo import DEMO_ACCESS_TOKEN
from mindo_core.access.api_keys import hash_key
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_sandbox.webhook_config import StatusDelays, StatusShares, WebhookConfig
from tests.bulk_fakes import eventually
from tests.integration.real_stack import APP_SECRET, SECRET, RealStack, real_stack


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


PHONE = "+5491176543210"
BULK_PHONES = tuple(f"+54911700099{i:02d}" for i in range(12))
VARIABLE = "Zq7-unlogged-variable"


def _forms(phone: str) -> tuple[str, ...]:
    """How a phone may appear: E.164, Meta's wa_id, and its national digits."""
    digits = phone.removeprefix("+")
    return (phone, digits, digits[-8:])


async def test_a_send_a_bulk_and_their_webhooks_at_debug_log_no_phone_key_or_variable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with real_stack(tmp_path) as stack:
        stack.sandbox.state.set_webhooks(
            WebhookConfig(
                callback_url=f"{stack.bridge.url}/webhooks/meta",
                app_secret=APP_SECRET,
                delays_ms=StatusDelays(sent=(1.0, 2.0), delivered=(2.0, 4.0), read=(4.0, 6.0)),
                flush_interval_ms=5.0,
                shares=StatusShares(delivered=1.0, read=1.0),
            )
        )
        await stack.services.bulk_engine.start()
        stack.services.status_writer.start()
        try:
            await _send_one_and_a_bulk(stack)
        finally:
            await stack.services.bulk_engine.stop()
            await stack.services.status_writer.stop()

    logged = "\n".join(_rendered(record) for record in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records), "DEBUG was not on"
    assert "/webhooks/meta" in logged, "no webhook was logged: the check would prove little"
    forbidden = {
        "the Meta token": DEMO_ACCESS_TOKEN,
        "the API key": stack.api_key,
        "the API key's hash": hash_key(stack.api_key),
        "the secret key": SECRET,
        "the app secret": APP_SECRET,
        "a template variable": VARIABLE,
        **{f"the phone {form}": form for p in (PHONE, *BULK_PHONES) for form in _forms(p)},
    }
    leaks = {what: _around(logged, value) for what, value in forbidden.items() if value in logged}
    assert leaks == {}


async def _send_one_and_a_bulk(stack: RealStack) -> None:
    headers = {"X-API-Key": stack.api_key}
    api = f"{stack.bridge.url}/api/v1/meta-templates"
    single = {
        "phone_number_id": "813497231850626",
        "template_name": "order_update",
        "recipient_phone": PHONE,
        "variables": {"order_id": VARIABLE, "status": "ok"},
    }
    bulk = {
        "phone_number_id": "813497231850626",
        "template_name": "order_update",
        "recipients": [
            {"phone": p, "variables": {"order_id": VARIABLE, "status": "ok"}} for p in BULK_PHONES
        ],
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api}/send/", json=single, headers=headers) as answer:
            assert answer.status == 200, await answer.text()
            wamid = (await answer.json())["message_id"]
        async with http.post(f"{api}/send-bulk/", json=bulk, headers=headers) as answer:
            assert answer.status == 202, await answer.text()
            bulk_id = (await answer.json())["bulk_send_id"]

        async def everything_read() -> bool:
            async with http.get(f"{api}/bulk-sends/{bulk_id}/", headers=headers) as answer:
                status = await answer.json()
            async with http.get(f"{api}/messages/{wamid}/", headers=headers) as answer:
                single_status = (await answer.json())["delivery_status"]["current"]
            return bool(status["read_count"] == len(BULK_PHONES) and single_status == "read")

        await eventually(everything_read, limit=30.0, every=0.05)
        url = f"{api}/bulk-sends/{bulk_id}/messages/?format=csv"
        async with http.get(url, headers=headers) as answer:
            assert answer.status == 200


def _rendered(record: logging.LogRecord) -> str:
    text = f"{record.name} {record.getMessage()} {record.exc_text or ''} {record.args!r}"
    if record.exc_info and record.exc_info[1] is not None:
        text += f" {record.exc_info[1]!r}"
    return text


def _around(logged: str, value: str) -> str:
    at = logged.index(value)
    return logged[max(0, at - 150) : at + 50]
