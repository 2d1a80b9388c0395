"""How status webhooks travel: batches, duplicates, reordering, retries and bounded concurrency.

Duplicates and reordering happen only when configured; retries only when the receiver does not
answer 2xx. Times are the fake clock's: no test measures real time.
"""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from mindo_sandbox import FakeClock, SandboxConfig, SandboxState
from mindo_sandbox.sending import accept_send
from mindo_sandbox.server import start_sandbox

from .graph_client import DEMO_NUMBER, DEMO_TOKEN, order_update, recipients
from .webhook_receiver import Receiver, posting_sandbox, send_then_post, webhooks

ALL_READ = {"delivered": 1, "read": 1}


def arrivals(receiver: Receiver) -> list[tuple[str, str]]:
    return [(s["id"], s["status"]) for s in receiver.statuses()]


def journeys(receiver: Receiver, wamids: list[str]) -> list[tuple[str, ...]]:
    by_message = receiver.statuses_by_message()
    return [tuple(s["status"] for s in by_message[w]) for w in wamids]


async def test_statuses_due_together_share_a_post_up_to_the_batch_size(
    receiver: Receiver, clock: FakeClock
) -> None:
    settings: dict[str, Any] = {"shares": {"delivered": 0}, "batch_size": 3}
    async with posting_sandbox(receiver, clock, **settings) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update(to=n) for n in recipients(10)])

    assert sorted(len(post.statuses) for post in receiver.posts) == [1, 3, 3, 3]


async def test_a_message_s_statuses_never_share_a_post(
    receiver: Receiver, clock: FakeClock
) -> None:
    no_delays = {"sent": 0, "delivered": 0, "read": 0}
    settings: dict[str, Any] = {"shares": {"delivered": 1}, "delays_ms": no_delays}
    async with posting_sandbox(receiver, clock, **settings) as (sandbox, graph):
        wamids = await send_then_post(
            sandbox, clock, graph, [order_update(to=n) for n in recipients(4)]
        )

    first, second = receiver.posts
    assert [s["status"] for s in first.statuses] == ["sent"] * 4
    assert [s["status"] for s in second.statuses] == ["delivered"] * 4
    assert [s["id"] for s in first.statuses] == wamids


async def test_without_duplicates_or_reordering_each_status_arrives_once_and_in_order(
    receiver: Receiver, clock: FakeClock
) -> None:
    async with posting_sandbox(receiver, clock, shares=ALL_READ) as (sandbox, graph):
        wamids = await send_then_post(
            sandbox, clock, graph, [order_update(to=n) for n in recipients(10)]
        )

    assert set(Counter(arrivals(receiver)).values()) == {1}
    assert set(journeys(receiver, wamids)) == {("sent", "delivered", "read")}
    assert [[s["id"] for s in post.statuses] for post in receiver.posts] == [wamids] * 3


async def test_duplicates_post_a_status_again_in_a_later_post(
    receiver: Receiver, clock: FakeClock
) -> None:
    settings: dict[str, Any] = {"shares": ALL_READ, "duplicate_rate": 1.0}
    async with posting_sandbox(receiver, clock, **settings) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update(to=n) for n in recipients(5)])

    assert Counter(Counter(arrivals(receiver)).values()) == {2: 15}
    posts_of: dict[tuple[str, str], set[int]] = {}
    for index, post in enumerate(receiver.posts):
        for status in post.statuses:
            posts_of.setdefault((status["id"], status["status"]), set()).add(index)
    assert all(len(posts) == 2 for posts in posts_of.values())


async def test_a_share_of_statuses_is_duplicated(receiver: Receiver, clock: FakeClock) -> None:
    settings: dict[str, Any] = {"shares": {"delivered": 0}, "duplicate_rate": 0.5, "seed": 3}
    async with posting_sandbox(receiver, clock, **settings) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update(to=n) for n in recipients(20)])

    times_posted = Counter(Counter(arrivals(receiver)).values())
    assert set(times_posted) == {1, 2}
    assert times_posted[1] + times_posted[2] == 20


async def test_reordering_posts_a_read_before_its_delivered(
    receiver: Receiver, clock: FakeClock
) -> None:
    settings: dict[str, Any] = {"shares": ALL_READ, "reorder_rate": 1.0}
    async with posting_sandbox(receiver, clock, **settings) as (sandbox, graph):
        wamids = await send_then_post(
            sandbox, clock, graph, [order_update(to=n) for n in recipients(10)]
        )

    assert set(journeys(receiver, wamids)) == {("sent", "read", "delivered")}
    for statuses in receiver.statuses_by_message().values():
        _, read, delivered = statuses
        assert int(delivered["timestamp"]) < int(read["timestamp"])  # when each happened
    sent_post = receiver.posts[0]
    assert [s["id"] for s in sent_post.statuses] != wamids  # the batch is shuffled too
    assert sorted(s["id"] for s in sent_post.statuses) == sorted(wamids)


async def test_a_receiver_that_fails_gets_the_same_bytes_again_with_backoff(
    receiver: Receiver, clock: FakeClock
) -> None:
    receiver.answer(500, 503)
    async with posting_sandbox(receiver, clock, shares={"delivered": 0}) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update()])
        record = sandbox.state.webhooks.log.all()

    assert [p.answered for p in receiver.posts] == [500, 503, 200]
    assert len({(p.raw, p.signature) for p in receiver.posts}) == 1
    assert [(r.attempt, r.status) for r in record] == [(1, 500), (2, 503), (3, 200)]
    assert {r.body for r in record} == {receiver.posts[0].raw.decode()}
    first, second, third = (r.at for r in record)
    assert (second - first, third - second) == (1.0, 2.0)  # fake-clock seconds, doubling


async def test_retries_are_bounded(receiver: Receiver, clock: FakeClock) -> None:
    receiver.answer(500, 500, 500, 500)
    settings: dict[str, Any] = {"shares": {"delivered": 0}, "max_attempts": 3}
    async with posting_sandbox(receiver, clock, **settings) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update()])

    assert [p.answered for p in receiver.posts] == [500, 500, 500]
    assert sandbox.state.webhooks.pending() == 0


async def test_an_unreachable_receiver_is_retried_and_recorded(clock: FakeClock) -> None:
    unreachable = Receiver()
    unreachable.url = f"http://127.0.0.1:{_closed_port()}/webhooks"
    settings: dict[str, Any] = {"shares": {"delivered": 0}, "max_attempts": 2}
    async with posting_sandbox(unreachable, clock, **settings) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update()])
        record = sandbox.state.webhooks.log.all()

    assert [(r.attempt, r.status) for r in record] == [(1, None), (2, None)]
    assert all(r.error for r in record)


@pytest.mark.parametrize("limit", [2, 8])
async def test_posts_in_flight_are_bounded(
    receiver: Receiver, clock: FakeClock, limit: int
) -> None:
    receiver.hold_seconds = 0.05
    settings: dict[str, Any] = {
        "shares": {"delivered": 0},
        "batch_size": 1,
        "max_concurrent_posts": limit,
    }
    async with posting_sandbox(receiver, clock, **settings) as (sandbox, graph):
        await send_then_post(sandbox, clock, graph, [order_update(to=n) for n in recipients(8)])

    assert len(receiver.posts) == 8
    if limit == 2:
        assert receiver.most_in_flight <= 2
    else:
        assert receiver.most_in_flight > 2  # the bound above is what held them back


async def test_a_burst_of_accepted_messages_is_posted_in_full_batches(
    receiver: Receiver, clock: FakeClock
) -> None:
    config = replace(
        SandboxConfig.demo().with_mps(100_000),
        webhooks=webhooks(receiver, shares={"delivered": 0}, batch_size=100),
    )
    state = SandboxState(config, clock=clock)
    sandbox = await start_sandbox(state)
    try:
        clock.hold()
        for to in recipients(3000):
            accept_send(
                state, phone_number_id=DEMO_NUMBER, token=DEMO_TOKEN, payload=order_update(to=to)
            )
        clock.release()
        await state.webhooks.drain()
    finally:
        await sandbox.stop()

    assert sorted({len(post.statuses) for post in receiver.posts}) == [100]
    assert len(receiver.statuses()) == 3000


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
