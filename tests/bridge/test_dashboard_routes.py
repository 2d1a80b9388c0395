"""The dashboard's routes over plain HTTP (the real bridge, a fake service behind it): the
session cookie, CSRF on every form, escaping of what users wrote, and errors as pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import RunningBridge

from .fake_mindo import BULK_ID, EXPIRED_KEY, GOOD_KEY, FakeMindo, bulk, bulk_message

BULK_PAGE = f"/dashboard/bulks/{BULK_ID}/"
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
async def browser(bridge: RunningBridge) -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps cookies as a browser does (aiohttp's jar refuses an IP host's
    cookies unless ``unsafe``) and does not follow redirects unless asked."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=bridge.url, cookie_jar=jar) as session:
        yield session


def form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


async def sign_in(browser: aiohttp.ClientSession, key: str = GOOD_KEY) -> aiohttp.ClientResponse:
    async with browser.get("/dashboard/sign-in") as form:
        token = form_token(await form.text())
    data = {"csrf_token": token, "api_key": key}
    async with browser.post("/dashboard/sign-in", data=data, allow_redirects=False) as answer:
        await answer.read()
        return answer


async def page_token(browser: aiohttp.ClientSession, path: str = BULK_PAGE) -> str:
    async with browser.get(path) as page:
        assert page.status == 200
        return form_token(await page.text())


async def test_a_page_without_a_session_redirects_to_the_sign_in(
    browser: aiohttp.ClientSession,
) -> None:
    for path in ("/dashboard/", "/dashboard/bulks/", BULK_PAGE, "/dashboard/numbers/"):
        async with browser.get(path, allow_redirects=False) as answer:
            assert answer.status == 303, path
            assert answer.headers["Location"] == "/dashboard/sign-in"
    headers = {"Accept": "text/event-stream"}
    async with browser.get(f"{BULK_PAGE}events", headers=headers) as stream:
        assert stream.status == 401


async def test_an_unknown_session_id_redirects_to_the_sign_in(bridge: RunningBridge) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=bridge.url, cookie_jar=jar) as client:
        client.cookie_jar.update_cookies({"mindo_dashboard": "forged-or-expired"})
        async with client.get("/dashboard/bulks/", allow_redirects=False) as answer:
            assert answer.status == 303
            assert answer.headers["Location"] == "/dashboard/sign-in"


async def test_signing_in_sets_an_http_only_strict_cookie_that_is_not_the_key(
    browser: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    answer = await sign_in(browser)
    assert answer.status == 303
    assert answer.headers["Location"] == "/dashboard/bulks/"
    cookies = [c for c in answer.headers.getall("Set-Cookie") if c.startswith("mindo_dashboard=")]
    assert len(cookies) == 1
    cookie = cookies[0]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/dashboard/" in cookie
    assert GOOD_KEY not in cookie
    assert fake.only("CheckApiKey").metadata["x-api-key"] == GOOD_KEY
    async with browser.get("/dashboard/bulks/") as page:
        text = await page.text()
    assert page.status == 200
    assert "Acme" in text
    assert GOOD_KEY not in text


async def test_a_wrong_key_is_refused_with_a_message_and_no_session(
    browser: aiohttp.ClientSession,
) -> None:
    async with browser.get("/dashboard/sign-in") as form:
        token = form_token(await form.text())
    data = {"csrf_token": token, "api_key": "mindo_wrongwrongwrongwrongwrong"}
    async with browser.post("/dashboard/sign-in", data=data, allow_redirects=False) as answer:
        text = await answer.text()
    assert answer.status == 401
    assert "That API key is not valid." in text
    assert "mindo_wrongwrong" not in text
    assert not any(c.key == "mindo_dashboard" for c in browser.cookie_jar)


async def test_the_sign_in_form_needs_its_own_token(
    browser: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    await browser.get("/dashboard/sign-in")
    data = {"csrf_token": "not-the-cookie-token", "api_key": GOOD_KEY}
    async with browser.post("/dashboard/sign-in", data=data, allow_redirects=False) as answer:
        assert answer.status == 403
    assert "CheckApiKey" not in fake.methods()


@pytest.mark.parametrize("action", ["pause", "resume", "cancel"])
async def test_a_button_post_without_the_csrf_token_changes_nothing(
    browser: aiohttp.ClientSession, fake: FakeMindo, action: str
) -> None:
    await sign_in(browser)
    for data in ({}, {"csrf_token": "x" * 43}):
        url = f"{BULK_PAGE}{action}"
        async with browser.post(url, data=data, allow_redirects=False) as answer:
            text = await answer.text()
        assert answer.status == 403
        assert "This form has expired" in text
    assert not [m for m in fake.methods() if m.endswith("Bulk") and m != "GetBulk"]


@pytest.mark.parametrize(
    ("action", "rpc", "done"),
    [("pause", "PauseBulk", "paused"), ("resume", "ResumeBulk", "resumed"),
     ("cancel", "CancelBulk", "cancelled")],
)  # fmt: skip
async def test_a_button_with_the_token_calls_the_service_as_the_session_key(
    browser: aiohttp.ClientSession, fake: FakeMindo, action: str, rpc: str, done: str
) -> None:
    await sign_in(browser)
    token = await page_token(browser)
    url = f"{BULK_PAGE}{action}"
    async with browser.post(url, data={"csrf_token": token}, allow_redirects=False) as answer:
        assert answer.status == 303
        assert answer.headers["Location"] == f"{BULK_PAGE}?done={done}"
    call = fake.only(rpc)
    assert call.metadata["x-api-key"] == GOOD_KEY
    assert call.request.bulk_send_id == BULK_ID  # type: ignore[attr-defined]


async def test_signing_out_needs_the_token_and_ends_the_session(
    browser: aiohttp.ClientSession,
) -> None:
    await sign_in(browser)
    async with browser.post("/dashboard/sign-out", data={}, allow_redirects=False) as refused:
        assert refused.status == 403
    token = await page_token(browser, "/dashboard/bulks/")
    data = {"csrf_token": token}
    async with browser.post("/dashboard/sign-out", data=data, allow_redirects=False) as answer:
        assert answer.status == 303
        assert answer.headers["Location"] == "/dashboard/sign-in"
    async with browser.get("/dashboard/bulks/", allow_redirects=False) as after:
        assert after.status == 303


async def test_what_users_wrote_is_escaped_on_every_page(
    browser: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    hostile_bulk = bulk(
        template=mindo_pb2.BulkTemplate(id=1, template_name=HOSTILE, language="es"),
        phone_number=mindo_pb2.BulkPhoneNumber(id=1, display_phone_number=HOSTILE),
        stop_reason=HOSTILE,
    )
    fake.bulks[BULK_ID] = hostile_bulk
    fake.bulk_page = mindo_pb2.ListBulksResponse(count=1, results=[hostile_bulk])
    failed = bulk_message(
        recipient_phone=HOSTILE, status="failed", error_code=131026, error_message=HOSTILE
    )
    fake.message_page = mindo_pb2.ListBulkMessagesResponse(count=1, results=[failed])
    await sign_in(browser)
    for path in ("/dashboard/bulks/", BULK_PAGE, f"{BULK_PAGE}failures"):
        async with browser.get(path) as page:
            text = await page.text()
        assert page.status == 200, path
        assert HOSTILE not in text, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text, path
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"


async def test_failures_are_grouped_by_code_with_what_each_means(
    browser: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    fake.message_page = mindo_pb2.ListBulkMessagesResponse(
        count=4,
        results=[
            bulk_message(status="failed", error_code=131026, error_message="Undeliverable"),
            bulk_message(status="failed", error_code=131026, error_message="Undeliverable"),
            bulk_message(status="failed", error_code=131050, error_message="Opted out"),
            bulk_message(status="read"),
        ],
    )
    await sign_in(browser)
    async with browser.get(f"{BULK_PAGE}failures") as page:
        text = await page.text()
    rows = re.findall(r'<tr data-code="(\d+)">\s*<td><code>\d+</code></td>\s*<td>(\d+)</td>', text)
    assert rows == [("131026", "2"), ("131050", "1")]
    assert "Never resend" in text
    assert fake.only("ExportBulkMessages").request.status == "failed"  # type: ignore[attr-defined]


async def test_an_unknown_bulk_is_an_error_page_without_internals(
    browser: aiohttp.ClientSession,
) -> None:
    await sign_in(browser)
    async with browser.get("/dashboard/bulks/00000000-0000-0000-0000-000000000000/") as page:
        text = await page.text()
    assert page.status == 404
    assert page.content_type == "text/html"
    assert "no encontrado" in text
    assert "Traceback" not in text


async def test_a_key_the_service_no_longer_accepts_ends_the_session(
    browser: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    await sign_in(browser)
    fake.errors["ListBulks"] = EXPIRED_KEY
    async with browser.get("/dashboard/bulks/", allow_redirects=False) as answer:
        assert answer.status == 303
        assert answer.headers["Location"] == "/dashboard/sign-in"
    del fake.errors["ListBulks"]
    async with browser.get("/dashboard/bulks/", allow_redirects=False) as after:
        assert after.status == 303  # the session is gone, not only that one page


async def test_the_csv_link_streams_the_export_under_the_session_key(
    browser: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    await sign_in(browser)
    async with browser.get(f"{BULK_PAGE}messages.csv?status=delivered") as answer:
        text = await answer.text()
    assert answer.status == 200
    assert answer.content_type == "text/csv"
    assert text.splitlines()[0].startswith("position,phone,status")
    assert "+5491112345678" in text
    call = fake.only("ExportBulkMessages")
    assert call.metadata["x-api-key"] == GOOD_KEY
    assert call.request.status == "delivered"  # type: ignore[attr-defined]


async def test_a_recipient_page_asks_the_service_for_one_page_only(
    browser: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    await sign_in(browser)
    async with browser.get(f"{BULK_PAGE}?status=FAILED&page=3") as page:
        assert page.status == 200
    ask = fake.only("ListBulkMessages").request
    assert (ask.status, ask.page, ask.page_size) == ("failed", 3, 50)  # type: ignore[attr-defined]
    assert "ExportBulkMessages" not in fake.methods()


async def test_the_chart_points_come_from_the_service_timeline(
    browser: aiohttp.ClientSession, fake: FakeMindo
) -> None:
    fake.timeline = mindo_pb2.BulkTimeline(
        points=[mindo_pb2.BulkTimelinePoint(sent=2, delivered=1, read=0, failed=1)]
    )
    fake.timeline.points[0].at.FromSeconds(1_700_000_000)
    await sign_in(browser)
    async with browser.get(f"{BULK_PAGE}timeline.json") as answer:
        body = await answer.json()
    assert body == {
        "times": [1_700_000_000.0],
        "series": {"sent": [2], "delivered": [1], "read": [0], "failed": [1]},
    }
    assert fake.only("GetBulkTimeline").metadata["x-api-key"] == GOOD_KEY


async def test_the_dashboard_without_its_slash_redirects_to_it(
    browser: aiohttp.ClientSession,
) -> None:
    async with browser.get("/dashboard", allow_redirects=False) as answer:
        assert answer.status == 308
        assert answer.headers["Location"] == "/dashboard/"
