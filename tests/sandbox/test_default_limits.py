"""Meta's own numbers apply by default: 80 messages/s per number, a burst of 45 to one user.

Time is a fake clock: the tests move it, nothing sleeps.
"""

from __future__ import annotations

from mindo_sandbox import FakeClock

from .graph_client import (
    RATE_LIMIT_HIT,
    GraphClient,
    assert_graph_error,
    order_update,
    recipients,
    send_all,
    statuses,
)


async def test_the_46th_message_in_a_burst_to_one_user_is_refused(
    graph: GraphClient, clock: FakeClock
) -> None:
    codes = []
    for _ in range(46):
        answer = await graph.send(order_update())
        codes.append(answer.body.get("error", {}).get("code"))
        clock.advance(0.1)  # 4.6 s in all: less than one refill (6 s)

    assert codes == [None] * 45 + [131056]


async def test_within_one_second_exactly_mps_sends_pass_and_the_rest_get_130429(
    graph: GraphClient,
) -> None:
    answers = await send_all(graph, recipients(100))

    assert statuses(answers) == [200] * 80 + [400] * 20
    refused = [a for a in answers if a.status != 200]
    for answer in refused:
        details = assert_graph_error(answer, status=400, code=130429, message=RATE_LIMIT_HIT)
        assert details == "Cloud API message throughput has been reached."


async def test_the_next_second_brings_a_fresh_allowance(
    graph: GraphClient, clock: FakeClock
) -> None:
    await send_all(graph, recipients(80))
    refused = await graph.send(order_update(to="5491199999999"))
    clock.advance(1.0)

    answers = await send_all(graph, recipients(81, start=100))

    assert refused.status == 400
    assert statuses(answers) == [200] * 80 + [400]
