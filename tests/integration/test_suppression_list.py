"""The suppression list as the organisation manages it, over the real stack (REST to the bridge,
gRPC to the service, a SQLite file, the Meta sandbox): a phone added by hand is refused a
marketing template and skipped by a bulk exactly like one that wrote STOP, and removing it lets
them receive again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"
JUAN = "+5492235961983"
JUAN_AS_TYPED = "+54 223 15-596-1983"
BEA = "+5491170000001"
LIST = "/api/v1/suppression-list/"
WELCOME = {
    "phone_number_id": NUMBER,
    "template_name": "welcome_message",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        await running.services.bulk_engine.start()
        try:
            yield running
        finally:
            await running.services.bulk_engine.stop()


async def rest(
    stack: RealStack, method: str, path: str, body: object = None, key: str | None = None
) -> tuple[int, Any]:
    headers = {"X-API-Key": key or stack.api_key}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{stack.bridge.url}{path}", json=body, headers=headers) as answer,
    ):
        text = await answer.text()
        return answer.status, (await answer.json() if text else None)


def sent_to(stack: RealStack) -> list[object]:
    return [payload["to"] for payload in stack.sent_payloads()]


async def test_a_phone_added_over_rest_is_refused_marketing_until_removed(
    stack: RealStack,
) -> None:
    status, added = await rest(stack, "POST", LIST, {"phone": JUAN_AS_TYPED})
    assert status == 200, added
    assert list(added) == ["phone", "since", "contactId", "contactName"]
    assert added["phone"] == JUAN
    assert added["since"].endswith("Z")

    status, listed = await rest(stack, "GET", LIST)
    assert status == 200
    assert (listed["count"], listed["next"], listed["previous"]) == (1, None, None)
    assert listed["results"] == [added]

    status, refused = await rest(
        stack, "POST", "/api/v1/meta-templates/send/", {**WELCOME, "recipient_phone": JUAN}
    )
    assert status == 409
    assert refused["code"] == "recipient_opted_out"
    assert sent_to(stack) == []

    status, removed = await rest(stack, "DELETE", f"{LIST}{quote(JUAN_AS_TYPED)}/")
    assert (status, removed) == (204, None)
    status, sent = await rest(
        stack, "POST", "/api/v1/meta-templates/send/", {**WELCOME, "recipient_phone": JUAN}
    )
    assert status == 200, sent
    assert sent_to(stack) == ["5492235961983"]
    assert (await rest(stack, "GET", LIST))[1]["count"] == 0


async def test_a_bulk_skips_a_phone_added_by_hand(stack: RealStack) -> None:
    await rest(stack, "POST", LIST, {"phone": JUAN})
    recipients = [
        {
            "phone": phone,
            "variables": {"name": "Ana", "code": "X"},
            "button_variables": {"button_0": "B"},
        }
        for phone in (JUAN, BEA)
    ]
    body = {"phone_number_id": NUMBER, "template_name": "welcome_message", "recipients": recipients}
    status, accepted = await rest(stack, "POST", "/api/v1/meta-templates/send-bulk/", body)
    assert status == 202, accepted
    bulk = f"/api/v1/meta-templates/bulk-sends/{accepted['bulk_send_id']}/"

    async def over() -> bool:
        return (await rest(stack, "GET", bulk))[1]["status"] in ("COMPLETED", "PARTIAL")

    await eventually(over)
    _, detail = await rest(stack, "GET", bulk)
    _, skipped = await rest(stack, "GET", f"{bulk}messages/?status=opted_out")
    assert (skipped["count"], skipped["results"][0]["recipient_phone"]) == (1, JUAN)
    assert skipped["results"][0]["error_message"].startswith("opted_out")
    # Counted among the failed, and alone: Meta never saw them.
    assert (detail["failed_count"], detail["opted_out_count"], detail["sent_count"]) == (1, 1, 1)
    assert sent_to(stack) == [BEA.removeprefix("+")]


async def test_removing_a_phone_not_on_the_list_is_a_404(stack: RealStack) -> None:
    status, body = await rest(stack, "DELETE", f"{LIST}{quote(BEA)}/")

    assert status == 404
    assert body == {
        "error": "This phone is not on the organisation's suppression list",
        "code": "not_suppressed",
    }


@pytest.mark.parametrize("phone", ["abc", "+54", "12"])
async def test_a_phone_that_cannot_be_a_number_is_a_400_on_the_field(
    stack: RealStack, phone: str
) -> None:
    added = await rest(stack, "POST", LIST, {"phone": phone})
    removed = await rest(stack, "DELETE", f"{LIST}{quote(phone)}/")

    for status, body in (added, removed):
        assert status == 400
        assert list(body) == ["phone"]
        assert all(isinstance(m, str) for m in body["phone"])
    assert (await rest(stack, "GET", LIST))[1]["count"] == 0


async def test_a_missing_phone_is_a_400(stack: RealStack) -> None:
    status, body = await rest(stack, "POST", LIST, {})

    assert status == 400
    assert body == {"phone": ["This field is required."]}


async def test_a_read_only_key_lists_but_cannot_change_the_list(stack: RealStack) -> None:
    issued = await stack.services.api_keys.issue(
        "Mindo Demo", name="reader", scopes=frozenset({"read"})
    )

    listed = await rest(stack, "GET", LIST, key=issued.plaintext)
    added = await rest(stack, "POST", LIST, {"phone": JUAN}, key=issued.plaintext)

    assert listed[0] == 200
    assert added[0] == 403


async def test_the_list_over_grpc(stack: RealStack) -> None:
    meta = stack.metadata()
    entry = await stack.stub.SuppressPhone(
        pb.SuppressPhoneRequest(phone=JUAN_AS_TYPED), metadata=meta
    )
    listed = await stack.stub.ListSuppressedPhones(pb.ListSuppressedPhonesRequest(), metadata=meta)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.stub.SendMessage(
            pb.SendMessageRequest(recipient_phone=JUAN, **WELCOME), metadata=meta
        )
    removed = await stack.stub.UnsuppressPhone(pb.UnsuppressPhoneRequest(phone=JUAN), metadata=meta)
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stack.stub.UnsuppressPhone(pb.UnsuppressPhoneRequest(phone=JUAN), metadata=meta)
    sent = await stack.stub.SendMessage(
        pb.SendMessageRequest(recipient_phone=JUAN, **WELCOME), metadata=meta
    )

    assert entry.phone == JUAN
    assert listed.count == 1
    assert [e.phone for e in listed.results] == [JUAN]
    assert listed.results[0].since == entry.since
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert removed.phone == JUAN
    assert from_rpc_error(again.value).status == grpc.StatusCode.NOT_FOUND
    assert sent.message_id
    assert sent_to(stack) == ["5492235961983"]


async def test_a_phone_in_the_path_reaches_no_log_line(
    stack: RealStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await rest(stack, "POST", LIST, {"phone": JUAN})
    await rest(stack, "DELETE", f"{LIST}{quote(JUAN)}/")
    await rest(stack, "DELETE", f"{LIST}{quote(BEA)}/")  # not on the list: a 404

    records = [r for r in caplog.records if not r.name.startswith("aiosqlite")]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in records)
    assert any(r.name == "aiohttp.access" for r in records), "no access log: proves nothing"
    assert "/api/v1/suppression-list/{phone}/" in logged
    for personal in (JUAN, quote(JUAN), JUAN.removeprefix("+"), BEA.removeprefix("+")):
        assert personal not in logged
