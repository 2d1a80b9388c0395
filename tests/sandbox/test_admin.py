"""The record of received requests, and the admin API that changes the sandbox at runtime."""

from __future__ import annotations

import json
from dataclasses import replace

import aiohttp

from mindo_sandbox import FakeClock, LimitsConfig, RunningSandbox, SandboxConfig, start_sandbox

from .graph_client import (
    DEMO_NUMBER,
    DEMO_TOKEN,
    DEMO_WABA,
    GraphClient,
    assert_graph_error,
    body,
    order_update,
    template_payload,
    text,
)


async def test_each_send_is_recorded_with_its_exact_payload_and_outcome(
    graph: GraphClient, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    accepted = await graph.send(order_update())
    refused = await graph.send(template_payload("promo_paused"))

    first, second = sandbox.state.recorded()
    assert (first.method, first.path) == ("POST", f"/v21.0/{DEMO_NUMBER}/messages")
    assert first.body == order_update()
    assert (first.status, first.wamid, first.error_code) == (
        200,
        accepted.body["messages"][0]["id"],
        None,
    )
    assert first.at == clock.time()
    assert second.body == template_payload("promo_paused")
    assert (second.status, second.wamid, second.error_code) == (400, None, 132015)
    assert refused.body["error"]["code"] == 132015


async def test_the_record_is_served_by_the_admin_api(graph: GraphClient) -> None:
    accepted = await graph.send(order_update())

    answer = await graph.admin("GET", "/requests")

    [record] = answer.body["data"]
    assert record["body"] == order_update()
    assert record["wamid"] == accepted.body["messages"][0]["id"]
    assert record["status"] == 200
    assert record["seq"] == 1


async def test_tokens_never_appear_in_the_record(graph: GraphClient) -> None:
    await graph.send(order_update())
    await graph.get(f"/v21.0/{DEMO_NUMBER}", token=None, params={"access_token": DEMO_TOKEN})

    answer = await graph.admin("GET", "/requests")

    header_record, query_record = answer.body["data"]
    assert header_record["headers"]["Authorization"] == "Bearer ***"
    assert query_record["query"] == {"access_token": "***"}
    assert DEMO_TOKEN not in json.dumps(answer.body)


async def test_the_record_can_be_read_incrementally_and_cleared(graph: GraphClient) -> None:
    for _ in range(3):
        await graph.send(order_update())

    after_first = await graph.admin("GET", "/requests?since=1")
    last = await graph.admin("GET", "/requests?limit=1")
    cleared = await graph.admin("DELETE", "/requests")
    empty = await graph.admin("GET", "/requests")

    assert [r["seq"] for r in after_first.body["data"]] == [2, 3]
    assert [r["seq"] for r in last.body["data"]] == [3]
    assert cleared.status == 204
    assert empty.body == {"data": []}


async def test_the_record_keeps_only_the_most_recent_requests(clock: FakeClock) -> None:
    demo = SandboxConfig.demo()
    sandbox = await start_sandbox(replace(demo, limits=LimitsConfig(max_recorded=2)), clock=clock)
    try:
        async with aiohttp.ClientSession() as session:
            graph = GraphClient(session, sandbox.url)
            for n in range(3):
                await graph.send(order_update(to=f"549110000000{n}"))
    finally:
        await sandbox.stop()

    assert [r.body["to"] for r in sandbox.state.recorded()] == ["5491100000001", "5491100000002"]


async def test_a_template_status_can_change_at_runtime(graph: GraphClient) -> None:
    template = {"name": "order_update", "language": "es"}
    paused = await graph.admin("POST", f"/templates/{DEMO_WABA}", {**template, "status": "PAUSED"})
    refused = await graph.send(order_update())
    await graph.admin("POST", f"/templates/{DEMO_WABA}", {**template, "status": "APPROVED"})
    accepted = await graph.send(order_update())

    assert paused.body["status"] == "PAUSED"
    assert paused.body["parameter_format"] == "NAMED"  # the fields not given are kept
    assert_graph_error(refused, status=400, code=132015, message="(#132015) Template is Paused")
    assert accepted.status == 200


async def test_a_new_template_can_be_added_at_runtime(graph: GraphClient) -> None:
    coupon = {
        "name": "coupon_offer",
        "language": "es_AR",
        "category": "MARKETING",
        "components": [
            {"type": "BODY", "text": "Tu cupon: {{1}}"},
            {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SAVE20"}]},
        ],
    }
    added = await graph.admin("POST", f"/templates/{DEMO_WABA}", coupon)
    button = {
        "type": "button",
        "sub_type": "copy_code",
        "index": 0,
        "parameters": [{"type": "coupon_code", "coupon_code": "SAVE20"}],
    }

    sent = await graph.send(
        template_payload("coupon_offer", [body(text("SAVE20")), button], language="es_AR")
    )
    listed = await graph.get(
        f"/v21.0/{DEMO_WABA}/message_templates", params={"name": "coupon_offer"}
    )

    assert added.status == 200
    assert added.body["status"] == "APPROVED"
    assert sent.status == 200, sent.body
    assert listed.body["data"] == [added.body]


async def test_a_phone_numbers_quality_and_limit_can_change_at_runtime(graph: GraphClient) -> None:
    changes = {"quality_rating": "YELLOW", "whatsapp_business_manager_messaging_limit": "TIER_10K"}
    patched = await graph.admin("PATCH", f"/phone_numbers/{DEMO_NUMBER}", changes)

    number = await graph.get(f"/v21.0/{DEMO_NUMBER}")

    assert patched.status == 200
    assert number.body["quality_rating"] == "YELLOW"
    assert number.body["whatsapp_business_manager_messaging_limit"] == "TIER_10K"


async def test_admin_requests_about_unknown_things_are_refused(graph: GraphClient) -> None:
    unknown_number = await graph.admin("PATCH", "/phone_numbers/42", {"throughput_mps": 1})
    unknown_field = await graph.admin("PATCH", f"/phone_numbers/{DEMO_NUMBER}", {"color": "red"})
    unknown_waba = await graph.admin("POST", "/templates/42", {"name": "x", "language": "es"})
    nameless = await graph.admin("POST", f"/templates/{DEMO_WABA}", {"language": "es"})

    assert [
        unknown_number.status,
        unknown_field.status,
        unknown_waba.status,
        nameless.status,
    ] == [404, 400, 404, 400]
    assert "color" in unknown_field.body["error"]


async def test_health(graph: GraphClient) -> None:
    answer = await graph.admin("GET", "/health")

    assert answer.body == {"status": "ok"}
