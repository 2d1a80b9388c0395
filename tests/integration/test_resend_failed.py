"""Resend the failed over the real stack (REST bridge over HTTP, gRPC over a socket, the sandbox
posting signed status webhooks, a SQLite file): Meta fails some recipients of a marketing bulk
by webhook, one is refused as opted out; the resend takes only the one worth retrying, with the
variables and button values it was sent with, links the new bulk to the first, counts the others
by reason, answers a repeated Idempotency-Key with the same bulk, and refuses a bulk still sending
or one with nothing to resend (409 over REST, FAILED_PRECONDITION over gRPC)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from mindo_sandbox.webhook_config import StatusDelays, WebhookConfig
from tests.bulk_fakes import eventually
from tests.integration.real_stack import APP_SECRET, RealStack, real_stack

NUMBER = "813497231850626"
API = "/api/v1/meta-templates"
FAST = StatusDelays(sent=(5.0, 10.0), delivered=(20.0, 40.0), read=(50.0, 80.0))
# Recipients by role (wa_ids as the sandbox keys its failures).
DELIVERED = [f"54911600000{i:02d}" for i in range(4)]
MARKETING_LIMIT = "5491160000090"  # 131049: Meta's per-user marketing limit, retry later
UNDELIVERABLE = "5491160000091"  # 131026: about the recipient, not worth retrying
OPTED_OUT = "5491160000092"  # on the suppression list before the bulk: never sent


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        running.sandbox.state.set_webhooks(
            WebhookConfig(
                callback_url=f"{running.bridge.url}/webhooks/meta",
                app_secret=APP_SECRET,
                delays_ms=FAST,
                flush_interval_ms=10.0,
                failures={MARKETING_LIMIT: 131049, UNDELIVERABLE: 131026},
            )
        )
        await running.services.bulk_engine.start()
        try:
            yield running
        finally:
            await running.services.bulk_engine.stop()


class Rest:
    def __init__(self, stack: RealStack, http: aiohttp.ClientSession) -> None:
        self._base = f"{stack.bridge.url}{API}"
        self._headers = {"X-API-Key": stack.api_key}
        self._http = http

    async def post(
        self, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        url = f"{self._base}{path}"
        sent = {**self._headers, **(headers or {})}
        async with self._http.post(url, json=body, headers=sent) as answer:
            return answer.status, await answer.json()

    async def get(self, path: str) -> Any:
        async with self._http.get(f"{self._base}{path}", headers=self._headers) as answer:
            assert answer.status == 200, await answer.text()
            return await answer.json()


def welcome(wa_id: str, index: int) -> dict[str, object]:
    return {
        "phone": f"+{wa_id}",
        "variables": {"name": f"Client {index}", "code": f"C{index:03d}"},
        "button_variables": {"button_0": f"B-{index}"},
    }


def marketing_bulk() -> dict[str, object]:
    everyone = [*DELIVERED, MARKETING_LIMIT, UNDELIVERABLE, OPTED_OUT]
    return {
        "phone_number_id": NUMBER,
        "template_name": "welcome_message",
        "recipients": [welcome(wa_id, i) for i, wa_id in enumerate(everyone)],
    }


async def settled_with_failures(rest: Rest, bulk_id: str, failed: int) -> dict[str, Any]:
    """The bulk over (its counts settle a moment before its status: it is still sending until
    the engine has finished it) with ``failed`` failures."""

    async def over() -> bool:
        status = await rest.get(f"/bulk-sends/{bulk_id}/")
        finished = status["status"] in {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
        return bool(finished and status["pending_count"] == 0 and status["failed_count"] == failed)

    await eventually(over, limit=30)
    status: dict[str, Any] = await rest.get(f"/bulk-sends/{bulk_id}/")
    return status


async def test_the_resend_takes_only_the_recipient_worth_retrying(stack: RealStack) -> None:
    await stack.stub.SuppressPhone(
        pb.SuppressPhoneRequest(phone=f"+{OPTED_OUT}"), metadata=stack.metadata()
    )
    async with aiohttp.ClientSession() as http:
        rest = Rest(stack, http)
        code, accepted = await rest.post("/send-bulk/", marketing_bulk())
        assert code == 202, accepted
        first_id = accepted["bulk_send_id"]
        first = await settled_with_failures(rest, first_id, failed=3)

        key = {"Idempotency-Key": "resend-welcome-1"}
        code, resent = await rest.post(f"/bulk-sends/{first_id}/resend-failed/", {}, key)
        code_again, again = await rest.post(f"/bulk-sends/{first_id}/resend-failed/", {}, key)
        code_other, other = await rest.post(
            f"/bulk-sends/{first_id}/resend-failed/", {"error_codes": [131026]}, key
        )
        new_id = resent["bulk_send_id"]
        await settled_with_failures(rest, new_id, failed=1)
        new_status = await rest.get(f"/bulk-sends/{new_id}/")
        listed = await rest.get("/bulk-sends/?page_size=10")
        new_messages = await rest.get(f"/bulk-sends/{new_id}/messages/")

    assert first["status"] == "PARTIAL"
    assert code == 202, resent
    assert resent["parent_bulk_send_id"] == first_id
    assert (resent["resent_count"], resent["left_count"]) == (1, 6)
    assert resent["left_by_reason"] == {"succeeded": 4, "opted_out": 1, "permanent_error": 1}
    assert (resent["total_recipients"], resent["unique_recipients"]) == (1, 1)
    assert resent["template_name"] == "welcome_message"
    assert (code_again, again) == (202, resent)
    assert (code_other, other["code"]) == (409, "idempotency_key_reused")
    assert new_status["parent_bulk_send_id"] == first_id
    assert "parent_bulk_send_id" not in first
    listed_parents = {b["id"]: b.get("parent_bulk_send_id") for b in listed["results"]}
    assert listed_parents == {new_id: first_id, first_id: None}
    [message] = new_messages["results"]
    assert message["recipient_phone"] == f"+{MARKETING_LIMIT}"
    assert message["variables_used"] == {"name": "Client 4", "code": "C004", "button_0": "B-4"}
    sent = [p["template"] for p in stack.sent_payloads() if p["to"] == MARKETING_LIMIT]
    assert len(sent) == 2
    assert sent[0] == sent[1]


async def test_codes_given_choose_the_failures_resent_over_grpc(stack: RealStack) -> None:
    async with aiohttp.ClientSession() as http:
        rest = Rest(stack, http)
        body = marketing_bulk()
        code, accepted = await rest.post("/send-bulk/", body)
        assert code == 202, accepted
        first_id = accepted["bulk_send_id"]
        await settled_with_failures(rest, first_id, failed=2)

    resent = await stack.stub.ResendFailed(
        pb.ResendFailedRequest(bulk_send_id=first_id, error_codes=[131026], pacing="5"),
        metadata=stack.metadata(),
    )
    listing = await stack.stub.ListBulkMessages(
        pb.ListBulkMessagesRequest(bulk_send_id=resent.bulk.bulk_send_id),
        metadata=stack.metadata(),
    )
    new_bulk = await stack.stub.GetBulk(
        pb.GetBulkRequest(bulk_send_id=resent.bulk.bulk_send_id), metadata=stack.metadata()
    )

    assert resent.bulk.parent_bulk_send_id == first_id
    assert resent.resent_count == 1
    assert dict(resent.left_by_reason) == {"succeeded": 5, "not_requested": 1}
    assert [m.recipient_phone for m in listing.results] == [f"+{UNDELIVERABLE}"]
    assert new_bulk.parent_bulk_send_id == first_id


async def test_a_bulk_still_sending_cannot_be_resent(stack: RealStack) -> None:
    recipients = [welcome(f"5491161{i:06d}", i) for i in range(40)]
    request = {"phone_number_id": NUMBER, "template_name": "welcome_message", "pacing": "1"}
    async with aiohttp.ClientSession() as http:
        rest = Rest(stack, http)
        code, accepted = await rest.post("/send-bulk/", {**request, "recipients": recipients})
        assert code == 202, accepted
        bulk_id = accepted["bulk_send_id"]
        code, refused = await rest.post(f"/bulk-sends/{bulk_id}/resend-failed/")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.stub.ResendFailed(
                pb.ResendFailedRequest(bulk_send_id=bulk_id), metadata=stack.metadata()
            )
        await rest.post(f"/bulk-sends/{bulk_id}/cancel/")
        listed = await rest.get("/bulk-sends/")

    assert (code, refused["code"]) == (409, "bulk_still_sending")
    assert bulk_id in refused["error"]
    details = from_rpc_error(raised.value)
    assert (details.status, details.code) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "bulk_still_sending",
    )
    assert listed["count"] == 1  # nothing was made


async def test_a_bulk_with_nothing_worth_resending_is_refused_with_the_counts(
    stack: RealStack,
) -> None:
    recipients = [welcome(wa_id, i) for i, wa_id in enumerate([*DELIVERED, UNDELIVERABLE])]
    async with aiohttp.ClientSession() as http:
        rest = Rest(stack, http)
        body = {"phone_number_id": NUMBER, "template_name": "welcome_message"}
        code, accepted = await rest.post("/send-bulk/", {**body, "recipients": recipients})
        assert code == 202, accepted
        bulk_id = accepted["bulk_send_id"]
        await settled_with_failures(rest, bulk_id, failed=1)
        code, refused = await rest.post(f"/bulk-sends/{bulk_id}/resend-failed/")
        bad_code, bad = await rest.post(
            f"/bulk-sends/{bulk_id}/resend-failed/", {"error_codes": ["x", -1]}
        )
        listed = await rest.get("/bulk-sends/")

    assert (code, refused["code"]) == (409, "nothing_to_resend")
    assert "4 succeeded, 1 permanent_error" in refused["error"]
    assert bad_code == 400
    assert set(bad["error_codes"]) == {"0", "1"}
    assert listed["count"] == 1
