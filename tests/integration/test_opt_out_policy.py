"""An organisation's own opt-out policy over the real stack (the sandbox plays a user writing
in, REST to the bridge, gRPC to the service, a SQLite file): its own stop words put a user on
the suppression list and the defaults no longer do; a utility template is blocked for those on
the list only when the policy says so, for single sends and bulks alike."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"
JUAN = "+5492235961983"
ANA = "+5491112345678"
ORDER_UPDATE = {
    "phone_number_id": NUMBER,
    "template_name": "order_update",
    "language": "es",
    "variables": {"order_id": "#1234", "status": "en camino"},
}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        running.webhooks_to_bridge()
        yield running


async def organisation_id(stack: RealStack) -> Any:
    return (await stack.services.organisations.named("Mindo Demo")).id


async def user_writes(stack: RealStack, text: str) -> None:
    event = {"phone_number_id": NUMBER, "from": JUAN.removeprefix("+"), "text": text}
    url = f"{stack.sandbox.url}/_sandbox/inbound"
    async with aiohttp.ClientSession() as http, http.post(url, json=event) as answer:
        assert answer.status == 200, await answer.text()


async def wrote(stack: RealStack, count: int) -> None:
    """Waits until the service has stored ``count`` messages from them."""

    async def stored() -> bool:
        with sqlite3.connect(stack.database) as db:
            (found,) = db.execute("SELECT COUNT(*) FROM inbound_messages").fetchone()
        return bool(found >= count)

    await eventually(stored)


async def opted_out(stack: RealStack) -> bool:
    reply = await stack.stub.LookupContact(
        pb.LookupContactRequest(phone=JUAN), metadata=stack.metadata()
    )
    return reply.opted_out


async def send_order_update(stack: RealStack) -> tuple[int, Any]:
    url = f"{stack.bridge.url}/api/v1/meta-templates/send/"
    body = {**ORDER_UPDATE, "recipient_phone": JUAN}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"X-API-Key": stack.api_key}) as response,
    ):
        return response.status, await response.json()


def sent_to(stack: RealStack) -> list[object]:
    return [payload["to"] for payload in stack.sent_payloads()]


async def test_the_organisations_own_stop_words_replace_the_defaults(stack: RealStack) -> None:
    org = await organisation_id(stack)
    await stack.services.opt_out_settings.update(org, stop_words=["No más"])

    await user_writes(stack, "STOP")  # no longer a stop word here
    await wrote(stack, 1)
    assert not await opted_out(stack)

    await user_writes(stack, "no mas!")
    await eventually(lambda: opted_out(stack))


async def test_a_utility_template_reaches_a_suppressed_contact_unless_the_policy_blocks_it(
    stack: RealStack,
) -> None:
    org = await organisation_id(stack)
    await stack.services.suppression_list.add(org, JUAN)

    status, sent = await send_order_update(stack)
    assert status == 200, sent  # by default only marketing is blocked

    await stack.services.opt_out_settings.update(org, categories=["utility"])
    await asyncio.sleep(1.1)  # single sends keep the policy a second
    status, refused = await send_order_update(stack)

    assert (status, refused["code"]) == (409, "recipient_opted_out")
    assert sent_to(stack) == [JUAN.removeprefix("+")]


async def test_a_utility_bulk_skips_suppressed_contacts_when_the_policy_blocks_utility(
    stack: RealStack,
) -> None:
    org = await organisation_id(stack)
    await stack.services.suppression_list.add(org, JUAN)
    await stack.services.opt_out_settings.update(org, categories=["UTILITY"])
    await stack.services.bulk_engine.start()
    recipients = [
        pb.BulkRecipient(phone=phone, variables={"order_id": "#1", "status": "listo"})
        for phone in (JUAN, ANA)
    ]
    request = pb.SendBulkRequest(
        phone_number_id=NUMBER, template_name="order_update", language="es", recipients=recipients
    )
    accepted = await stack.stub.SendBulk(request, metadata=stack.metadata())

    async def over() -> bool:
        bulk = await stack.stub.GetBulk(
            pb.GetBulkRequest(bulk_send_id=accepted.bulk_send_id), metadata=stack.metadata()
        )
        return bulk.status in {"COMPLETED", "PARTIAL", "FAILED"}

    try:
        await eventually(over)
    finally:
        await stack.services.bulk_engine.stop()
    assert sent_to(stack) == [ANA.removeprefix("+")]
