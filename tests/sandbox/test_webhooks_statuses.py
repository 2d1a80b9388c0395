"""Status webhooks: after accepting a send, the sandbox posts its statuses as Meta does.

Each test sends while the fake clock is held, then releases it and waits until every status has
been posted to a real receiver on a loopback port (``send_then_post``). Delays are fixed: sent at
once, delivered after 1 s, read after 2 s, so each message's statuses arrive in three rounds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mindo_sandbox import FakeClock

from .graph_client import (
    DEMO_NUMBER,
    DEMO_WABA,
    RECIPIENT,
    order_update,
    recipients,
    welcome_message,
)
from .webhook_receiver import Receiver, posting_sandbox, send_then_post, verifies

START = 1_750_000_000  # the fake clock's Unix time when the sends are accepted
ERROR_CODES_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"
NOT_DELIVERED = "This message was not delivered to maintain healthy ecosystem engagement."


def journeys(receiver: Receiver, wamids: list[str]) -> list[tuple[str, ...]]:
    """The statuses each message got, in arrival order, in the order the messages were sent."""
    by_message = receiver.statuses_by_message()
    return [tuple(s["status"] for s in by_message.get(w, [])) for w in wamids]


async def test_every_post_is_signed_over_its_exact_bytes_with_the_app_secret(
    receiver: Receiver, clock: FakeClock
) -> None:
    async with posting_sandbox(receiver, clock, shares={"delivered": 1, "read": 1}) as (s, graph):
        await send_then_post(s, clock, graph, [order_update(to=n) for n in recipients(3)])

    assert len(receiver.posts) == 3  # one round each for sent, delivered, read
    assert all(verifies(post.raw, post.signature) for post in receiver.posts)
    assert not any(verifies(p.raw, p.signature, secret="another") for p in receiver.posts)


async def test_statuses_come_in_metas_envelope(receiver: Receiver, clock: FakeClock) -> None:
    async with posting_sandbox(receiver, clock, shares={"delivered": 0}) as (sandbox, graph):
        [wamid] = await send_then_post(sandbox, clock, graph, [order_update()])

    [post] = receiver.posts
    assert post.body == {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": DEMO_WABA,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "5492236750780",
                                "phone_number_id": DEMO_NUMBER,
                            },
                            "statuses": [
                                {
                                    "id": wamid,
                                    "status": "sent",
                                    "timestamp": str(START),
                                    "recipient_id": RECIPIENT,
                                    "pricing": {
                                        "billable": True,
                                        "pricing_model": "PMP",
                                        "type": "regular",
                                        "category": "utility",
                                    },
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


async def test_statuses_follow_the_shares_exactly(receiver: Receiver, clock: FakeClock) -> None:
    shares = {"delivered": 0.9, "read": 0.6}
    async with posting_sandbox(receiver, clock, seed=4, shares=shares) as (sandbox, graph):
        wamids = await send_then_post(
            sandbox, clock, graph, [order_update(to=n) for n in recipients(20)]
        )

    assert Counter(journeys(receiver, wamids)) == {
        ("sent", "delivered", "read"): 12,
        ("sent", "delivered"): 6,
        ("sent",): 2,
    }


async def test_the_same_seed_gives_the_same_statuses(receiver: Receiver) -> None:
    async def run(seed: int) -> list[tuple[str, ...]]:
        receiver.posts.clear()
        clock = FakeClock()
        settings: dict[str, Any] = {"seed": seed, "shares": {"delivered": 0.7, "read": 0.4}}
        async with posting_sandbox(receiver, clock, **settings) as (sandbox, graph):
            payloads = [order_update(to=n) for n in recipients(20)]
            return journeys(receiver, await send_then_post(sandbox, clock, graph, payloads))

    first, again, other = await run(seed=1), await run(seed=1), await run(seed=2)

    assert first == again
    assert other != first
    assert Counter(other) == Counter(first)  # another order, the same shares


async def test_pricing_goes_with_sent_and_the_first_of_delivered_or_read(
    receiver: Receiver, clock: FakeClock
) -> None:
    async with posting_sandbox(receiver, clock, shares={"read": 1}) as (sandbox, graph):
        [wamid] = await send_then_post(sandbox, clock, graph, [welcome_message()])

    sent, delivered, read = receiver.statuses_by_message()[wamid]
    marketing = {
        "billable": True,
        "pricing_model": "PMP",
        "type": "regular",
        "category": "marketing",
    }
    assert [sent["status"], delivered["status"], read["status"]] == ["sent", "delivered", "read"]
    assert (sent["pricing"], delivered["pricing"]) == (marketing, marketing)
    assert "pricing" not in read
    assert [sent["timestamp"], delivered["timestamp"], read["timestamp"]] == [
        str(START),
        str(START + 1),
        str(START + 2),
    ]


async def test_read_implies_delivered_when_both_are_due_at_once(
    receiver: Receiver, clock: FakeClock
) -> None:
    delays = {"sent": 0, "delivered": 1000, "read": 1000}
    async with posting_sandbox(receiver, clock, shares={"read": 1}, delays_ms=delays) as (s, graph):
        [wamid] = await send_then_post(s, clock, graph, [order_update()])

    sent, read = receiver.statuses_by_message()[wamid]
    assert (sent["status"], read["status"]) == ("sent", "read")
    assert read["pricing"]["category"] == "utility"  # read stands in for the delivered


async def test_biz_opaque_callback_data_is_echoed_on_every_status(
    receiver: Receiver, clock: FakeClock
) -> None:
    tagged = {**order_update(to="5491100000010"), "biz_opaque_callback_data": "campaign-42|row-17"}
    untagged = order_update(to="5491100000011")
    async with posting_sandbox(receiver, clock, shares={"read": 1}) as (sandbox, graph):
        with_data, without = await send_then_post(sandbox, clock, graph, [tagged, untagged])

    by_message = receiver.statuses_by_message()
    assert [s["biz_opaque_callback_data"] for s in by_message[with_data]] == [
        "campaign-42|row-17"
    ] * 3
    assert all("biz_opaque_callback_data" not in s for s in by_message[without])


async def test_configured_recipients_are_accepted_then_fail_with_metas_errors(
    receiver: Receiver, clock: FakeClock
) -> None:
    failures = {"5491100000001": 131026, "5491100000002": 131049, "+54 9 11 0000-0003": 131050}
    payloads = [order_update(to=f"549110000000{n}") for n in (1, 2, 3, 4)]
    async with posting_sandbox(receiver, clock, failures=failures) as (sandbox, graph):
        undeliverable, capped, opted_out, fine = await send_then_post(
            sandbox, clock, graph, payloads
        )

    by_message = receiver.statuses_by_message()
    assert journeys(receiver, [undeliverable, capped, opted_out, fine]) == [
        ("failed",),
        ("failed",),
        ("failed",),
        ("sent", "delivered"),
    ]
    [failed] = by_message[capped]
    assert failed == {
        "id": capped,
        "status": "failed",
        "timestamp": str(START + 1),
        "recipient_id": "5491100000002",
        "errors": [
            {
                "code": 131049,
                "title": NOT_DELIVERED,
                "message": NOT_DELIVERED,
                "error_data": {
                    "details": "In order to maintain a healthy ecosystem engagement, the message "
                    "failed to be delivered."
                },
                "href": ERROR_CODES_HREF,
            }
        ],
    }
    [not_a_user] = by_message[undeliverable]
    assert not_a_user["errors"][0]["code"] == 131026
    assert not_a_user["errors"][0]["title"] == "Message undeliverable"
    [opted] = by_message[opted_out]
    assert opted["errors"][0]["code"] == 131050
    assert "stopped marketing messages" in opted["errors"][0]["error_data"]["details"]


async def test_the_record_of_posts_matches_what_the_receiver_got(
    receiver: Receiver, clock: FakeClock
) -> None:
    shares = {"delivered": 0.5, "read": 0.25}
    async with posting_sandbox(receiver, clock, shares=shares, batch_size=4) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update(to=n) for n in recipients(8)])
        record = await graph.admin("GET", "/webhooks/sent")

    posted = record.body["data"]
    assert record.body["pending"] == 0
    assert sorted((r["body"], r["signature"]) for r in posted) == sorted(
        (p.raw.decode(), p.signature) for p in receiver.posts
    )
    assert {(r["status"], r["attempt"], r["field"], r["url"]) for r in posted} == {
        (200, 1, "messages", receiver.url)
    }
    assert [r["seq"] for r in posted] == list(range(1, len(posted) + 1))


async def test_without_a_callback_url_nothing_is_posted(
    receiver: Receiver, clock: FakeClock
) -> None:
    async with posting_sandbox(receiver, clock, callback_url=None) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update()])
        record = await graph.admin("GET", "/webhooks/sent")

    assert receiver.posts == []
    assert record.body == {"data": [], "pending": 0}
