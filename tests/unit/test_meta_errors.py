"""Meta's error envelopes become ``MetaError`` / ``MetaUnavailable``, classified by one table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mindo_core.adapters.meta import parsing
from mindo_core.adapters.meta.errors import (
    META_CODE_POLICIES,
    PERMANENT,
    UnexpectedMetaResponse,
    error_from_response,
    policy_for,
)
from mindo_core.domain.errors import MetaError, MetaUnavailable

RETRYABLE = {1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057, 133004, 134101}
CAMPAIGN_STOPPING = {0, 3, 10, 33, 190, 368, 131031, 131042, 131045, 133010, 132015, 132016}
CAMPAIGN_STOPPING |= set(range(200, 300))
SLOWING_DOWN = {130429, 131056, 131048, 80007, 4}


def envelope(**error: Any) -> bytes:
    return json.dumps({"error": error}).encode()


def meta_error(status: int, body: bytes) -> MetaError:
    error = error_from_response(status, body)
    assert isinstance(error, MetaError)
    return error


# --------------------------------------------------------------------------------------------
# The table


def test_exactly_the_listed_codes_are_retryable() -> None:
    listed = {code for code, policy in META_CODE_POLICIES.items() if policy.retryable}
    assert listed == RETRYABLE


def test_exactly_the_listed_codes_stop_a_campaign() -> None:
    listed = {code for code, policy in META_CODE_POLICIES.items() if policy.stops_campaign}
    assert listed == CAMPAIGN_STOPPING


def test_exactly_the_listed_codes_ask_to_slow_down() -> None:
    listed = {code for code, policy in META_CODE_POLICIES.items() if policy.slows_down}
    assert listed == SLOWING_DOWN


def test_no_code_is_both_retryable_and_campaign_stopping() -> None:
    assert not RETRYABLE & CAMPAIGN_STOPPING


def test_the_pair_rate_limit_concerns_only_that_recipient() -> None:
    scoped = {code for code, policy in META_CODE_POLICIES.items() if policy.recipient_scoped}
    assert scoped == {131056}


def test_code_1_is_retried_once_only() -> None:
    assert policy_for(1).max_retries == 1
    assert policy_for(131000).max_retries is None


@pytest.mark.parametrize("code", [100, 131026, 131049, 131050, 132000, 132001, 132018, 999999])
def test_codes_not_in_the_table_are_permanent_for_that_request(code: int) -> None:
    assert policy_for(code) == PERMANENT
    assert not PERMANENT.retryable
    assert not PERMANENT.stops_campaign


@pytest.mark.parametrize(("code", "retryable"), [(130429, True), (131056, True), (190, False)])
def test_the_table_sets_meta_errors_retryable_flag(code: int, retryable: bool) -> None:
    error = meta_error(400, envelope(code=code, message=f"(#{code}) Something"))
    assert error.retryable is retryable


# --------------------------------------------------------------------------------------------
# Parsing the envelope


def test_a_full_envelope_is_kept_whole() -> None:
    body = envelope(
        message="(#130429) Rate limit hit",
        type="OAuthException",
        code=130429,
        error_data={"messaging_product": "whatsapp", "details": "Throughput reached."},
        error_subcode=2494055,
        fbtrace_id="Az8or2yhqkZfEZ-_4Qn_Bam",
        is_transient=True,
    )
    error = meta_error(400, body)
    detail = error.detail
    assert detail.meta_code == 130429
    assert detail.title == "Rate limit hit"
    assert detail.details == "Throughput reached."
    assert detail.http_status == 400
    assert detail.subcode == 2494055
    assert detail.fbtrace_id == "Az8or2yhqkZfEZ-_4Qn_Bam"
    assert detail.extra == {"type": "OAuthException", "is_transient": "true"}
    assert error.message == "(#130429) Rate limit hit"


def test_error_data_may_be_a_plain_string() -> None:
    body = envelope(code=100, message="Invalid parameter", error_data="Name is too long")
    assert meta_error(400, body).detail.details == "Name is too long"


def test_details_that_are_not_text_are_kept_as_json() -> None:
    body = envelope(code=100, message="Invalid parameter", error_data={"details": {"field": "x"}})
    assert meta_error(400, body).detail.details == '{"field":"x"}'


def test_error_data_without_details_gives_empty_details() -> None:
    body = envelope(code=131000, message="Something went wrong", error_data={"other": 1})
    assert meta_error(500, body).detail.details == ""


def test_a_bare_code_is_enough() -> None:
    detail = meta_error(400, envelope(code=131000)).detail
    assert (detail.meta_code, detail.title, detail.details) == (131000, "", "")
    assert (detail.subcode, detail.fbtrace_id, dict(detail.extra)) == (None, None, {})


def test_a_code_sent_as_text_is_read_as_a_number() -> None:
    assert meta_error(400, envelope(code="132000")).meta_code == 132000


def test_without_a_code_the_message_prefix_gives_it() -> None:
    error = meta_error(400, envelope(message="(#132001) Template name does not exist"))
    assert error.meta_code == 132001
    assert error.detail.title == "Template name does not exist"


def test_the_user_title_stands_in_for_a_missing_message() -> None:
    body = envelope(code=368, error_user_title="Temporarily blocked", error_user_msg="Policy")
    detail = meta_error(403, body).detail
    assert detail.title == "Temporarily blocked"
    assert detail.extra["error_user_msg"] == "Policy"


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b"",
        b"\xff\xfe not utf-8",
        b'["error"]',
        b'{"error": "just text"}',
        b'{"error": {"message": "no code anywhere"}}',
        b'{"something": "else"}',
    ],
    ids=["html", "empty", "not-utf8", "array", "string-error", "no-code", "no-error-key"],
)
def test_a_body_without_a_usable_envelope_means_meta_is_unavailable(body: bytes) -> None:
    error = error_from_response(503, body)
    assert type(error) is MetaUnavailable
    assert error.retryable
    assert error.reason == "HTTP 503 with no Graph error envelope"


def test_an_unexpected_response_is_a_kind_of_unavailability_that_is_not_retried() -> None:
    error = UnexpectedMetaResponse("odd")
    assert isinstance(error, MetaUnavailable)
    assert error.code == "meta_unavailable"
    assert not error.retryable


# --------------------------------------------------------------------------------------------
# Success bodies that are not the success shape


@pytest.mark.parametrize(
    "document",
    [{}, {"messages": []}, {"messages": [{}]}, {"messages": "x"}, {"messages": [{"id": ""}]}],
)
def test_a_send_answer_without_a_message_id_is_unexpected(document: dict[str, Any]) -> None:
    with pytest.raises(UnexpectedMetaResponse, match=r"messages\[0\]\.id"):
        parsing.send_result(document)


def test_a_send_answer_needs_only_the_message_id() -> None:
    result = parsing.send_result({"messages": [{"id": "wamid.X"}]})
    assert (result.wamid, result.wa_id, result.message_status) == ("wamid.X", "", None)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"'])
def test_a_success_body_must_be_a_json_object(body: bytes) -> None:
    with pytest.raises(UnexpectedMetaResponse, match="HTTP 200"):
        parsing.json_object(body, "HTTP 200 to POST")


def test_a_page_must_carry_a_data_list() -> None:
    with pytest.raises(UnexpectedMetaResponse, match="'data'"):
        parsing.page_items({"paging": {}}, "Graph listing")


def test_a_phone_number_falls_back_to_safe_defaults() -> None:
    info = parsing.phone_number_info({"id": 106540352242922})
    assert info.phone_number_id == "106540352242922"
    assert info.quality_rating == "UNKNOWN"
    assert info.throughput_level == "STANDARD"
    assert info.messaging_limit_tier == "TIER_250"


def test_the_current_messaging_limit_field_wins_over_the_deprecated_one() -> None:
    both = {
        "id": "1",
        "whatsapp_business_manager_messaging_limit": "TIER_2K",
        "messaging_limit_tier": "TIER_1K",
    }
    assert parsing.phone_number_info(both).messaging_limit_tier == "TIER_2K"
    legacy = {"id": "1", "messaging_limit_tier": "TIER_10K"}
    assert parsing.phone_number_info(legacy).messaging_limit_tier == "TIER_10K"


def test_a_template_without_a_name_is_unexpected() -> None:
    with pytest.raises(UnexpectedMetaResponse, match="'name'"):
        parsing.template_info({"id": "1", "language": "en_US"})


def test_a_template_defaults_to_positional_parameters() -> None:
    info = parsing.template_info({"id": "1", "name": "hello", "language": "en_US"})
    assert info.parameter_format == "POSITIONAL"
    assert info.components == ()


# --------------------------------------------------------------------------------------------
# Success bodies read as JSON objects


def test_an_answer_reads_as_the_standard_parser_reads_it_even_beyond_64_bit_integers() -> None:
    # orjson would read this integer as a float, silently: answers keep the standard parser.
    body = b'{"messages": [{"id": "wamid.X"}], "big": 123456789012345678901234567890}'

    assert parsing.json_object(body, "HTTP 200") == json.loads(body)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""])
def test_an_answer_that_is_no_json_object_is_unexpected(body: bytes) -> None:
    with pytest.raises(UnexpectedMetaResponse):
        parsing.json_object(body, "HTTP 200")
