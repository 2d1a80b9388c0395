"""A valid template send is accepted with Meta's exact success body."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from mindo_sandbox import AcceptedMessage, RunningSandbox

from .graph_client import (
    RECIPIENT,
    GraphClient,
    body,
    class_reminder,
    order_update,
    template_payload,
    text,
    welcome_message,
)

WAMID = re.compile(r"wamid\.[A-Za-z0-9+/]+=*")


def verification_code() -> dict[str, Any]:
    components = [body(text("Ana", "name"), text("482913", "code"))]
    return template_payload("verification_code", components)


def invoice_ready() -> dict[str, Any]:
    document = {"link": "https://mindo.example/f-0001.pdf", "filename": "F-0001.pdf"}
    components = [
        {"type": "header", "parameters": [{"type": "document", "document": document}]},
        body(text("F-0001")),
    ]
    return template_payload("invoice_ready", components)


@pytest.mark.parametrize(
    "payload",
    [
        welcome_message(),
        verification_code(),
        order_update(),
        class_reminder(),
        invoice_ready(),
        template_payload("demo_tpl_07", [body(text("valor"))]),
    ],
    ids=lambda p: p["template"]["name"],
)
async def test_each_demo_template_is_accepted_with_the_exact_success_body(
    graph: GraphClient, payload: dict[str, Any]
) -> None:
    answer = await graph.send(payload)

    assert answer.status == 200, answer.body
    wamid = answer.body["messages"][0]["id"]
    assert answer.body == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": RECIPIENT, "wa_id": RECIPIENT}],
        "messages": [{"id": wamid, "message_status": "accepted"}],
    }
    assert WAMID.fullmatch(wamid)


async def test_wamid_carries_the_recipient_like_metas_and_starts_with_hbgn_for_13_digits(
    graph: GraphClient,
) -> None:
    answer = await graph.send(order_update())

    wamid = answer.body["messages"][0]["id"]
    assert wamid.startswith("wamid.HBgN")
    raw = base64.b64decode(wamid.removeprefix("wamid."))
    assert raw[:3] == b"\x1c\x18\x0d"
    assert raw[3:16] == RECIPIENT.encode()


async def test_wamids_are_unique(graph: GraphClient) -> None:
    wamids = set()
    for n in range(40):
        answer = await graph.send(order_update(to=f"54911000000{n:02d}"))
        wamids.add(answer.body["messages"][0]["id"])

    assert len(wamids) == 40


@pytest.mark.parametrize(
    ("to", "wa_id"),
    [
        ("+5491123456789", "5491123456789"),
        ("+54 9 11 2345-6789", "5491123456789"),
        ("1-408-555-1234", "14085551234"),
    ],
)
async def test_to_accepts_plus_spaces_and_dashes_and_wa_id_is_digits_only(
    graph: GraphClient, to: str, wa_id: str
) -> None:
    answer = await graph.send(order_update(to=to))

    assert answer.body["contacts"] == [{"input": to, "wa_id": wa_id}]


async def test_any_graph_version_is_accepted(graph: GraphClient) -> None:
    for version in ("v18.0", "v21.0", "v24.0"):
        answer = await graph.send(order_update(), version=version)
        assert answer.status == 200


async def test_component_and_parameter_details_meta_accepts(graph: GraphClient) -> None:
    payload = welcome_message()
    payload["template"]["language"]["policy"] = "deterministic"
    payload["template"]["components"][0]["type"] = "BODY"  # SDKs send upper case
    payload["template"]["components"][1]["index"] = 0  # pywa sends an integer index
    payload["biz_opaque_callback_data"] = "campaign-42|row-17"

    answer = await graph.send(payload)

    assert answer.status == 200, answer.body


async def test_named_parameters_may_come_in_any_order(graph: GraphClient) -> None:
    components = [body(text("en camino", "status"), text("#1234", "order_id"))]

    answer = await graph.send(template_payload("order_update", components))

    assert answer.status == 200, answer.body


async def test_the_same_name_in_another_language_is_another_template(graph: GraphClient) -> None:
    components = [body(text("#1234", "order_id"), text("on its way", "status"))]

    answer = await graph.send(template_payload("order_update", components, language="en"))

    assert answer.status == 200, answer.body


async def test_every_accepted_send_reaches_the_on_accepted_hook(
    sandbox: RunningSandbox, graph: GraphClient
) -> None:
    accepted: list[AcceptedMessage] = []
    sandbox.state.subscribe_accepted(accepted.append)

    answer = await graph.send(welcome_message())
    await graph.send(template_payload("promo_paused"))

    assert [m.wamid for m in accepted] == [answer.body["messages"][0]["id"]]
    assert accepted[0].template.name == "welcome_message"
    assert accepted[0].wa_id == RECIPIENT
    assert accepted[0].payload == welcome_message()
