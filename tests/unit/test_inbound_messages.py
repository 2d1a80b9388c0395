"""Meta's inbound ``messages`` webhooks read into ``InboundMessage``s, the time account events
carry, and the 24-hour customer-service window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mindo_core.contacts.model import SESSION_WINDOW, session_window
from mindo_core.delivery.webhook_payloads import (
    MAX_INBOUND_TEXT,
    InboundMessage,
    MarketingPreference,
    parse_webhook,
)
from tests.webhook_bodies import (
    capability_body,
    inbound_body,
    inbound_item,
    preferences_body,
    quality_body,
    template_status_body,
    text_item,
)

AT = datetime(2026, 12, 6, 19, 12, 25, tzinfo=UTC)
WABA = "102290129340398"
NUMBER = "106540352242922"


def read_one(item: dict[str, Any], **options: Any) -> InboundMessage:
    (message,) = parse_webhook(inbound_body(WABA, NUMBER, [item], **options)).inbound
    return message


def test_a_text_message_is_read_with_its_sender_as_e164_and_profile_name() -> None:
    message = read_one(text_item("wamid.T", AT, "Hola, ¿tienen stock?"))

    assert message == InboundMessage(
        wamid="wamid.T",
        phone_number_id=NUMBER,
        sender_phone="+5492235961983",
        at=AT,
        type="text",
        profile_name="Juan Perez",
        text="Hola, ¿tienen stock?",
    )


def test_a_quick_reply_button_keeps_its_text_payload_and_the_message_replied_to() -> None:
    item = inbound_item(
        "wamid.B", AT, "button", {"payload": "STOP_PROMOS", "text": "No"}, context="wamid.SENT"
    )
    message = read_one(item)
    assert (message.type, message.text, message.payload) == ("button", "No", "STOP_PROMOS")
    assert message.context_wamid == "wamid.SENT"


@pytest.mark.parametrize("reply", ["button_reply", "list_reply"])
def test_an_interactive_reply_keeps_its_title_and_id(reply: str) -> None:
    content = {"type": reply, reply: {"id": "opt-2", "title": "Mañana"}}
    message = read_one(inbound_item("wamid.I", AT, "interactive", content))
    assert (message.type, message.text, message.payload) == ("interactive", "Mañana", "opt-2")


def test_media_keeps_its_caption() -> None:
    content = {"id": "media-1", "mime_type": "image/jpeg", "caption": "El recibo"}
    message = read_one(inbound_item("wamid.M", AT, "image", content))
    assert (message.type, message.text) == ("image", "El recibo")


def test_a_reaction_keeps_its_emoji_and_the_message_reacted_to() -> None:
    content = {"message_id": "wamid.SENT", "emoji": "👍"}
    message = read_one(inbound_item("wamid.R", AT, "reaction", content))
    assert (message.type, message.text, message.context_wamid) == ("reaction", "👍", "wamid.SENT")


def test_an_unknown_type_is_kept_without_text() -> None:
    message = read_one(inbound_item("wamid.L", AT, "location", {"latitude": 1, "longitude": 2}))
    assert (message.type, message.text, message.payload) == ("location", None, None)


def test_a_sender_without_a_profile_has_no_name() -> None:
    assert read_one(text_item("wamid.N", AT), name=None).profile_name is None


def test_a_mexican_sender_old_mobile_form_is_normalised() -> None:
    item = text_item("wamid.MX", AT, sender="5215512345678")
    message = read_one(item, sender="5215512345678")
    assert message.sender_phone == "+525512345678"


def test_text_longer_than_meta_allows_is_cut_to_its_limit() -> None:
    message = read_one(text_item("wamid.LONG", AT, "a" * (MAX_INBOUND_TEXT + 100)))
    assert message.text == "a" * MAX_INBOUND_TEXT


@pytest.mark.parametrize(
    "broken",
    [
        {"from": "not-a-phone"},
        {"from": "1"},
        {"id": ""},
        {"id": "wamid." + "A" * 200},
        {"timestamp": "yesterday"},
        {"type": None},
    ],
)
def test_a_message_that_cannot_be_read_is_skipped_alone(broken: dict[str, object]) -> None:
    good = text_item("wamid.OK", AT)
    bad = {**text_item("wamid.BAD", AT), **broken}

    batch = parse_webhook(inbound_body(WABA, NUMBER, [bad, good]))

    assert [m.wamid for m in batch.inbound] == ["wamid.OK"]
    assert batch.ignored == 1


def test_statuses_and_messages_in_one_change_are_both_read() -> None:
    value = json.loads(inbound_body(WABA, NUMBER, [text_item("wamid.T", AT)]))
    change = value["entry"][0]["changes"][0]["value"]
    change["statuses"] = [
        {"id": "wamid.S", "status": "read", "timestamp": str(int(AT.timestamp()))}
    ]

    batch = parse_webhook(json.dumps(value).encode())

    assert [s.wamid for s in batch.statuses] == ["wamid.S"]
    assert [m.wamid for m in batch.inbound] == ["wamid.T"]


def test_account_events_carry_the_entry_time() -> None:
    bodies = [
        template_status_body(WABA, "11", "order_update", "es", "PAUSED", at=AT),
        quality_body(WABA, "15550783881", "UPGRADE", "TIER_10K", at=AT),
        capability_body(WABA, 10_000, at=AT),
    ]
    events = [event for body in bodies for event in parse_webhook(body).account_events]
    assert [event.at for event in events] == [AT, AT, AT]
    assert parse_webhook(capability_body(WABA, 10_000)).account_events[0].at is None


@pytest.mark.parametrize(("choice", "stop"), [("stop", True), ("resume", False)])
def test_a_marketing_preference_is_read(choice: str, stop: bool) -> None:
    batch = parse_webhook(preferences_body(WABA, NUMBER, "5492235961983", choice, AT))
    assert batch.preferences == (
        MarketingPreference(phone_number_id=NUMBER, phone="+5492235961983", at=AT, stop=stop),
    )


def test_a_preference_of_another_category_is_ignored() -> None:
    body = json.loads(preferences_body(WABA, NUMBER, "5492235961983", "stop", AT))
    body["entry"][0]["changes"][0]["value"]["user_preferences"][0]["category"] = "other"
    batch = parse_webhook(json.dumps(body).encode())
    assert (batch.preferences, batch.ignored) == ((), 1)


# -- the 24-hour window ------------------------------------------------------------------------


def test_no_message_no_window() -> None:
    window = session_window(None, AT)
    assert (window.has_replied, window.last_reply_at, window.active, window.expires_at) == (
        False,
        None,
        False,
        None,
    )


@pytest.mark.parametrize(
    ("elapsed", "active"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (SESSION_WINDOW, False),
        (timedelta(days=3), False),
    ],
)
def test_the_window_is_open_for_24_hours_after_the_last_message(
    elapsed: timedelta, active: bool
) -> None:
    window = session_window(AT, AT + elapsed)
    assert window.has_replied
    assert window.last_reply_at == AT
    assert window.active is active
    assert window.expires_at == AT + timedelta(hours=24)
