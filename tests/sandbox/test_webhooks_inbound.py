"""A user writing in (``POST /_sandbox/inbound``): the sandbox posts the signed ``messages``
webhook Meta sends for an inbound message (meta-cloud-api.md §6.6)."""

from __future__ import annotations

import pytest

from mindo_sandbox import FakeClock

from .graph_client import DEMO_NUMBER, DEMO_WABA, GraphClient
from .webhook_receiver import Receiver, posting_sandbox, verifies

JUAN = "5492235961983"


async def test_a_text_message_is_posted_signed_in_meta_shape(
    receiver: Receiver, clock: FakeClock
) -> None:
    message = {"phone_number_id": DEMO_NUMBER, "from": JUAN, "name": "Juan Perez", "text": "Hola"}
    async with posting_sandbox(receiver, clock) as (sandbox, graph):
        answer = await graph.admin("POST", "/inbound", message)
        await sandbox.state.webhooks.drain()

    [post] = receiver.posts
    assert verifies(post.raw, post.signature)
    assert answer.body["posted"] is True
    assert post.body == answer.body["webhook"]
    [entry] = post.body["entry"]
    assert entry["id"] == DEMO_WABA
    [change] = entry["changes"]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["metadata"]["phone_number_id"] == DEMO_NUMBER
    assert value["contacts"] == [{"wa_id": JUAN, "profile": {"name": "Juan Perez"}}]
    [sent] = value["messages"]
    assert (sent["from"], sent["type"], sent["text"]) == (JUAN, "text", {"body": "Hola"})
    assert sent["id"].startswith("wamid.")
    assert sent["timestamp"].isdigit()


async def test_a_button_reply_and_a_reaction_carry_what_meta_sends(graph: GraphClient) -> None:
    base = {"phone_number_id": DEMO_NUMBER, "from": JUAN}

    button = await graph.admin(
        "POST", "/inbound", {**base, "type": "button", "text": "No", "payload": "STOP"}
    )
    reaction = await graph.admin(
        "POST", "/inbound", {**base, "type": "reaction", "text": "👍", "context": "wamid.X"}
    )

    [pressed] = button.body["webhook"]["entry"][0]["changes"][0]["value"]["messages"]
    assert pressed["button"] == {"payload": "STOP", "text": "No"}
    [reacted] = reaction.body["webhook"]["entry"][0]["changes"][0]["value"]["messages"]
    assert reacted["reaction"] == {"message_id": "wamid.X", "emoji": "👍"}
    assert button.body["posted"] is False  # no callback URL: nothing to post to


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ({"phone_number_id": "999", "from": JUAN}, 404),
        ({"phone_number_id": DEMO_NUMBER, "from": "+54 9 223"}, 400),
        ({"phone_number_id": DEMO_NUMBER}, 400),
        ({"phone_number_id": DEMO_NUMBER, "from": JUAN, "type": "order"}, 400),
        ({"phone_number_id": DEMO_NUMBER, "from": JUAN, "type": "reaction"}, 400),
        ({"phone_number_id": DEMO_NUMBER, "from": JUAN, "colour": "blue"}, 400),
    ],
)
async def test_a_message_the_sandbox_cannot_play_is_refused(
    graph: GraphClient, message: dict[str, object], status: int
) -> None:
    answer = await graph.admin("POST", "/inbound", message)
    assert answer.status == status
    assert "error" in answer.body
