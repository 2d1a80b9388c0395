"""Meta's webhooks read into events; a body is trusted only with its signature."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mindo_core.delivery.webhook_payloads import (
    CapabilityChange,
    NumberQualityChange,
    TemplateStatusChange,
    WebhookSignatureInvalid,
    parse_webhook,
    sign,
    verify_signature,
)
from mindo_core.domain.errors import InvalidRequest

SECRET = "app-secret"


def envelope(field: str, value: dict[str, object], waba: str = "102290129340398") -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": waba, "changes": [{"value": value, "field": field}]}],
        }
    ).encode()


STATUS_BODY = envelope(
    "messages",
    {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "statuses": [
            {
                "id": "wamid.A",
                "status": "sent",
                "timestamp": "1750030073",
                "recipient_id": "16505551234",
                "biz_opaque_callback_data": "mindo:b1:7",
            },
            {
                "id": "wamid.B",
                "status": "failed",
                "timestamp": "1750030080",
                "recipient_id": "16505550000",
                "errors": [
                    {
                        "code": 131049,
                        "title": "This message was not delivered to maintain healthy "
                        "ecosystem engagement.",
                        "error_data": {"details": "In order to maintain a healthy ecosystem…"},
                    }
                ],
            },
            {"id": "wamid.C", "status": "played", "timestamp": "1750030080"},
        ],
    },
)


def test_a_correct_signature_is_accepted() -> None:
    verify_signature(STATUS_BODY, sign(STATUS_BODY, SECRET), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=abc",
        "sha256=" + "0" * 64,
        sign(b"other body", SECRET),
        sign(STATUS_BODY, "x"),
    ],
)
def test_missing_or_wrong_signatures_are_refused(header: str | None) -> None:
    with pytest.raises(WebhookSignatureInvalid):
        verify_signature(STATUS_BODY, header, SECRET)


def test_a_body_altered_after_signing_is_refused() -> None:
    header = sign(STATUS_BODY, SECRET)
    with pytest.raises(WebhookSignatureInvalid):
        verify_signature(STATUS_BODY.replace(b"sent", b"read", 1), header, SECRET)


def test_without_an_app_secret_nothing_is_trusted() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        verify_signature(STATUS_BODY, sign(STATUS_BODY, ""), "")


@given(st.binary(max_size=512))
def test_any_body_verifies_only_with_its_own_signature(body: bytes) -> None:
    verify_signature(body, sign(body, SECRET), SECRET)
    with pytest.raises(WebhookSignatureInvalid):
        verify_signature(body + b"x", sign(body, SECRET), SECRET)


def test_statuses_are_read_with_their_time_callback_data_and_error() -> None:
    batch = parse_webhook(STATUS_BODY)

    sent, failed = batch.statuses
    assert (sent.wamid, sent.status, sent.callback_data) == ("wamid.A", "sent", "mindo:b1:7")
    assert sent.at == datetime.fromtimestamp(1750030073, tz=UTC)
    assert sent.phone_number_id == "106540352242922"
    assert (failed.status, failed.error_code) == ("failed", 131049)
    assert str(failed.error_title).startswith("This message was not delivered")
    assert batch.ignored == 1  # "played" is not a template message's status


def test_account_events_are_read() -> None:
    template = parse_webhook(
        envelope(
            "message_template_status_update",
            {
                "event": "PAUSED",
                "message_template_id": 1689556908129832,
                "message_template_name": "order_confirmation",
                "message_template_language": "en_US",
                "reason": "NONE",
            },
        )
    )
    quality = parse_webhook(
        envelope(
            "phone_number_quality_update",
            {
                "display_phone_number": "15550783881",
                "event": "THROUGHPUT_UPGRADE",
                "max_daily_conversations_per_business": "TIER_UNLIMITED",
            },
        )
    )
    capability = parse_webhook(
        envelope("business_capability_update", {"max_daily_conversations_per_business": -1})
    )

    assert template.account_events == (
        TemplateStatusChange(
            waba_id="102290129340398",
            meta_template_id="1689556908129832",
            name="order_confirmation",
            language="en_US",
            event="PAUSED",
            reason="NONE",
        ),
    )
    assert quality.account_events == (
        NumberQualityChange(
            waba_id="102290129340398",
            display_phone_number="15550783881",
            event="THROUGHPUT_UPGRADE",
            messaging_limit="TIER_UNLIMITED",
        ),
    )
    assert capability.account_events == (
        CapabilityChange(waba_id="102290129340398", max_daily_conversations=-1),
    )


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"entry": 3}', b"\xff\xfe"])
def test_a_malformed_body_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        parse_webhook(body)


def test_unknown_fields_and_shapes_are_skipped_not_fatal() -> None:
    batch = parse_webhook(envelope("account_alerts", {"alert_type": "X"}))
    assert (batch.statuses, batch.account_events, batch.ignored) == ((), (), 1)


def test_a_signature_with_non_ascii_characters_is_refused_not_an_error() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        verify_signature(STATUS_BODY, "sha256=" + "ñ" * 64, SECRET)


def test_json_nested_too_deeply_is_a_malformed_body() -> None:
    with pytest.raises(InvalidRequest, match="nested too deeply"):
        parse_webhook(b"[" * 200_000 + b"]" * 200_000)


@pytest.mark.parametrize(
    "absurd",
    [
        {"errors": [{"code": 2**80, "title": "x"}]},
        {"errors": [{"code": -1, "title": "x"}]},
        {"id": "wamid." + "A" * 200},
        {"recipient_id": "1" * 40},
    ],
)
def test_a_status_with_a_value_no_column_holds_is_skipped_alone(
    absurd: dict[str, object],
) -> None:
    fine = {"id": "wamid.OK", "status": "delivered", "timestamp": "1750030073"}
    odd = {"id": "wamid.ODD", "status": "failed", "timestamp": "1750030080"} | absurd
    batch = parse_webhook(envelope("messages", {"statuses": [fine, odd]}))

    assert [s.wamid for s in batch.statuses] == ["wamid.OK"]
    assert batch.ignored == 1
