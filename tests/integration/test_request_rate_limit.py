"""A key that sends too fast is told to wait (429 with Retry-After), while other keys go on."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from tests.integration.real_stack import real_stack

URL_PATH = "/api/v1/meta-templates/send/"
ORDER = {
    "phone_number_id": "813497231850626",
    "template_name": "order_update",
    "recipient_phone": "+5491112345678",
    "variables": {"order_id": "ORD-1", "status": "listo"},
}


async def test_a_key_over_its_rate_waits_while_another_key_is_served(tmp_path: Path) -> None:
    async with real_stack(tmp_path, key_rate_limit=0.5, key_rate_burst=2) as stack:
        other = await stack.services.api_keys.issue("Mindo Demo", name="other")
        async with aiohttp.ClientSession() as http:
            statuses = []
            for _ in range(3):
                async with http.post(
                    stack.bridge.url + URL_PATH, json=ORDER, headers={"X-API-Key": stack.api_key}
                ) as answer:
                    statuses.append(answer.status)
                    last_body, last_headers = await answer.json(), answer.headers
            async with http.post(
                stack.bridge.url + URL_PATH, json=ORDER, headers={"X-API-Key": other.plaintext}
            ) as answer:
                other_status = answer.status

        assert statuses == [200, 200, 429]
        assert last_body["code"] == "rate_limited"
        assert last_headers["Retry-After"] == "2"
        assert other_status == 200


async def test_over_grpc_the_refusal_is_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    async with real_stack(tmp_path, key_rate_limit=0.5, key_rate_burst=1) as stack:
        await stack.stub.CheckApiKey(pb.CheckApiKeyRequest(), metadata=stack.metadata())
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.stub.CheckApiKey(pb.CheckApiKeyRequest(), metadata=stack.metadata())
        details = from_rpc_error(raised.value)
        assert details.status == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details.retry_after_seconds == 2
