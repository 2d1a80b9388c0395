"""Delivery tracking over the real stack: the sandbox posts signed status webhooks to the REST
bridge over HTTP, the bridge forwards them to IngestWebhook over gRPC, the service writes them
to a SQLite file, and GetMessage / the Message status page show them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp
import grpc
import pytest

from mindo_core.delivery.webhook_payloads import sign
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from mindo_sandbox.webhook_config import StatusDelays, StatusShares, WebhookConfig
from tests.bulk_fakes import eventually
from tests.integration.real_stack import APP_SECRET, RealStack, real_stack
from tests.webhook_bodies import status_item, statuses_body

NUMBER = "813497231850626"
WABA = "104996122399160"
FAST = StatusDelays(sent=(5.0, 10.0), delivered=(20.0, 40.0), read=(50.0, 80.0))


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        yield running


def webhooks_to(stack: RealStack, **changes: object) -> None:
    config = WebhookConfig(
        callback_url=f"{stack.bridge.url}/webhooks/meta",
        app_secret=APP_SECRET,
        delays_ms=FAST,
        flush_interval_ms=10.0,
        **changes,  # type: ignore[arg-type]
    )
    stack.sandbox.state.set_webhooks(config)


async def send(stack: RealStack, phone: str = "+54 9 11 1234-5678") -> str:
    request = pb.SendMessageRequest(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone=phone,
        variables={"name": "Juan Perez", "code": "ABC123"},
        button_variables={"button_0": "ABC-123"},
    )
    answer = await stack.stub.SendMessage(request, metadata=stack.metadata())
    return answer.message_id


async def message(stack: RealStack, wamid: str) -> pb.Message:
    request = pb.GetMessageRequest(message_id=wamid)
    reply: pb.Message = await stack.stub.GetMessage(request, metadata=stack.metadata())
    return reply


async def test_a_read_message_shows_every_step_over_rest(stack: RealStack) -> None:
    webhooks_to(stack, shares=StatusShares(delivered=1.0, read=1.0))
    wamid = await send(stack)

    async def is_read() -> bool:
        return (await message(stack, wamid)).delivery_status.current == "read"

    await eventually(is_read)
    url = f"{stack.bridge.url}/api/v1/meta-templates/messages/{quote(wamid, safe='')}/"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"X-API-Key": stack.api_key}) as response,
    ):
        body = await response.json()
    assert response.status == 200
    assert body["meta_message_id"] == wamid
    assert body["was_successful"] is True
    assert body["template"]["name"] == "welcome_message"
    assert body["template"]["category"] == "MARKETING"
    status = body["delivery_status"]
    assert status["current"] == "read"
    assert status["sent_at"] <= status["delivered_at"] <= status["read_at"]
    assert status["failed_at"] is None
    assert status["error_code"] is None


async def test_an_asynchronous_failure_is_recorded_with_meta_code(stack: RealStack) -> None:
    webhooks_to(stack, failures={"5491112345678": 131026})
    wamid = await send(stack)

    async def failed() -> bool:
        return (await message(stack, wamid)).delivery_status.current == "failed"

    await eventually(failed)
    shown = await message(stack, wamid)
    assert shown.delivery_status.error_code == 131026
    assert shown.delivery_status.error_message
    assert shown.was_successful  # Meta accepted the send; delivery failed later
    assert shown.error_message == ""


async def test_another_organisations_key_sees_no_message(stack: RealStack) -> None:
    wamid = await send(stack)
    other_key = await _key_of_another_organisation(stack)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.GetMessage(
            pb.GetMessageRequest(message_id=wamid), metadata=stack.metadata(other_key)
        )
    details = from_rpc_error(raised.value)
    assert details.status == grpc.StatusCode.NOT_FOUND
    assert details.code == "message_not_found"


async def test_ingest_webhook_refuses_a_forged_signature_over_grpc(stack: RealStack) -> None:
    wamid = await send(stack)
    body = statuses_body(WABA, NUMBER, [status_item(wamid, "read", _now())])

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.IngestWebhook(
            pb.IngestWebhookRequest(body=body, signature=sign(body, "not-the-secret"))
        )

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (await message(stack, wamid)).delivery_status.current == "sent"


async def test_ingest_webhook_needs_no_api_key_and_counts_what_it_read(
    stack: RealStack,
) -> None:
    wamid = await send(stack)
    body = statuses_body(
        WABA, NUMBER, [status_item(wamid, "delivered", _now()), status_item(wamid, "read", _now())]
    )

    reply = await stack.stub.IngestWebhook(
        pb.IngestWebhookRequest(body=body, signature=sign(body, APP_SECRET))
    )

    assert (reply.statuses, reply.account_events) == (2, 0)
    assert (await message(stack, wamid)).delivery_status.current == "read"


async def test_a_signature_with_non_ascii_characters_is_unauthenticated(
    stack: RealStack,
) -> None:
    wamid = await send(stack)
    body = statuses_body(WABA, NUMBER, [status_item(wamid, "read", _now())])

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.IngestWebhook(
            pb.IngestWebhookRequest(body=body, signature="sha256=" + "é" * 64)
        )

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (await message(stack, wamid)).delivery_status.current == "sent"


async def test_json_nested_beyond_reason_is_invalid_not_internal(stack: RealStack) -> None:
    body = b"[" * 200_000 + b"]" * 200_000

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.IngestWebhook(
            pb.IngestWebhookRequest(body=body, signature=sign(body, APP_SECRET))
        )

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_status_with_an_absurd_error_code_fails_only_itself(stack: RealStack) -> None:
    wamid = await send(stack)
    absurd = status_item("wamid.absurd", "failed", _now(), error_code=2**80)
    body = statuses_body(WABA, NUMBER, [status_item(wamid, "read", _now()), absurd])

    reply = await stack.stub.IngestWebhook(
        pb.IngestWebhookRequest(body=body, signature=sign(body, APP_SECRET))
    )

    assert reply.statuses == 1
    assert (await message(stack, wamid)).delivery_status.current == "read"


def _now() -> datetime:
    return datetime.now(UTC)


async def _key_of_another_organisation(stack: RealStack) -> str:
    services = stack.services
    await services.organisations.create("Other Org")
    issued = await services.api_keys.issue("Other Org")
    return issued.plaintext


# -- account events, from the sandbox over HTTP ------------------------------------------------


def order_bulk(count: int, *, pacing: str = "") -> pb.SendBulkRequest:
    recipients = [
        pb.BulkRecipient(
            phone=f"+54911{50_000_000 + i}",
            variables={"order_id": f"ORD-{i}", "status": "listo"},
        )
        for i in range(count)
    ]
    return pb.SendBulkRequest(
        phone_number_id=NUMBER, template_name="order_update", recipients=recipients, pacing=pacing
    )


async def sandbox_event(stack: RealStack, name: str, event: dict[str, object]) -> None:
    url = f"{stack.sandbox.url}/_sandbox/events/{name}"
    async with aiohttp.ClientSession() as http, http.post(url, json=event) as answer:
        assert answer.status == 200, await answer.text()


async def test_a_template_paused_by_meta_mid_bulk_stops_it_with_the_reason(
    stack: RealStack,
) -> None:
    webhooks_to(stack)
    await stack.services.bulk_engine.start()
    accepted = await stack.stub.SendBulk(order_bulk(200, pacing="20"), metadata=stack.metadata())

    async def started() -> bool:
        bulk = await stack.stub.GetBulk(
            pb.GetBulkRequest(bulk_send_id=accepted.bulk_send_id), metadata=stack.metadata()
        )
        return bulk.sent_count > 0

    await eventually(started)
    pause = {"name": "order_update", "language": "es", "event": "PAUSED", "reason": "SCAM"}
    await sandbox_event(stack, "template_status", pause)

    async def stopped() -> bool:
        bulk = await stack.stub.GetBulk(
            pb.GetBulkRequest(bulk_send_id=accepted.bulk_send_id), metadata=stack.metadata()
        )
        # Over, and the sends that were in flight when it stopped have come back.
        return bulk.status not in ("QUEUED", "PROCESSING") and bulk.pending_count == 0

    await eventually(stopped)
    bulk = await stack.stub.GetBulk(
        pb.GetBulkRequest(bulk_send_id=accepted.bulk_send_id), metadata=stack.metadata()
    )
    # Whichever tells first: the webhook, or Meta refusing the next send with 132015.
    assert "order_update" in bulk.stop_reason
    assert "paused" in bulk.stop_reason.lower()
    assert bulk.pending_count == 0
    assert 0 < bulk.sent_count < 200
    assert bulk.status == "PARTIAL"
    # Every recipient is accounted for: the ones never sent are cancelled, with the reason.
    assert bulk.cancelled_count > 0
    assert bulk.sent_count + bulk.failed_count + bulk.cancelled_count == 200
    assert bulk.total_recipients == bulk.unique_recipients == 200
    listing = pb.ListBulkMessagesRequest(
        bulk_send_id=accepted.bulk_send_id, status="cancelled", page_size=100
    )
    cancelled = await stack.stub.ListBulkMessages(listing, metadata=stack.metadata())
    assert cancelled.count == bulk.cancelled_count
    assert {m.status for m in cancelled.results} == {"cancelled"}
    assert {m.error_message for m in cancelled.results} == {bulk.stop_reason}


async def test_a_tier_raised_by_meta_shows_in_the_next_quota(stack: RealStack) -> None:
    webhooks_to(stack)
    before = await stack.stub.SendBulk(order_bulk(1), metadata=stack.metadata())
    assert before.quota_info.tier == "TIER_2000"

    await sandbox_event(
        stack,
        "business_capability_update",
        {"waba_id": WABA, "max_daily_conversations_per_business": 10000},
    )

    async def raised() -> bool:
        after = await stack.stub.SendBulk(order_bulk(1), metadata=stack.metadata())
        return after.quota_info.tier == "TIER_10000"

    await eventually(raised)


async def test_ingest_webhooks_answers_each_post_of_a_batch_on_its_own(
    stack: RealStack,
) -> None:
    wamid = await send(stack)
    good = statuses_body(WABA, NUMBER, [status_item(wamid, "delivered", _now())])
    forged = statuses_body(WABA, NUMBER, [status_item(wamid, "read", _now())])
    posts = [
        pb.IngestWebhookRequest(body=good, signature=sign(good, APP_SECRET)),
        pb.IngestWebhookRequest(body=forged, signature=sign(forged, "not-the-secret")),
        pb.IngestWebhookRequest(body=b"{}", signature=sign(b"{}", APP_SECRET)),
    ]

    reply = await stack.stub.IngestWebhooks(pb.IngestWebhooksRequest(posts=posts))

    accepted, refused, unreadable = reply.results
    assert (accepted.statuses, accepted.grpc_code, accepted.error_code) == (1, 0, "")
    assert refused.grpc_code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert refused.error_code == "webhook_signature_invalid"
    assert unreadable.grpc_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert (await message(stack, wamid)).delivery_status.current == "delivered"


async def test_a_bulk_waiting_for_quota_goes_on_when_meta_raises_the_tier(
    stack: RealStack,
) -> None:
    webhooks_to(stack)
    await stack.services.bulk_engine.start()
    limit = {"waba_id": WABA, "max_daily_conversations_per_business": 250}
    await sandbox_event(stack, "business_capability_update", limit)

    async def lowered() -> bool:
        listed = await stack.stub.ListBusinessAccounts(
            pb.ListBusinessAccountsRequest(), metadata=stack.metadata()
        )
        tiers = {n.messaging_limit_tier for a in listed.business_accounts for n in a.phone_numbers}
        return tiers == {"TIER_250"}

    await eventually(lowered)
    accepted = await stack.stub.SendBulk(order_bulk(260), metadata=stack.metadata())
    assert (accepted.quota_info.can_send, accepted.quota_info.quota_available) == (False, 250)
    assert accepted.estimated_time_minutes > 23 * 60
    ask = pb.GetBulkRequest(bulk_send_id=accepted.bulk_send_id)

    async def room_used() -> bool:
        bulk = await stack.stub.GetBulk(ask, metadata=stack.metadata())
        return bulk.sent_count == 250

    await eventually(room_used)
    limit = {"waba_id": WABA, "max_daily_conversations_per_business": 100_000}
    await sandbox_event(stack, "business_capability_update", limit)

    async def completed() -> bool:
        bulk = await stack.stub.GetBulk(ask, metadata=stack.metadata())
        return bulk.status == "COMPLETED"

    await eventually(completed)
    bulk = await stack.stub.GetBulk(ask, metadata=stack.metadata())
    assert bulk.sent_count == 260
    assert bulk.estimated_time_minutes < 1.0
