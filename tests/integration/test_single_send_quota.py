"""The quota on single sends over the real stack: with the organisation's 24 h limit reached, a
new recipient is refused before Meta (REST 429 ``quota_exceeded`` with ``frees_at`` and
Retry-After; gRPC RESOURCE_EXHAUSTED with RetryInfo), one already messaged still goes, and
business-accounts shows the same count."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import grpc
import pytest

from mindo_core.adapters.sql import open_stores
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from tests.integration.real_stack import RealStack, real_stack

SEND = "/api/v1/meta-templates/send/"
ACCOUNTS = "/api/v1/business-accounts/"
NUMBER = "813497231850626"
LIMIT = 50


def order(recipient: str) -> dict[str, object]:
    return {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipient_phone": recipient,
        "variables": {"order_id": "ORD-1", "status": "listo"},
    }


def phone(i: int) -> str:
    return f"+54911{i:08d}"


async def lower_the_tier_to_50(stack: RealStack) -> None:
    stores = await open_stores(f"sqlite:///{stack.database}")
    try:
        for account in await stores.accounts.list_business_accounts():
            for number in await stores.accounts.list_phone_numbers(account.id):
                await stores.accounts.update_phone_number_limits(
                    number.id, messaging_limit_tier="TIER_50"
                )
    finally:
        await stores.close()


async def fill_the_window(stack: RealStack) -> None:
    for i in range(LIMIT):
        request = pb.SendMessageRequest(
            phone_number_id=NUMBER,
            template_name="order_update",
            recipient_phone=phone(i),
            variables={"order_id": "ORD-1", "status": "listo"},
        )
        await stack.stub.SendMessage(request, metadata=stack.metadata())


async def test_over_rest_a_new_recipient_beyond_the_limit_is_a_documented_429(
    tmp_path: Path,
) -> None:
    async with real_stack(tmp_path) as stack:
        await lower_the_tier_to_50(stack)
        await fill_the_window(stack)
        headers = {"X-API-Key": stack.api_key}
        async with aiohttp.ClientSession(base_url=stack.bridge.url) as http:
            async with http.get(ACCOUNTS, headers=headers) as answer:
                listed = await answer.json()
            async with http.post(SEND, json=order(phone(999)), headers=headers) as answer:
                refused, body, retry_after = answer.status, await answer.json(), answer.headers
            async with http.post(SEND, json=order(phone(3)), headers=headers) as answer:
                again = answer.status

        quota = listed["phoneNumbers"][0]["quota"]
        assert (quota["uniqueNumbersSent24h"], quota["remaining"], quota["canSend"]) == (
            LIMIT,
            0,
            False,
        )
        assert refused == 429
        assert set(body) == {"error", "code", "frees_at"}
        assert body["code"] == "quota_exceeded"
        frees_at = datetime.fromisoformat(body["frees_at"])
        seconds = (frees_at - datetime.now(UTC)).total_seconds()
        # The first of the 50 frees its slot 24 hours after it was sent.
        assert 86_000 < seconds <= 86_400
        assert abs(int(retry_after["Retry-After"]) - seconds) <= 5
        assert again == 200
        sent = stack.sent_payloads()
        assert len(sent) == LIMIT + 1
        assert all(p["to"] != phone(999).removeprefix("+") for p in sent)


async def test_over_grpc_the_refusal_is_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        await lower_the_tier_to_50(stack)
        await fill_the_window(stack)
        request = pb.SendMessageRequest(
            phone_number_id=NUMBER,
            template_name="order_update",
            recipient_phone=phone(999),
            variables={"order_id": "ORD-1", "status": "listo"},
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.stub.SendMessage(request, metadata=stack.metadata())

        details = from_rpc_error(raised.value)
        assert details.status == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details.code == "quota_exceeded"
        assert details.retry_after_seconds is not None
        assert 86_000 < details.retry_after_seconds <= 86_400
        assert datetime.fromisoformat(details.metadata["frees_at"]) > datetime.now(UTC)
