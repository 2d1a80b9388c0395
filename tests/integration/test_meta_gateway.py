"""``HttpMetaGateway`` against a real HTTP server on 127.0.0.1 (see ``fake_meta``)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from mindo_core.adapters.meta import HttpMetaGateway, UnexpectedMetaResponse
from mindo_core.domain.errors import InvalidRequest, MetaError, MetaUnavailable

from .fake_meta import FakeMeta, Responder, json_response, send_success

TOKEN = "EAAG-secret-token-123"
PAYLOAD: dict[str, Any] = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "16505551234",
    "type": "template",
    "template": {"name": "order_update", "language": {"code": "en_US"}, "components": []},
}


@pytest.fixture
async def meta() -> AsyncIterator[FakeMeta]:
    server = FakeMeta()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def elsewhere() -> AsyncIterator[FakeMeta]:
    """A second server: same host, another port, so another origin."""
    server = FakeMeta()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def gateway(meta: FakeMeta) -> AsyncIterator[HttpMetaGateway]:
    client = HttpMetaGateway(base_url=meta.base_url, total_timeout=10)
    yield client
    await client.close()


async def send(gateway: HttpMetaGateway, phone_number_id: str = "106540352242922") -> Any:
    return await gateway.send_template(
        phone_number_id=phone_number_id, access_token=TOKEN, payload=PAYLOAD
    )


def answer(document: Any, status: int = 200) -> Responder:
    async def respond(request: web.Request) -> web.StreamResponse:
        return json_response(document, status)

    return respond


# --------------------------------------------------------------------------------------------
# Sending


async def test_a_send_returns_the_wamid_the_contact_and_the_pacing_status(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    meta.respond = answer(send_success(wamid="wamid.ABC", wa_id="16505551234"))
    result = await send(gateway)
    assert (result.wamid, result.wa_id, result.message_status) == (
        "wamid.ABC",
        "16505551234",
        "accepted",
    )


async def test_a_send_posts_the_payload_as_json_with_the_bearer_token(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    meta.respond = answer(send_success())
    await send(gateway, "106540352242922")
    [request] = meta.requests
    assert request.method == "POST"
    assert request.path == "/v21.0/106540352242922/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == PAYLOAD


@pytest.mark.parametrize(("version", "prefix"), [("21.0", "/v21.0/"), ("v23.0", "/v23.0/")])
async def test_the_api_version_may_be_given_with_or_without_its_v(
    meta: FakeMeta, version: str, prefix: str
) -> None:
    meta.respond = answer(send_success())
    client = HttpMetaGateway(base_url=meta.base_url + "/", api_version=version)
    try:
        await send(client, "PN1")
    finally:
        await client.close()
    assert meta.requests[0].path == f"{prefix}PN1/messages"


def test_a_malformed_api_version_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="api_version"):
        HttpMetaGateway(api_version="latest")


def test_construction_needs_no_event_loop_and_shows_no_secret() -> None:
    client = HttpMetaGateway(base_url="http://127.0.0.1:9")
    assert repr(client) == "HttpMetaGateway(root='http://127.0.0.1:9/v21.0')"


@pytest.mark.parametrize("phone_number_id", ["", "..", "."])
async def test_an_id_that_is_not_a_path_segment_is_refused_before_any_request(
    meta: FakeMeta, gateway: HttpMetaGateway, phone_number_id: str
) -> None:
    with pytest.raises(InvalidRequest):
        await send(gateway, phone_number_id)
    assert meta.requests == []


@pytest.mark.parametrize("token", ["", "abc\r\nX-Injected: 1", "tök", "two words"])
async def test_a_token_that_cannot_be_a_header_is_refused_without_being_shown(
    meta: FakeMeta, gateway: HttpMetaGateway, token: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await gateway.send_template(phone_number_id="1", access_token=token, payload=PAYLOAD)
    assert raised.value.field_errors.keys() == {"access_token"}
    assert not token or token not in str(raised.value)
    assert meta.requests == []


async def test_an_id_cannot_add_path_segments_or_a_query(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    meta.respond = answer(send_success())
    await send(gateway, "1/../2?x=y")
    assert meta.requests[0].path == "/v21.0/1/../2?x=y/messages"
    assert meta.requests[0].query == {}


async def test_two_hundred_sends_are_in_flight_at_once(meta: FakeMeta) -> None:
    count = 200
    everyone_arrived = asyncio.Event()

    async def respond_when_all_arrived(request: web.Request) -> web.StreamResponse:
        if len(meta.requests) == count:
            everyone_arrived.set()
        # Nobody is answered before all 200 are waiting: only true concurrency gets through.
        await everyone_arrived.wait()
        return json_response(send_success(wamid=f"wamid.{request.match_info['tail']}"))

    meta.respond = respond_when_all_arrived
    client = HttpMetaGateway(base_url=meta.base_url, total_timeout=10)
    try:
        results = await asyncio.gather(*(send(client, f"PN{i}") for i in range(count)))
    finally:
        await client.close()
    assert sorted(r.wamid for r in results) == sorted(
        f"wamid.v21.0/PN{i}/messages" for i in range(count)
    )


async def test_the_gateway_works_again_after_close(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    meta.respond = answer(send_success())
    await send(gateway)
    await gateway.close()
    await send(gateway)
    assert len(meta.requests) == 2


# --------------------------------------------------------------------------------------------
# Errors


async def test_meta_s_error_envelope_becomes_a_meta_error(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    meta.respond = answer(
        {
            "error": {
                "message": "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                "type": "OAuthException",
                "code": 131056,
                "error_data": {"messaging_product": "whatsapp", "details": "Too many messages"},
                "fbtrace_id": "Az8or2yhqkZfEZ",
            }
        },
        status=400,
    )
    with pytest.raises(MetaError) as raised:
        await send(gateway)
    error = raised.value
    assert error.meta_code == 131056
    assert error.retryable
    assert error.detail.details == "Too many messages"
    assert error.detail.http_status == 400
    assert error.detail.fbtrace_id == "Az8or2yhqkZfEZ"


async def test_a_permanent_error_is_not_retryable(meta: FakeMeta, gateway: HttpMetaGateway) -> None:
    meta.respond = answer({"error": {"code": 132001, "message": "(#132001) No template"}}, 404)
    with pytest.raises(MetaError) as raised:
        await send(gateway)
    assert (raised.value.meta_code, raised.value.retryable) == (132001, False)


async def test_a_503_without_an_envelope_means_meta_is_unavailable(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    async def respond(request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, text="<html>Service Unavailable</html>")

    meta.respond = respond
    with pytest.raises(MetaUnavailable) as raised:
        await send(gateway)
    assert type(raised.value) is MetaUnavailable
    assert raised.value.retryable
    assert "HTTP 503" in raised.value.reason


async def test_a_200_that_is_not_a_send_result_is_unexpected_and_not_retried(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    meta.respond = answer({"success": True})
    with pytest.raises(UnexpectedMetaResponse, match=r"messages\[0\]\.id") as raised:
        await send(gateway)
    assert not raised.value.retryable


async def test_an_error_envelope_under_a_200_is_still_a_meta_error(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    meta.respond = answer({"error": {"code": 131000, "message": "(#131000) Something"}})
    with pytest.raises(MetaError) as raised:
        await send(gateway)
    assert raised.value.meta_code == 131000


async def test_no_answer_before_the_timeout_means_meta_is_unavailable(meta: FakeMeta) -> None:
    released = asyncio.Event()

    async def never_answer(request: web.Request) -> web.StreamResponse:
        await released.wait()
        return json_response(send_success())

    meta.respond = never_answer
    client = HttpMetaGateway(base_url=meta.base_url, total_timeout=0.2)
    try:
        with pytest.raises(MetaUnavailable, match="timeout") as raised:
            await send(client)
    finally:
        released.set()
        await client.close()
    assert raised.value.retryable
    assert raised.value.maybe_sent  # the request left: Meta may have sent it


async def test_a_send_is_bounded_by_the_callers_time_left_within_its_own_timeout(
    meta: FakeMeta,
) -> None:
    released = asyncio.Event()

    async def never_answer(request: web.Request) -> web.StreamResponse:
        await released.wait()
        return json_response(send_success())

    meta.respond = never_answer
    client = HttpMetaGateway(base_url=meta.base_url, total_timeout=60, send_timeout=30)
    started = time.monotonic()
    try:
        with pytest.raises(MetaUnavailable, match="timeout"):
            await client.send_template(
                phone_number_id="106540352242922",
                access_token=TOKEN,
                payload=PAYLOAD,
                max_seconds=0.3,
            )
    finally:
        released.set()
        await client.close()
    assert time.monotonic() - started < 5


async def test_each_call_kind_has_its_own_timeout(meta: FakeMeta) -> None:
    released = asyncio.Event()

    async def never_answer(request: web.Request) -> web.StreamResponse:
        await released.wait()
        return json_response({"data": []})

    meta.respond = never_answer
    client = HttpMetaGateway(base_url=meta.base_url, send_timeout=60, list_timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(MetaUnavailable, match="timeout"):
            await client.list_templates(waba_id="1", access_token=TOKEN)
    finally:
        released.set()
        await client.close()
    assert time.monotonic() - started < 5


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port that is bound but not listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_a_refused_connection_means_meta_is_unavailable(refusing_port: int) -> None:
    client = HttpMetaGateway(base_url=f"http://127.0.0.1:{refusing_port}")
    try:
        with pytest.raises(MetaUnavailable) as raised:
            await send(client)
    finally:
        await client.close()
    assert type(raised.value) is MetaUnavailable
    assert TOKEN not in raised.value.reason
    assert not raised.value.maybe_sent  # no connection, nothing sent


async def test_the_token_never_appears_in_an_error_even_when_a_server_echoes_it(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    async def echo_the_token(request: web.Request) -> web.StreamResponse:
        auth = request.headers["Authorization"]
        error = {"code": 190, "message": f"(#190) bad {auth}", "error_data": auth, "type": auth}
        return json_response({"error": error, "fbtrace_id": auth}, 401)

    meta.respond = echo_the_token
    with pytest.raises(MetaError) as raised:
        await send(gateway)
    error = raised.value
    assert error.meta_code == 190
    for text in (str(error), repr(error), repr(error.detail)):
        assert TOKEN not in text
    assert "[redacted]" in error.detail.details


async def test_a_redirect_is_not_followed_with_the_token(
    meta: FakeMeta, elsewhere: FakeMeta, gateway: HttpMetaGateway
) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{elsewhere.base_url}/v21.0/PN1/messages")

    meta.respond = redirect
    elsewhere.respond = answer(send_success())
    with pytest.raises(UnexpectedMetaResponse, match="redirect"):
        await send(gateway)
    assert elsewhere.requests == []


# --------------------------------------------------------------------------------------------
# Listings and paging


def template(n: int) -> dict[str, Any]:
    return {
        "id": str(1000 + n),
        "name": f"template_{n}",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Hi {{1}}"}],
    }


def paged(pages: list[list[dict[str, Any]]], next_base: str) -> Responder:
    """Pages selected by the ``after`` cursor; ``next`` links built on ``next_base``, carrying
    the token in the query the way Graph echoes it."""

    async def respond(request: web.Request) -> web.StreamResponse:
        index = int(request.query.get("after", "0"))
        document: dict[str, Any] = {"data": pages[index], "paging": {"cursors": {}}}
        if index + 1 < len(pages):
            after = str(index + 1)
            document["paging"]["cursors"]["after"] = after
            document["paging"]["next"] = (
                f"{next_base}{request.path}?access_token={TOKEN}&limit=100&after={after}"
            )
        return json_response(document)

    return respond


async def test_templates_are_read_across_every_page(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    pages = [[template(1), template(2)], [template(3)], [template(4)], [template(5)]]
    meta.respond = paged(pages, next_base=meta.base_url)
    templates = await gateway.list_templates(waba_id="WABA1", access_token=TOKEN)
    assert [t.name for t in templates] == [f"template_{n}" for n in range(1, 6)]
    assert len(meta.requests) == 4
    first = meta.requests[0]
    assert first.path == "/v21.0/WABA1/message_templates"
    assert first.query == {
        "fields": "id,name,language,status,category,parameter_format,components",
        "limit": "100",
    }
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in meta.requests)
    assert all("access_token" not in r.query for r in meta.requests)


async def test_a_template_is_mapped_with_its_components(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    meta.respond = paged([[{**template(1), "parameter_format": "NAMED"}]], meta.base_url)
    [info] = await gateway.list_templates(waba_id="WABA1", access_token=TOKEN)
    assert (info.meta_template_id, info.language, info.status, info.category) == (
        "1001",
        "en_US",
        "APPROVED",
        "UTILITY",
    )
    assert info.parameter_format == "NAMED"
    assert list(info.components) == [{"type": "BODY", "text": "Hi {{1}}"}]


async def test_a_next_link_to_another_origin_is_replaced_by_the_after_cursor(
    meta: FakeMeta, elsewhere: FakeMeta, gateway: HttpMetaGateway
) -> None:
    pages = [[template(1)], [template(2)], [template(3)]]
    meta.respond = paged(pages, next_base=elsewhere.base_url)
    elsewhere.respond = paged(pages, next_base=elsewhere.base_url)
    templates = await gateway.list_templates(waba_id="WABA1", access_token=TOKEN)
    assert [t.name for t in templates] == ["template_1", "template_2", "template_3"]
    assert elsewhere.requests == []
    assert [r.query.get("after") for r in meta.requests] == [None, "1", "2"]
    assert {r.query["fields"] for r in meta.requests} == {
        "id,name,language,status,category,parameter_format,components"
    }


async def test_a_foreign_next_link_without_a_cursor_is_an_error(
    meta: FakeMeta, elsewhere: FakeMeta, gateway: HttpMetaGateway
) -> None:
    next_link = f"{elsewhere.base_url}/v21.0/WABA1/message_templates?after=x"
    meta.respond = answer({"data": [template(1)], "paging": {"next": next_link}})
    with pytest.raises(UnexpectedMetaResponse, match="after"):
        await gateway.list_templates(waba_id="WABA1", access_token=TOKEN)
    assert elsewhere.requests == []


async def test_a_server_that_offers_the_same_cursor_again_is_not_followed_forever(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    async def loop(request: web.Request) -> web.StreamResponse:
        next_link = f"{meta.base_url}{request.path}?after=SAME&n={len(meta.requests)}"
        paging = {"cursors": {"after": "SAME"}, "next": next_link}
        return json_response({"data": [template(1)], "paging": paging})

    meta.respond = loop
    with pytest.raises(UnexpectedMetaResponse, match="loop"):
        await gateway.list_templates(waba_id="WABA1", access_token=TOKEN)
    assert len(meta.requests) == 2


async def test_a_server_that_offers_the_same_next_link_again_is_not_followed_forever(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    async def loop(request: web.Request) -> web.StreamResponse:
        paging = {"next": f"{meta.base_url}{request.path}?page=2"}
        return json_response({"data": [], "paging": paging})

    meta.respond = loop
    with pytest.raises(UnexpectedMetaResponse, match="loop"):
        await gateway.list_templates(waba_id="WABA1", access_token=TOKEN)
    assert len(meta.requests) == 2


async def test_phone_numbers_are_read_across_pages_and_mapped(
    meta: FakeMeta, gateway: HttpMetaGateway
) -> None:
    first = {
        "id": "277321005464405",
        "display_phone_number": "+1 555-096-7852",
        "verified_name": "Test Number",
        "quality_rating": "GREEN",
        "throughput": {"level": "HIGH"},
        "whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED",
    }
    second = {"id": "277321005464406", "messaging_limit_tier": "TIER_10K"}
    meta.respond = paged([[first], [second]], next_base=meta.base_url)
    numbers = await gateway.list_phone_numbers(waba_id="WABA1", access_token=TOKEN)
    assert [(n.phone_number_id, n.messaging_limit_tier) for n in numbers] == [
        ("277321005464405", "TIER_UNLIMITED"),
        ("277321005464406", "TIER_10K"),
    ]
    assert (numbers[0].quality_rating, numbers[0].throughput_level) == ("GREEN", "HIGH")
    assert numbers[0].display_phone_number == "+1 555-096-7852"
    assert numbers[0].verified_name == "Test Number"
    request = meta.requests[0]
    assert request.path == "/v21.0/WABA1/phone_numbers"
    assert request.query["fields"] == (
        "id,display_phone_number,verified_name,quality_rating,throughput,"
        "whatsapp_business_manager_messaging_limit,messaging_limit_tier"
    )


async def test_an_error_on_a_later_page_is_raised(meta: FakeMeta, gateway: HttpMetaGateway) -> None:
    pages = paged([[template(1)], [template(2)]], next_base=meta.base_url)

    async def fail_second_page(request: web.Request) -> web.StreamResponse:
        if "after" in request.query:
            return json_response({"error": {"code": 80007, "message": "(#80007) Rate"}}, 400)
        return await pages(request)

    meta.respond = fail_second_page
    with pytest.raises(MetaError) as raised:
        await gateway.list_templates(waba_id="WABA1", access_token=TOKEN)
    assert (raised.value.meta_code, raised.value.retryable) == (80007, True)


async def test_a_listing_longer_than_the_page_limit_is_an_error(meta: FakeMeta) -> None:
    meta.respond = paged([[template(n)] for n in range(5)], next_base=meta.base_url)
    client = HttpMetaGateway(base_url=meta.base_url, max_pages=3)
    try:
        with pytest.raises(UnexpectedMetaResponse, match="more than 3 pages"):
            await client.list_templates(waba_id="WABA1", access_token=TOKEN)
    finally:
        await client.close()
    assert len(meta.requests) == 3
