"""The record of received requests keeps every body as sent, and costs the garbage collector
nothing: a long record must not lengthen the sandbox's pauses (a pause makes the sends that
queued during it reach the throughput limit together, a 130429 that Meta would not answer).
"""

from __future__ import annotations

import gc

from mindo_sandbox import FakeClock, RunningSandbox

from .graph_client import DEMO_NUMBER, GraphClient, order_update


async def test_a_body_that_is_not_json_is_recorded_as_its_text(
    graph: GraphClient, sandbox: RunningSandbox
) -> None:
    url = f"{graph.base_url}/v21.0/{DEMO_NUMBER}/messages"
    await graph.request("POST", url, token="sandbox-demo-token", data=b"to=549")
    await graph.get(f"/v21.0/{DEMO_NUMBER}")

    listed = await graph.admin("GET", "/requests")

    [form, without_body] = sandbox.state.recorded()
    assert (form.body, without_body.body) == ("to=549", None)
    assert [r["body"] for r in listed.body["data"]] == ["to=549", None]


async def test_recorded_requests_leave_no_object_for_the_garbage_collector_to_track(
    graph: GraphClient, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    await _send_many(graph, clock, 20, start=0)
    gc.collect()
    tracked_before = len(gc.get_objects())

    await _send_many(graph, clock, 300, start=1_000)
    gc.collect()
    tracked_after = len(gc.get_objects())

    assert len(sandbox.state.recorded()) == 320
    # Kept as objects and parsed JSON, each record was six tracked objects (1,800 here).
    assert tracked_after - tracked_before < 100


async def _send_many(graph: GraphClient, clock: FakeClock, count: int, *, start: int) -> None:
    for i in range(start, start + count):
        answer = await graph.send(order_update(to=f"54911{40_000_000 + i}"))
        assert answer.status == 200, answer.body
        clock.advance(0.1)  # within the demo number's throughput
