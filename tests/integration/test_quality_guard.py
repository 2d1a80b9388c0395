"""The quality guard over the real stack: the sandbox posts Meta's signed account webhooks to the
REST bridge, the service applies them, and the organisation's bulks on the number (or with the
template) pause by themselves with a pause_reason, shown over gRPC (GetBulk, WatchBulk) and REST
(status, listing), until a user resumes them; with the policy "continue" they carry on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mindo_cli.demo import DEMO_ORGANISATION
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_sandbox.webhook_config import StatusDelays, WebhookConfig
from tests.bulk_fakes import eventually
from tests.integration.real_stack import APP_SECRET, RealStack, real_stack

NUMBER = "813497231850626"
API = "/api/v1/meta-templates"
FAST = StatusDelays(sent=(5.0, 10.0), delivered=(20.0, 40.0), read=(50.0, 80.0))


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        running.sandbox.state.set_webhooks(
            WebhookConfig(
                callback_url=f"{running.bridge.url}/webhooks/meta",
                app_secret=APP_SECRET,
                delays_ms=FAST,
                flush_interval_ms=10.0,
            )
        )
        await running.services.bulk_engine.start()
        try:
            yield running
        finally:
            await running.services.bulk_engine.stop()


def order_bulk(count: int, *, language: str = "es", first: int = 0) -> pb.SendBulkRequest:
    recipients = [
        pb.BulkRecipient(phone=f"+54911{50_000_000 + first + i}", variables={"order_id": "A1"})
        for i in range(count)
    ]
    for recipient in recipients:
        recipient.variables["status"] = "listo"
    return pb.SendBulkRequest(
        phone_number_id=NUMBER,
        template_name="order_update",
        language=language,
        recipients=recipients,
        pacing="2",
    )


async def sandbox_event(stack: RealStack, name: str, event: dict[str, object]) -> None:
    url = f"{stack.sandbox.url}/_sandbox/events/{name}"
    async with aiohttp.ClientSession() as http, http.post(url, json=event) as answer:
        assert answer.status == 200, await answer.text()


async def bulk(stack: RealStack, bulk_id: str) -> pb.Bulk:
    found: pb.Bulk = await stack.stub.GetBulk(
        pb.GetBulkRequest(bulk_send_id=bulk_id), metadata=stack.metadata()
    )
    return found


async def started(stack: RealStack, bulk_id: str) -> None:
    async def sent_some() -> bool:
        return (await bulk(stack, bulk_id)).sent_count > 0

    await eventually(sent_some, limit=30)


async def paused(stack: RealStack, bulk_id: str) -> pb.Bulk:
    async def is_paused() -> bool:
        return (await bulk(stack, bulk_id)).status == "PAUSED"

    await eventually(is_paused, limit=30)
    return await bulk(stack, bulk_id)


async def rest(
    stack: RealStack, http: aiohttp.ClientSession, method: str, path: str, body: object = None
) -> tuple[int, Any]:
    url = f"{stack.bridge.url}{API}{path}"
    headers = {"X-API-Key": stack.api_key}
    async with http.request(method, url, json=body, headers=headers) as answer:
        return answer.status, await answer.json()


async def test_a_flagged_number_pauses_its_running_and_scheduled_bulks_until_resumed(
    stack: RealStack,
) -> None:
    running = await stack.stub.SendBulk(order_bulk(100), metadata=stack.metadata())
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scheduled_request = order_bulk(3, first=500)
    scheduled_request.send_at = later
    scheduled = await stack.stub.SendBulk(scheduled_request, metadata=stack.metadata())
    await started(stack, running.bulk_send_id)

    await sandbox_event(
        stack, "phone_number_quality_update", {"phone_number_id": NUMBER, "event": "FLAGGED"}
    )

    stopped = await paused(stack, running.bulk_send_id)
    watched = stack.stub.WatchBulk(
        pb.WatchBulkRequest(bulk_send_id=running.bulk_send_id), metadata=stack.metadata()
    )
    first_snapshot = await anext(aiter(watched))
    watched.cancel()
    async with aiohttp.ClientSession() as http:
        _, scheduled_view = await rest(stack, http, "GET", f"/bulk-sends/{scheduled.bulk_send_id}/")
        _, listing = await rest(stack, http, "GET", "/bulk-sends/?status=PAUSED")
        code, resumed = await rest(
            stack, http, "POST", f"/bulk-sends/{running.bulk_send_id}/resume/"
        )
        await rest(stack, http, "POST", f"/bulk-sends/{running.bulk_send_id}/cancel/")

    assert "quality guard" in stopped.pause_reason
    assert "FLAGGED" in stopped.pause_reason
    assert stopped.pending_count > 0
    assert first_snapshot.pause_reason == stopped.pause_reason
    assert scheduled_view["status"] == "PAUSED"
    assert scheduled_view["pause_reason"] == stopped.pause_reason
    assert {b["id"]: b["pause_reason"] for b in listing["results"]} == {
        running.bulk_send_id: stopped.pause_reason,
        scheduled.bulk_send_id: stopped.pause_reason,
    }
    assert code == 200
    assert resumed["status"] == "PROCESSING"
    assert "pause_reason" not in resumed


async def test_a_template_rated_red_pauses_only_its_own_bulks(stack: RealStack) -> None:
    spanish = await stack.stub.SendBulk(order_bulk(60), metadata=stack.metadata())
    english = await stack.stub.SendBulk(
        order_bulk(60, language="en", first=100), metadata=stack.metadata()
    )
    await started(stack, spanish.bulk_send_id)
    yellow = {"name": "order_update", "language": "es", "new_quality_score": "YELLOW"}
    red = {**yellow, "new_quality_score": "RED"}

    await sandbox_event(stack, "template_quality", yellow)
    await sandbox_event(stack, "template_quality", red)

    stopped = await paused(stack, spanish.bulk_send_id)
    other = await bulk(stack, english.bulk_send_id)
    async with aiohttp.ClientSession() as http:
        for bulk_id in (spanish.bulk_send_id, english.bulk_send_id):
            await rest(stack, http, "POST", f"/bulk-sends/{bulk_id}/cancel/")

    assert stopped.pause_reason == (
        "Paused by the quality guard: Meta rated the quality of the template 'order_update' "
        "(es) RED"
    )
    assert other.status in ("QUEUED", "PROCESSING")
    assert other.pause_reason == ""


async def test_with_the_policy_continue_a_lowered_tier_pauses_nothing(stack: RealStack) -> None:
    await stack.services.organisations.set_quality_policy(DEMO_ORGANISATION, "continue")
    running = await stack.stub.SendBulk(order_bulk(60), metadata=stack.metadata())
    await started(stack, running.bulk_send_id)

    await sandbox_event(
        stack,
        "phone_number_quality_update",
        {
            "phone_number_id": NUMBER,
            "event": "DOWNGRADE",
            "max_daily_conversations_per_business": "TIER_250",
        },
    )

    async def lowered() -> bool:
        listed = await stack.stub.ListBusinessAccounts(
            pb.ListBusinessAccountsRequest(), metadata=stack.metadata()
        )
        tiers = {n.messaging_limit_tier for a in listed.business_accounts for n in a.phone_numbers}
        return tiers == {"TIER_250"}

    await eventually(lowered, limit=30)
    after = await bulk(stack, running.bulk_send_id)
    await stack.stub.CancelBulk(
        pb.CancelBulkRequest(bulk_send_id=running.bulk_send_id), metadata=stack.metadata()
    )

    assert after.status == "PROCESSING"
    assert after.pause_reason == ""


async def test_a_lowered_portfolio_limit_pauses_the_numbers_bulks(stack: RealStack) -> None:
    running = await stack.stub.SendBulk(order_bulk(60), metadata=stack.metadata())
    await started(stack, running.bulk_send_id)

    await sandbox_event(
        stack, "business_capability_update", {"max_daily_conversations_per_business": 250}
    )

    stopped = await paused(stack, running.bulk_send_id)
    await stack.stub.CancelBulk(
        pb.CancelBulkRequest(bulk_send_id=running.bulk_send_id), metadata=stack.metadata()
    )

    assert "from TIER_2K to TIER_250" in stopped.pause_reason
