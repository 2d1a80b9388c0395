"""Account events (``POST /_sandbox/events/...``): the sandbox changes as Meta's account would,
and posts the notification Meta sends (meta-cloud-api.md §6.5, §5.4, §5.1)."""

from __future__ import annotations

from typing import Any

import pytest

from mindo_sandbox import FakeClock, RunningSandbox

from .graph_client import (
    DEMO_NUMBER,
    DEMO_WABA,
    RATE_LIMIT_HIT,
    GraphClient,
    assert_graph_error,
    order_update,
)
from .webhook_receiver import Receiver, posting_sandbox, verifies

START = 1_750_000_000
ORDER_UPDATE_ID = 1258410395312603


def notification(field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "entry": [{"id": DEMO_WABA, "time": START, "changes": [{"value": value, "field": field}]}],
        "object": "whatsapp_business_account",
    }


async def test_a_paused_template_is_notified_then_refused(
    receiver: Receiver, clock: FakeClock
) -> None:
    other_info = {"title": "FIRST_PAUSE", "description": "Paused for 3 hours: low quality."}
    event = {"name": "order_update", "language": "es", "event": "PAUSED", "other_info": other_info}
    async with posting_sandbox(receiver, clock) as (sandbox, graph):
        answer = await graph.admin("POST", "/events/template_status", event)
        refused = await graph.send(order_update())
        listed = await graph.get(
            f"/v21.0/{DEMO_WABA}/message_templates", params={"name": "order_update"}
        )
        await sandbox.state.webhooks.drain()

    expected = notification(
        "message_template_status_update",
        {
            "event": "PAUSED",
            "message_template_id": ORDER_UPDATE_ID,
            "message_template_name": "order_update",
            "message_template_language": "es",
            "reason": "NONE",
            "message_template_category": "UTILITY",
            "other_info": other_info,
        },
    )
    [post] = receiver.posts
    assert post.body == expected
    assert verifies(post.raw, post.signature)
    assert (answer.body["posted"], answer.body["webhooks"]) == (True, [expected])
    assert_graph_error(refused, status=400, code=132015, message="(#132015) Template is Paused")
    assert {(t["language"], t["status"]) for t in listed.body["data"]} == {
        ("es", "PAUSED"),
        ("en", "APPROVED"),  # the other language is another template
    }


async def test_a_disabled_template_is_refused_until_approved_again(graph: GraphClient) -> None:
    template = {"name": "order_update", "language": "es"}

    await graph.admin("POST", "/events/template_status", {**template, "event": "DISABLED"})
    refused = await graph.send(order_update())
    await graph.admin("POST", "/events/template_status", {**template, "event": "APPROVED"})
    accepted = await graph.send(order_update())

    assert_graph_error(refused, status=400, code=132016, message="(#132016) Template is Disabled")
    assert accepted.status == 200


async def test_without_a_callback_url_the_event_still_changes_the_sandbox(
    graph: GraphClient, sandbox: RunningSandbox
) -> None:
    event = {"name": "order_update", "language": "es", "event": "PAUSED", "reason": "scam"}

    answer = await graph.admin("POST", "/events/template_status", event)

    assert answer.body["posted"] is False
    [webhook] = answer.body["webhooks"]
    assert webhook["entry"][0]["changes"][0]["value"]["reason"] == "SCAM"
    assert answer.body["changed"][0]["status"] == "PAUSED"
    assert sandbox.state.webhooks.log.all() == ()


async def test_a_template_quality_change_is_notified_and_shows_on_the_template(
    receiver: Receiver, clock: FakeClock
) -> None:
    event = {"name": "order_update", "language": "es", "new_quality_score": "red"}
    async with posting_sandbox(receiver, clock) as (sandbox, graph):
        await graph.admin(
            "POST", "/events/template_quality", {**event, "new_quality_score": "YELLOW"}
        )
        answer = await graph.admin("POST", "/events/template_quality", event)
        sent = await graph.send(order_update())
        listed = await graph.get(
            f"/v21.0/{DEMO_WABA}/message_templates", params={"name": "order_update"}
        )
        await sandbox.state.webhooks.drain()

    first, second = [
        post
        for post in receiver.posts
        if post.body["entry"][0]["changes"][0]["field"] == "message_template_quality_update"
    ]
    assert first.body["entry"][0]["changes"][0]["value"]["previous_quality_score"] == "UNKNOWN"
    assert second.body == notification(
        "message_template_quality_update",
        {
            "previous_quality_score": "YELLOW",
            "new_quality_score": "RED",
            "message_template_id": ORDER_UPDATE_ID,
            "message_template_name": "order_update",
            "message_template_language": "es",
        },
    )
    assert verifies(second.raw, second.signature)
    assert answer.body["posted"] is True
    assert sent.status == 200, "a RED template can still be sent until Meta pauses it"
    spanish = next(t for t in listed.body["data"] if t["language"] == "es")
    assert (spanish["status"], spanish["quality_score"]) == ("APPROVED", {"score": "RED"})


async def test_an_unknown_quality_score_is_refused(graph: GraphClient) -> None:
    event = {"name": "order_update", "language": "es", "new_quality_score": "PURPLE"}

    answer = await graph.admin("POST", "/events/template_quality", event)

    assert answer.status == 400


async def test_a_throughput_upgrade_is_notified_and_shows_on_the_number(
    receiver: Receiver, clock: FakeClock
) -> None:
    event = {"phone_number_id": DEMO_NUMBER, "event": "THROUGHPUT_UPGRADE"}
    async with posting_sandbox(receiver, clock) as (sandbox, graph):
        answer = await graph.admin("POST", "/events/phone_number_quality_update", event)
        number = await graph.get(f"/v21.0/{DEMO_NUMBER}")
        await sandbox.state.webhooks.drain()

    [post] = receiver.posts
    assert post.body == notification(
        "phone_number_quality_update",
        {
            "display_phone_number": "5492236750780",
            "event": "THROUGHPUT_UPGRADE",
            "max_daily_conversations_per_business": "TIER_UNLIMITED",
        },
    )
    assert number.body["throughput"] == {"level": "HIGH"}
    assert number.body["whatsapp_business_manager_messaging_limit"] == "TIER_UNLIMITED"
    assert answer.body["changed"] == [number.body]


async def test_a_quality_update_sets_the_sandbox_s_own_throughput_limit(
    graph: GraphClient,
) -> None:
    event = {"phone_number_id": DEMO_NUMBER, "event": "DOWNGRADE", "throughput_mps": 1}

    changed = await graph.admin("POST", "/events/phone_number_quality_update", event)
    first = await graph.send(order_update(to="5491100000001"))
    second = await graph.send(order_update(to="5491100000002"))

    assert changed.status == 200
    assert first.status == 200
    assert_graph_error(second, status=400, code=130429, message=RATE_LIMIT_HIT)


async def test_a_business_capability_update_is_notified_and_sets_the_messaging_limit(
    receiver: Receiver, clock: FakeClock
) -> None:
    event = {"max_daily_conversations_per_business": 10000, "max_phone_numbers_per_business": 2}
    async with posting_sandbox(receiver, clock) as (sandbox, graph):
        await graph.admin("POST", "/events/business_capability_update", event)
        number = await graph.get(f"/v21.0/{DEMO_NUMBER}")
        unlimited = {"waba_id": DEMO_WABA, "max_daily_conversations_per_business": -1}
        await graph.admin("POST", "/events/business_capability_update", unlimited)
        after = await graph.get(f"/v21.0/{DEMO_NUMBER}")
        await sandbox.state.webhooks.drain()

    values = sorted(
        (post.body["entry"][0]["changes"][0]["value"] for post in receiver.posts),
        key=lambda v: v["max_daily_conversations_per_business"],
    )
    assert values == [
        {"max_daily_conversations_per_business": -1},
        {"max_daily_conversations_per_business": 10000, "max_phone_numbers_per_business": 2},
    ]
    assert receiver.posts[0].body["entry"][0]["changes"][0]["field"] == (
        "business_capability_update"
    )
    assert number.body["whatsapp_business_manager_messaging_limit"] == "TIER_10K"
    assert after.body["whatsapp_business_manager_messaging_limit"] == "TIER_UNLIMITED"


@pytest.mark.parametrize(
    ("path", "event", "status", "complaint"),
    [
        ("template_status", {"name": "nope", "language": "es", "event": "PAUSED"}, 404, "nope"),
        (
            "template_status",
            {"name": "order_update", "language": "es", "event": "SNOOZED"},
            400,
            "event",
        ),
        (
            "template_status",
            {"name": "order_update", "language": "es", "event": "PAUSED", "reason": "BORED"},
            400,
            "reason",
        ),
        ("phone_number_quality_update", {"phone_number_id": "42", "event": "UPGRADE"}, 404, "42"),
        (
            "phone_number_quality_update",
            {"phone_number_id": DEMO_NUMBER, "event": "UPGRADE", "throughput_mps": 0},
            400,
            "throughput_mps",
        ),
        (
            "business_capability_update",
            {"max_daily_conversations_per_business": 3000},
            400,
            "max_daily_conversations_per_business",
        ),
        (
            "business_capability_update",
            {"waba_id": "42", "max_daily_conversations_per_business": 250},
            404,
            "42",
        ),
    ],
)
async def test_invalid_events_are_refused_and_change_nothing(
    graph: GraphClient, path: str, event: dict[str, Any], status: int, complaint: str
) -> None:
    answer = await graph.admin("POST", f"/events/{path}", event)
    number = await graph.get(f"/v21.0/{DEMO_NUMBER}")
    accepted = await graph.send(order_update())

    assert answer.status == status
    assert complaint in answer.body["error"]
    assert number.body["whatsapp_business_manager_messaging_limit"] == "TIER_2K"
    assert accepted.status == 200
