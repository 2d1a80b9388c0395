"""Sending limits with small numbers: throughput per number (130429) and pair rate (131056).

Time is a fake clock: the tests move it, nothing sleeps.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from mindo_sandbox import FakeClock, LimitsConfig, RunningSandbox, SandboxConfig

from .graph_client import (
    PAIR_RATE_HIT,
    GraphClient,
    assert_graph_error,
    order_update,
    recipients,
    send_all,
    statuses,
)


@pytest.fixture
def config() -> SandboxConfig:
    """Five messages/s and a pair-rate burst of three, so that both limits are easy to reach."""
    demo = SandboxConfig.demo().with_mps(5)
    return replace(demo, limits=LimitsConfig(pair_capacity=3, pair_refill_seconds=6.0))


async def test_the_window_slides_rather_than_resetting_on_whole_seconds(
    graph: GraphClient, clock: FakeClock, config: SandboxConfig
) -> None:
    first = await send_all(graph, recipients(3))
    clock.advance(0.5)
    second = await send_all(graph, recipients(3, start=10))
    clock.advance(0.6)  # the first three are now more than a second old; the next two are not
    third = await send_all(graph, recipients(4, start=20))

    assert statuses(first) == [200] * 3
    assert statuses(second) == [200, 200, 400]
    assert statuses(third) == [200, 200, 200, 400]


async def test_a_numbers_throughput_can_be_changed_at_runtime(
    graph: GraphClient, sandbox: RunningSandbox
) -> None:
    changed = await graph.admin("PATCH", "/phone_numbers/813497231850626", {"throughput_mps": 8})

    answers = await send_all(graph, recipients(10))

    assert changed.body["throughput_mps"] == 8
    assert statuses(answers) == [200] * 8 + [400] * 2


async def test_a_burst_to_one_recipient_beyond_the_pair_capacity_gets_131056(
    graph: GraphClient, clock: FakeClock
) -> None:
    answers = []
    for _ in range(4):
        answers.append(await graph.send(order_update(to="5491100000001")))
        clock.advance(1.0)  # keep clear of the throughput limit

    assert [a.status for a in answers] == [200, 200, 200, 400]
    assert_graph_error(answers[3], status=400, code=131056, message=PAIR_RATE_HIT)


async def test_the_pair_rate_refills_one_message_every_six_seconds(
    graph: GraphClient, clock: FakeClock
) -> None:
    for _ in range(3):
        await graph.send(order_update(to="5491100000001"))
    clock.advance(5.9)
    too_early = await graph.send(order_update(to="5491100000001"))
    clock.advance(0.1)
    refilled = await graph.send(order_update(to="5491100000001"))
    again = await graph.send(order_update(to="5491100000001"))

    assert [too_early.status, refilled.status, again.status] == [400, 200, 400]


async def test_the_pair_rate_limits_one_recipient_and_not_the_others(
    graph: GraphClient, clock: FakeClock
) -> None:
    for _ in range(3):
        await graph.send(order_update(to="5491100000001"))
    clock.advance(1.0)

    limited = await graph.send(order_update(to="+54 9 11 0000-0001"))
    other = await graph.send(order_update(to="5491100000002"))

    assert limited.body["error"]["code"] == 131056
    assert other.status == 200
