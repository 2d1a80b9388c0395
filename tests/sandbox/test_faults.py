"""Injected faults: chosen codes per recipient, server errors, latency and held requests.

Faults are set at runtime with ``PUT /_sandbox/faults`` (or in the config file); their random
draws come from a seed, so a run can be repeated exactly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from mindo_sandbox import FakeClock, FaultConfig, RunningSandbox, SandboxConfig, start_sandbox

from .graph_client import RATE_LIMIT_HIT, GraphClient, assert_graph_error, order_update

UNDELIVERABLE = "5491100000001"
FLAKY = "5491100000002"


async def set_faults(graph: GraphClient, faults: dict[str, Any]) -> None:
    answer = await graph.admin("PUT", "/faults", faults)
    assert answer.status == 200, answer.body


async def test_a_chosen_recipient_always_gets_its_code(graph: GraphClient) -> None:
    await set_faults(graph, {"recipient_errors": {UNDELIVERABLE: 131026}})

    first = await graph.send(order_update(to=UNDELIVERABLE))
    again = await graph.send(order_update(to="+54 9 11 0000-0001"))
    other = await graph.send(order_update(to="5491100000003"))

    message = "(#131026) Message undeliverable"
    assert_graph_error(first, status=400, code=131026, message=message)
    assert_graph_error(again, status=400, code=131026, message=message)
    assert other.status == 200


async def test_a_list_of_codes_is_answered_in_turn_then_sends_succeed(graph: GraphClient) -> None:
    await set_faults(graph, {"recipient_errors": {FLAKY: [131000, 130429]}})

    answers = [await graph.send(order_update(to=FLAKY)) for _ in range(3)]

    something_wrong = "(#131000) Something went wrong"
    assert_graph_error(answers[0], status=500, code=131000, message=something_wrong)
    assert_graph_error(answers[1], status=400, code=130429, message=RATE_LIMIT_HIT)
    assert answers[2].status == 200


async def test_a_server_error_with_the_graph_envelope(graph: GraphClient) -> None:
    await set_faults(graph, {"server_error_rate": 1.0, "server_errors": ["503_graph"]})

    answer = await graph.send(order_update())

    assert_graph_error(answer, status=503, code=2, message="(#2) Service temporarily unavailable")
    assert answer.body["error"]["is_transient"] is True


async def test_a_bare_server_error_has_no_graph_envelope(graph: GraphClient) -> None:
    await set_faults(graph, {"server_error_rate": 1.0, "server_errors": ["500"]})

    answer = await graph.send(order_update())

    assert answer.status == 500
    assert answer.body == "Internal Server Error"


async def test_faults_are_repeatable_from_their_seed(graph: GraphClient) -> None:
    async def run() -> list[int]:
        await set_faults(graph, {"seed": 7, "server_error_rate": 0.5})
        recipients = [f"54911000001{n:02d}" for n in range(20)]
        return [(await graph.send(order_update(to=r))).status for r in recipients]

    first, second = await run(), await run()

    assert first == second
    assert 200 in first
    assert {500, 503} & set(first)


async def test_latency_is_added_to_each_send(
    graph: GraphClient, clock: FakeClock, sandbox: RunningSandbox
) -> None:
    await set_faults(graph, {"latency_ms": [20, 80]})

    for n in range(5):
        await graph.send(order_update(to=f"549110000010{n}"))

    assert len(clock.sleeps) == 5
    assert all(0.020 <= s <= 0.080 for s in clock.sleeps)
    assert all("latency" in r.faults for r in sandbox.state.recorded())


async def test_a_fixed_latency(graph: GraphClient, clock: FakeClock) -> None:
    await set_faults(graph, {"latency_ms": 150})

    await graph.send(order_update())

    assert clock.sleeps == [0.15]


async def test_a_held_send_is_answered_late_and_still_sent(
    graph: GraphClient, clock: FakeClock, sandbox: RunningSandbox
) -> None:
    await set_faults(graph, {"timeout_rate": 1.0, "timeout_hold_ms": 45_000})

    answer = await graph.send(order_update())

    assert clock.sleeps == [45.0]
    assert answer.status == 200
    assert sandbox.state.recorded()[-1].faults == ("timeout",)


async def test_a_send_held_forever_is_never_answered(
    graph: GraphClient, sandbox: RunningSandbox
) -> None:
    await set_faults(graph, {"timeout_rate": 1.0, "timeout_hold_ms": None})

    with pytest.raises(asyncio.TimeoutError):
        await graph.send_with_timeout(order_update(), seconds=0.2)

    assert sandbox.state.recorded() == ()  # recorded once it is answered: never


async def test_faults_can_come_from_the_config(clock: FakeClock) -> None:
    faults = FaultConfig.from_json({"recipient_errors": {UNDELIVERABLE: 131049}})
    config = SandboxConfig.demo()
    sandbox = await start_sandbox(
        SandboxConfig(wabas=config.wabas, limits=config.limits, faults=faults), clock=clock
    )
    try:
        async with aiohttp.ClientSession() as session:
            answer = await GraphClient(session, sandbox.url).send(order_update(to=UNDELIVERABLE))
    finally:
        await sandbox.stop()

    assert answer.body["error"]["code"] == 131049


async def test_the_record_says_which_faults_were_injected(
    graph: GraphClient, sandbox: RunningSandbox
) -> None:
    await set_faults(graph, {"recipient_errors": {UNDELIVERABLE: 131026}})

    await graph.send(order_update(to=UNDELIVERABLE))
    await graph.send(order_update())

    records = sandbox.state.recorded()
    assert [(r.error_code, r.faults) for r in records] == [
        (131026, ("recipient_error",)),
        (None, ()),
    ]


async def test_invalid_faults_are_refused_and_the_old_ones_kept(graph: GraphClient) -> None:
    await set_faults(graph, {"latency_ms": 10})

    refused = await graph.admin("PUT", "/faults", {"server_error_rate": 2})
    current = await graph.admin("GET", "/faults")

    assert refused.status == 400
    assert "server_error_rate" in refused.body["error"]
    assert current.body["latency_ms"] == [10.0, 10.0]
