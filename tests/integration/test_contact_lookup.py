"""Contacts over the real stack: the sandbox plays a user writing in (a signed ``messages``
webhook posted over HTTP to the REST bridge, forwarded to IngestWebhooks over gRPC, stored in a
SQLite file), and contact-lookup finds them, over REST and gRPC, in every documented form."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import grpc
import pytest

from mindo_core.adapters.sql import open_stores
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"
JUAN = "5492235961983"
DOCUMENTED_FORMS = [
    "+5492235961983",
    "5492235961983",
    "+54223155961983",
    "54223155961983",
    "+54 223 15-596-1983",
]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        running.webhooks_to_bridge()
        yield running


async def user_writes(stack: RealStack, **message: object) -> dict[str, Any]:
    event = {"phone_number_id": NUMBER, "from": JUAN, "name": "Juan Perez", **message}
    url = f"{stack.sandbox.url}/_sandbox/inbound"
    async with aiohttp.ClientSession() as http, http.post(url, json=event) as answer:
        assert answer.status == 200, await answer.text()
        reply: dict[str, Any] = await answer.json()
    assert reply["posted"] is True
    return reply


async def lookup_over_rest(
    stack: RealStack, phone: str | None, key: str | None = None
) -> tuple[int, Any]:
    url = f"{stack.bridge.url}/api/v1/contact-lookup/"
    params = {} if phone is None else {"phone": phone}
    headers = {"X-API-Key": key or stack.api_key}
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, params=params, headers=headers) as response,
    ):
        return response.status, await response.json()


async def lookup_over_grpc(stack: RealStack, phone: str) -> pb.LookupContactResponse:
    request = pb.LookupContactRequest(phone=phone)
    reply: pb.LookupContactResponse = await stack.stub.LookupContact(
        request, metadata=stack.metadata()
    )
    return reply


async def known(stack: RealStack) -> None:
    async def found() -> bool:
        return (await lookup_over_grpc(stack, JUAN)).found

    await eventually(found)


async def test_a_user_who_writes_in_is_found_with_the_window_open_in_every_form(
    stack: RealStack,
) -> None:
    written_at = int(time.time()) - 60
    await user_writes(stack, text="Hola, ¿tienen stock?", timestamp=written_at)
    await known(stack)

    for phone in DOCUMENTED_FORMS:
        status, body = await lookup_over_rest(stack, phone)
        assert status == 200, phone
        assert body["found"] is True
        contact = body["contact"]
        assert list(contact) == [
            "id",
            "fullName",
            "phone",
            "email",
            "contactListId",
            "contactListName",
            "source",
            "createdAt",
        ]
        assert isinstance(contact["id"], int)
        assert contact["fullName"] == "Juan Perez"
        assert contact["phone"] == "+5492235961983"
        assert (contact["email"], contact["contactListId"], contact["contactListName"]) == (
            None,
            None,
            None,
        )
        assert contact["source"] == "organic"
        assert contact["createdAt"].endswith("Z")
        assert body["hasReplied"] is True
        assert body["lastReplyAt"] == _iso(written_at)
        assert body["sessionWindowActive"] is True
        assert body["sessionExpiresAt"] == _iso(written_at + 24 * 3600)

        over_grpc = await lookup_over_grpc(stack, phone)
        assert over_grpc.found
        assert over_grpc.session_window_active
        assert over_grpc.contact.phone == "+5492235961983"
        assert over_grpc.last_reply_at.seconds == written_at


async def test_a_user_who_wrote_more_than_a_day_ago_has_the_window_closed(
    stack: RealStack,
) -> None:
    written_at = int(time.time()) - 25 * 3600
    await user_writes(stack, timestamp=written_at)
    await known(stack)

    status, body = await lookup_over_rest(stack, "+5492235961983")

    assert status == 200
    assert body["hasReplied"] is True
    assert body["sessionWindowActive"] is False
    assert body["sessionExpiresAt"] == _iso(written_at + 24 * 3600)


async def test_a_message_posted_twice_is_stored_once(stack: RealStack) -> None:
    first = await user_writes(stack, type="button", text="No", payload="STOP_PROMOS")
    wamid = first["webhook"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    await user_writes(stack, type="button", text="No", payload="STOP_PROMOS", id=wamid)
    await known(stack)
    await stack.sandbox.state.webhooks.drain()

    with sqlite3.connect(stack.database) as db:
        rows = db.execute("SELECT wamid, type, text, payload FROM inbound_messages").fetchall()
    assert rows == [(wamid, "button", "No", "STOP_PROMOS")]


async def test_an_unknown_number_is_not_found_not_an_error(stack: RealStack) -> None:
    status, body = await lookup_over_rest(stack, "+34 611 222 333")
    assert status == 200
    assert body == {
        "found": False,
        "contact": None,
        "hasReplied": False,
        "lastReplyAt": None,
        "sessionWindowActive": False,
        "sessionExpiresAt": None,
        "optedOut": False,
        "optedOutAt": None,
    }
    assert not (await lookup_over_grpc(stack, "+34611222333")).HasField("contact")


async def test_another_organisations_contact_is_not_found(stack: RealStack) -> None:
    await user_writes(stack)
    await known(stack)
    other_key = await key_of_another_organisation(stack)

    status, body = await lookup_over_rest(stack, JUAN, key=other_key)

    assert status == 200
    assert body["found"] is False
    assert body["contact"] is None


@pytest.mark.parametrize("phone", ["abc", "+54", "12"])
async def test_a_phone_that_cannot_be_a_number_is_a_400_on_the_field(
    stack: RealStack, phone: str
) -> None:
    status, body = await lookup_over_rest(stack, phone)

    assert status == 400
    assert list(body) == ["phone"]
    assert body["phone"]
    assert all(isinstance(m, str) for m in body["phone"])
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await lookup_over_grpc(stack, phone)
    details = from_rpc_error(raised.value)
    assert details.status == grpc.StatusCode.INVALID_ARGUMENT
    assert details.code == "invalid_phone_number"
    assert "phone" in details.field_errors


async def test_a_missing_phone_is_a_400_but_a_bad_key_is_a_401_first(stack: RealStack) -> None:
    assert await lookup_over_rest(stack, None) == (400, {"phone": ["This field is required."]})
    status, _ = await lookup_over_rest(stack, None, key="mindo_NotAKeyNotAKeyNotAKey0")
    assert status == 401


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


async def key_of_another_organisation(stack: RealStack) -> str:
    stores = await open_stores(f"sqlite:///{stack.database}")
    try:
        await stores.organisations.create_organisation("Other Org")
    finally:
        await stores.close()
    return (await stack.services.api_keys.issue("Other Org")).plaintext


async def test_a_message_sent_names_its_recipient_once_they_write_in(stack: RealStack) -> None:
    request = pb.SendMessageRequest(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone="+54 223 15-596-1983",
        variables={"name": "Juan Perez", "code": "ABC123"},
        button_variables={"button_0": "ABC-123"},
    )
    sent = await stack.stub.SendMessage(request, metadata=stack.metadata())
    _, outbound = await lookup_over_rest(stack, JUAN)
    assert outbound["contact"]["source"] == "outbound"
    assert outbound["contact"]["fullName"] is None
    assert outbound["hasReplied"] is False

    await user_writes(stack, text="Gracias")

    async def replied() -> bool:
        return (await lookup_over_grpc(stack, JUAN)).has_replied

    await eventually(replied)
    url = f"{stack.bridge.url}/api/v1/meta-templates/messages/{quote(sent.message_id, safe='')}/"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"X-API-Key": stack.api_key}) as response,
    ):
        body = await response.json()
    assert body["recipient"] == {
        "phone": "+5492235961983",
        "contact_name": "Juan Perez",
        "contact_id": outbound["contact"]["id"],
    }
    _, now = await lookup_over_rest(stack, JUAN)
    assert now["contact"]["source"] == "outbound"
    assert now["sessionWindowActive"] is True


async def send_over_rest(stack: RealStack) -> tuple[int, Any]:
    """The demo's marketing template, as the documentation's example sends it."""
    body = {
        "phone_number_id": NUMBER,
        "template_name": "welcome_message",
        "recipient_phone": "+54 223 15-596-1983",
        "variables": {"name": "Juan", "code": "A1"},
        "button_variables": {"button_0": "A1"},
    }
    url = f"{stack.bridge.url}/api/v1/meta-templates/send/"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"X-API-Key": stack.api_key}) as response,
    ):
        return response.status, await response.json()


async def test_stop_keeps_marketing_from_a_user_until_start(stack: RealStack) -> None:
    await user_writes(stack, text="STOP")

    async def opted_out() -> bool:
        return (await lookup_over_grpc(stack, JUAN)).opted_out

    await eventually(opted_out)
    _, looked_up = await lookup_over_rest(stack, "+54223155961983")
    assert looked_up["optedOut"] is True
    assert looked_up["optedOutAt"].endswith("Z")
    sends_before = len(stack.sent_payloads())
    status, refused = await send_over_rest(stack)
    assert (status, refused.get("code")) == (409, "recipient_opted_out"), refused
    assert len(stack.sent_payloads()) == sends_before  # Meta never saw it

    await user_writes(stack, text="Alta", timestamp=int(time.time()) + 1)

    async def opted_in() -> bool:
        return not (await lookup_over_grpc(stack, JUAN)).opted_out

    await eventually(opted_in)
    status, sent = await send_over_rest(stack)
    assert status == 200, sent


async def test_what_users_write_and_their_numbers_reach_no_log_line(
    stack: RealStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await user_writes(stack, text="Mi tarjeta es 4111 1111 1111 1111", name="Juana Secreta")
    await known(stack)
    await lookup_over_rest(stack, "+54 223 15-596-1983")
    await lookup_over_rest(stack, "+999 12")  # refused: it is echoed to the caller only

    # aiosqlite's own DEBUG lines echo SQL parameters (any row written): a driver's trace, off
    # unless asked for; every other logger, the access log included, is held to the rule.
    records = [r for r in caplog.records if not r.name.startswith("aiosqlite")]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in records)
    assert any(r.name == "aiohttp.access" for r in records), "no access log: proves nothing"
    for personal in ("4111 1111", "Juana Secreta", JUAN, "223 15-596", "596-1983", "+999 12"):
        assert personal not in logged


async def promo_bulk_over_rest(stack: RealStack, *phones: str) -> str:
    """A marketing bulk (the demo's welcome_message) as the documented Send bulk takes it."""
    body = {
        "phone_number_id": NUMBER,
        "template_name": "welcome_message",
        "recipients": [
            {
                "phone": to,
                "variables": {"name": "Ana", "code": "A1"},
                "button_variables": {"button_0": "A1"},
            }
            for to in phones
        ],
    }
    url = f"{stack.bridge.url}/api/v1/meta-templates/send-bulk/"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"X-API-Key": stack.api_key}) as response,
    ):
        assert response.status == 202, await response.text()
        accepted: dict[str, Any] = await response.json()
    bulk_id: str = accepted["bulk_send_id"]

    async def over() -> bool:
        request = pb.GetBulkRequest(bulk_send_id=bulk_id)
        bulk = await stack.stub.GetBulk(request, metadata=stack.metadata())
        return bulk.status in {"COMPLETED", "PARTIAL", "FAILED"}

    await eventually(over)
    return bulk_id


async def bulk_messages_over_rest(stack: RealStack, bulk_id: str) -> dict[str, Any]:
    url = f"{stack.bridge.url}/api/v1/meta-templates/bulk-sends/{bulk_id}/messages/"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"X-API-Key": stack.api_key}) as response,
    ):
        listed: dict[str, Any] = await response.json()
    return {item["recipient_phone"]: item for item in listed["results"]}


def sent_to(stack: RealStack) -> list[object]:
    return [payload["to"] for payload in stack.sent_payloads()]


async def test_stop_skips_a_user_in_the_next_marketing_bulk_and_start_brings_them_back(
    stack: RealStack,
) -> None:
    await stack.services.bulk_engine.start()
    await user_writes(stack, text="BAJA")

    async def opted_out() -> bool:
        return (await lookup_over_grpc(stack, JUAN)).opted_out

    await eventually(opted_out)
    first = await promo_bulk_over_rest(stack, "+54 223 15-596-1983", "+5491112345678")

    assert sent_to(stack) == ["5491112345678"]  # Meta never saw the one who opted out
    listed = await bulk_messages_over_rest(stack, first)
    assert listed["+5492235961983"]["status"] == "opted_out"
    assert listed["+5492235961983"]["error_message"].startswith("opted_out")
    assert listed["+5491112345678"]["status"] not in ("failed", "opted_out")

    await user_writes(stack, text="START", timestamp=int(time.time()) + 1)

    async def opted_in() -> bool:
        return not (await lookup_over_grpc(stack, JUAN)).opted_out

    await eventually(opted_in)
    await promo_bulk_over_rest(stack, "+54 223 15-596-1983")
    assert sent_to(stack)[-1] == JUAN
