"""/webhooks/meta: Meta's handshake, and signed POSTs forwarded byte for byte, or refused.

A refused POST never reaches the service: the fake records every call it gets, so an empty
``fake.received`` means nothing could have been recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from mindo_grpc.status_details import ErrorDetails
from rest_bridge import RunningBridge, WebhookSecrets, start_bridge

from .fake_mindo import FakeMindo

PATH = "/webhooks/meta"
VERIFY_TOKEN = "my-verify-token"
APP_SECRET = "app-secret-from-meta"
SECRETS = WebhookSecrets(verify_token=VERIFY_TOKEN, app_secret=APP_SECRET)
LIMIT = 3 * 1024 * 1024

# Meta's status webhook (meta-cloud-api.md §6.4), with the spacing and the non-ASCII a
# re-serialised copy would lose.
STATUS_PAYLOAD = (
    '{"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", '
    '"changes": [{"value": {"messaging_product": "whatsapp", "metadata": '
    '{"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}, '
    '"statuses": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=", '
    '"status": "sent", "timestamp": "1750030073", "recipient_id": "16505551234", '
    '"biz_opaque_callback_data": "campaña-42"}]},   "field": "messages"}]}]}\n'
).encode()


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _bridge(grpc_target: str, secrets: WebhookSecrets) -> AsyncIterator[RunningBridge]:
    running = await start_bridge(grpc_target, "127.0.0.1", 0, webhook_secrets=secrets)
    yield running
    await running.stop()


@pytest.fixture
async def hooks(grpc_target: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A bridge configured with both secrets."""
    async for running in _bridge(grpc_target, SECRETS):
        async with aiohttp.ClientSession(base_url=running.url) as session:
            yield session


@pytest.fixture
async def unconfigured(grpc_target: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A bridge given neither secret."""
    async for running in _bridge(grpc_target, WebhookSecrets()):
        async with aiohttp.ClientSession(base_url=running.url) as session:
            yield session


# --------------------------------------------------------------------------------------------
# The handshake

Handshake = tuple[int, str, str]


async def handshake(http: aiohttp.ClientSession, params: Mapping[str, str]) -> Handshake:
    async with http.get(PATH, params=params) as response:
        return response.status, response.content_type, await response.text()


def hub(mode: str = "subscribe", token: str = VERIFY_TOKEN) -> dict[str, str]:
    return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"}


async def test_the_handshake_echoes_the_challenge_as_plain_text(
    hooks: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    assert await handshake(hooks, hub()) == (200, "text/plain", "1158201444")
    assert fake.received == []


async def test_the_challenge_comes_back_exactly_as_sent(hooks: aiohttp.ClientSession) -> None:
    params = hub() | {"hub.challenge": "a b+c/d=é"}

    _status, _type, text = await handshake(hooks, params)

    assert text == "a b+c/d=é"


VERIFICATION_FAILED = json.dumps(
    {"error": "Webhook verification failed", "code": "webhook_verification_failed"}
)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(hub(token="not-the-token"), id="wrong token"),
        pytest.param(hub(token=VERIFY_TOKEN + "x"), id="token with a suffix"),
        pytest.param(hub(token=""), id="empty token"),
        pytest.param(hub(mode="unsubscribe"), id="wrong mode"),
        pytest.param({"hub.challenge": "1158201444"}, id="neither mode nor token"),
        pytest.param({"hub.mode": "subscribe", "hub.challenge": "1"}, id="no token"),
    ],
)
async def test_a_handshake_that_does_not_match_is_a_403(
    hooks: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    status, content_type, text = await handshake(hooks, params)

    assert (status, content_type) == (403, "application/json")
    assert json.loads(text) == json.loads(VERIFICATION_FAILED)


async def test_without_a_verify_token_no_handshake_succeeds(
    unconfigured: aiohttp.ClientSession,
) -> None:
    status, _type, _text = await handshake(unconfigured, hub(token=""))

    assert status == 403


# --------------------------------------------------------------------------------------------
# The POSTs

Answer = tuple[int, Any]
Post = Callable[..., Awaitable[Answer]]


@pytest.fixture
def post(hooks: aiohttp.ClientSession) -> Post:
    return _poster(hooks)


def _poster(http: aiohttp.ClientSession) -> Post:
    async def send(
        body: Any, *, signature: str | None, headers: Mapping[str, str] | None = None
    ) -> Answer:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if signature is not None:
            sent["X-Hub-Signature-256"] = signature
        data = io.BytesIO(body) if isinstance(body, bytes) else body
        async with http.post(PATH, data=data, headers=sent) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json()

    return send


async def test_a_signed_post_is_forwarded_byte_for_byte_with_its_signature(
    post: Post, fake: FakeMindo
) -> None:
    signature = sign(STATUS_PAYLOAD)

    status, body = await post(STATUS_PAYLOAD, signature=signature)

    assert (status, body) == (200, {"received": 1})
    forwarded = fake.only("IngestWebhook")
    assert forwarded.request == mindo_pb2.IngestWebhookRequest(
        body=STATUS_PAYLOAD, signature=signature
    )


async def test_the_post_needs_no_api_key_and_forwards_none(post: Post, fake: FakeMindo) -> None:
    headers = {"X-API-Key": "mindo_abcdefghijklmnopqrstuvwx"}

    await post(STATUS_PAYLOAD, signature=sign(STATUS_PAYLOAD), headers=headers)

    assert "x-api-key" not in fake.only("IngestWebhook").metadata


async def test_received_counts_statuses_and_account_events(post: Post, fake: FakeMindo) -> None:
    fake.ingest_reply = mindo_pb2.IngestWebhookResponse(statuses=50, account_events=2)

    _status, body = await post(STATUS_PAYLOAD, signature=sign(STATUS_PAYLOAD))

    assert body == {"received": 52}


async def test_an_uppercase_signature_is_accepted(post: Post, fake: FakeMindo) -> None:
    signature = "sha256=" + sign(STATUS_PAYLOAD).removeprefix("sha256=").upper()

    status, _body = await post(STATUS_PAYLOAD, signature=signature)

    assert status == 200
    assert fake.only("IngestWebhook").request == mindo_pb2.IngestWebhookRequest(
        body=STATUS_PAYLOAD, signature=signature
    )


def _refused(reason: str) -> dict[str, str]:
    return {"error": f"Webhook refused: {reason}", "code": "webhook_signature_invalid"}


MISMATCH = _refused("the signature does not match the body")
MISSING = _refused("missing X-Hub-Signature-256")


@pytest.mark.parametrize(
    ("body", "signature", "answer"),
    [
        pytest.param(STATUS_PAYLOAD, sign(STATUS_PAYLOAD, "another-secret"), MISMATCH, id="forged"),
        pytest.param(STATUS_PAYLOAD + b" ", sign(STATUS_PAYLOAD), MISMATCH, id="body altered"),
        pytest.param(
            STATUS_PAYLOAD.replace(b'"sent"', b'"read"'), sign(STATUS_PAYLOAD), MISMATCH, id="edit"
        ),
        pytest.param(STATUS_PAYLOAD, None, MISSING, id="missing"),
        pytest.param(STATUS_PAYLOAD, "", MISSING, id="empty"),
        pytest.param(
            STATUS_PAYLOAD, sign(STATUS_PAYLOAD).removeprefix("sha256="), MISSING, id="no prefix"
        ),
        pytest.param(STATUS_PAYLOAD, "sha256=", MISMATCH, id="no digest"),
        pytest.param(STATUS_PAYLOAD, "sha256=zz", MISMATCH, id="not hex"),
        pytest.param(STATUS_PAYLOAD, sign(STATUS_PAYLOAD)[:-1], MISMATCH, id="one character short"),
    ],
)
async def test_a_post_not_signed_by_the_app_secret_is_refused_and_not_forwarded(
    post: Post, fake: FakeMindo, body: bytes, signature: str | None, answer: object
) -> None:
    status, refused = await post(body, signature=signature)

    assert (status, refused) == (401, answer)
    assert fake.received == []


async def test_without_an_app_secret_every_post_is_refused(
    unconfigured: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    # Signed with the empty key, which must not count as a configured secret.
    status, body = await _poster(unconfigured)(STATUS_PAYLOAD, signature=sign(STATUS_PAYLOAD, ""))

    assert status == 401
    assert body == _refused("no app secret is configured (MINDO_META_APP_SECRET)")
    assert fake.received == []


async def test_a_body_of_exactly_three_mebibytes_is_forwarded(post: Post, fake: FakeMindo) -> None:
    body = b" " * (LIMIT - len(STATUS_PAYLOAD)) + STATUS_PAYLOAD

    status, _body = await post(body, signature=sign(body))

    assert status == 200
    forwarded = mindo_pb2.IngestWebhookRequest(body=body, signature=sign(body))
    assert fake.only("IngestWebhook").request == forwarded


TOO_LARGE = {"error": f"Request body exceeds {LIMIT} bytes.", "code": "payload_too_large"}


async def test_a_signed_body_over_three_mebibytes_is_a_413_and_not_forwarded(
    post: Post, fake: FakeMindo
) -> None:
    body = b" " * (LIMIT + 1 - len(STATUS_PAYLOAD)) + STATUS_PAYLOAD

    assert await post(body, signature=sign(body)) == (413, TOO_LARGE)
    assert fake.received == []


async def test_a_chunked_body_over_three_mebibytes_is_a_413(post: Post, fake: FakeMindo) -> None:
    chunk = b" " * (1024 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield chunk

    assert await post(chunks(), signature=sign(chunk * 4)) == (413, TOO_LARGE)
    assert fake.received == []


async def test_the_service_refusing_the_signature_is_a_401(post: Post, fake: FakeMindo) -> None:
    # The service is the authority: configured with another secret, it has the last word.
    fake.errors["IngestWebhook"] = ErrorDetails(
        status=grpc.StatusCode.UNAUTHENTICATED,
        message="Webhook refused: the signature does not match the body",
        code="webhook_signature_invalid",
    )

    status, body = await post(STATUS_PAYLOAD, signature=sign(STATUS_PAYLOAD))

    assert (status, body) == (401, MISMATCH)


async def test_a_payload_the_service_cannot_read_is_a_400(post: Post, fake: FakeMindo) -> None:
    fake.errors["IngestWebhook"] = ErrorDetails(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        message="The webhook body is not JSON",
        code="invalid_request",
    )
    body = b"not json"

    status, answer = await post(body, signature=sign(body))

    assert (status, answer) == (
        400,
        {"error": "The webhook body is not JSON", "code": "invalid_request"},
    )
    forwarded = mindo_pb2.IngestWebhookRequest(body=body, signature=sign(body))
    assert fake.only("IngestWebhook").request == forwarded


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_another_method_is_a_405(hooks: aiohttp.ClientSession, method: str) -> None:
    async with hooks.request(method, PATH) as response:
        assert response.status == 405
        assert set(response.headers["Allow"].split(",")) == {"GET", "POST"}


# --------------------------------------------------------------------------------------------
# The secrets


def test_the_secrets_are_read_from_the_environment_as_they_are() -> None:
    environ = {"MINDO_META_VERIFY_TOKEN": "token ", "MINDO_META_APP_SECRET": "s3cret"}

    assert WebhookSecrets.from_env(environ) == WebhookSecrets(
        verify_token="token ", app_secret="s3cret"
    )
    assert WebhookSecrets.from_env({}) == WebhookSecrets(verify_token="", app_secret="")


def test_the_secrets_never_show_in_a_repr() -> None:
    shown = repr(WebhookSecrets(verify_token="token-value", app_secret="secret-value"))

    assert "token-value" not in shown
    assert "secret-value" not in shown
