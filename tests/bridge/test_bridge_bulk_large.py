"""A bulk of the largest size, 100,000 recipients, crosses the bridge whole; one more does not.

The gRPC server here accepts messages up to 64 MiB, as the real one must for SendBulk: gRPC's
default of 4 MiB holds about 40,000 recipients.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2, mindo_pb2_grpc

from .conftest import Post
from .fake_mindo import FakeMindo

pytestmark = pytest.mark.slow

BULK_PATH = "/api/v1/meta-templates/send-bulk/"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@pytest.fixture
async def grpc_target(fake: FakeMindo) -> AsyncIterator[str]:
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
    mindo_pb2_grpc.add_MindoServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


def recipient(n: int) -> dict[str, object]:
    return {
        "phone": f"+54911{n:08d}",
        "variables": {"name": f"Cliente número {n}", "code": f"C{n:06d}"},
        "button_variables": {"button_0": f"ORD-{n}"},
    }


def bulk_body(count: int) -> bytes:
    return json.dumps(
        {
            "phone_number_id": "813497231850626",
            "template_name": "order_update",
            "recipients": [recipient(n) for n in range(count)],
        }
    ).encode()


async def test_one_hundred_thousand_recipients_reach_the_service_intact(
    post: Post, fake: FakeMindo
) -> None:
    status, _headers, body = await post(raw=bulk_body(100_000), path=BULK_PATH)

    assert status == 202, body
    request = fake.only("SendBulk").request
    assert isinstance(request, mindo_pb2.SendBulkRequest)
    assert len(request.recipients) == 100_000
    for n in (0, 1, 54_321, 99_999):
        assert request.recipients[n] == mindo_pb2.BulkRecipient(**recipient(n))  # type: ignore[arg-type]


async def test_one_more_is_refused_before_the_service_is_asked(post: Post, fake: FakeMindo) -> None:
    body = {"phone_number_id": "1", "template_name": "t", "recipients": [{"phone": "+1"}] * 100_001}
    status, _headers, body = await post(body, path=BULK_PATH)

    assert status == 400
    assert body["code"] == "too_many_recipients"
    assert "SendBulk" not in fake.methods()
