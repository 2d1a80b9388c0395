"""The dashboard in headless chromium over the whole service: sign in, watch a bulk send live,
read its page (chart, failures by Meta code, filtered table, CSV), pause, resume and cancel it
with the buttons, sign out; a wrong key and a form without its CSRF token are refused."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack

from .conftest import FAILING, bulk_status, number_listed, recipients_listed, submit_bulk

# A browser, the whole service and a bulk paced at 2/s: more than the default 120 s under load.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SENDING = 30
# Slow enough that the list is seen before the bulk is over (30 recipients take 15 s).
PACING = "2"


async def signed_in(context: BrowserContext, stack: RealStack) -> Page:
    page = await context.new_page()
    await page.goto(f"{stack.bridge.url}/dashboard/")
    await expect(page).to_have_url(re.compile(r"/dashboard/sign-in$"))
    await page.fill("#api_key", stack.api_key)
    await page.click("form.sign-in button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/dashboard/bulks/$"))
    return page


async def counter(page: Page, selector: str) -> int:
    return int((await page.locator(selector).text_content() or "").strip())


async def test_a_bulk_seen_live_then_its_page_then_sign_out(
    stack: RealStack, context: BrowserContext
) -> None:
    page = await signed_in(context, stack)
    cookies = {c["name"]: c for c in await context.cookies()}
    session = cookies["mindo_dashboard"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert stack.api_key not in session["value"]
    assert await page.evaluate("document.cookie") == ""  # no script can read the session

    bulk_id = await submit_bulk(stack, recipients=SENDING, pacing=PACING)
    await page.reload()
    row = page.locator(f'tr[data-bulk-id="{bulk_id}"]')
    await expect(row).to_have_count(1)
    sent_at_first = await counter(page, f'tr[data-bulk-id="{bulk_id}"] [data-field=sent_count]')
    assert sent_at_first < SENDING
    await page.evaluate("window.neverReloaded = true")
    # The row moves on its own: counters and status pushed over server-sent events.
    over = re.compile(r"^(COMPLETED|PARTIAL)$")  # PARTIAL once Meta's failures come back
    await expect(row.locator("[data-field=status]")).to_have_text(over, timeout=90_000)
    assert await counter(page, f'tr[data-bulk-id="{bulk_id}"] [data-field=sent_count]') > (
        sent_at_first
    )
    assert await page.evaluate("window.neverReloaded === true")

    async def settled() -> bool:
        status = await bulk_status(stack, bulk_id)
        return status["failed_count"] == len(FAILING) and status["read_count"] == SENDING - len(
            FAILING
        )

    await eventually(settled, limit=60.0, every=0.2)
    await row.locator("a").click()
    await expect(page).to_have_url(re.compile(rf"/dashboard/bulks/{bulk_id}/$"))
    await expect(page.locator("#status")).to_have_text("PARTIAL")
    await expect(page.locator("#failed_count")).to_have_text(str(len(FAILING)))

    chart = page.locator("svg#chart")
    await expect(chart).to_have_attribute("data-loaded", "true")
    await expect(chart.locator("polyline[data-series]")).to_have_count(4)

    groups = page.locator("#failure-groups tbody tr")
    await expect(groups).to_have_count(2)
    await expect(groups.nth(0)).to_have_attribute("data-code", "131026")
    await expect(groups.nth(0).locator("td").nth(1)).to_have_text("2")
    await expect(groups.nth(0)).to_contain_text("Message undeliverable")
    await expect(groups.nth(1)).to_have_attribute("data-code", "131050")
    await expect(groups.nth(1)).to_contain_text("Never resend")

    await page.select_option("#recipient-status", "failed")
    await page.click("#filter-button")
    await expect(page).to_have_url(re.compile(r"\?status=failed$"))
    rows = page.locator("#recipients tbody tr")
    await expect(rows).to_have_count(len(FAILING))
    assert set(await rows.locator("td.status").all_text_contents()) == {"failed"}
    shown = await rows.locator("td.phone").all_text_contents()
    assert shown == await recipients_listed(stack, bulk_id, "failed")

    async with page.expect_download() as downloading:
        await page.click("#csv-link")
    download = await downloading.value
    path = await download.path()
    lines = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert sorted(int(line["position"]) for line in lines) == sorted(FAILING)
    assert {line["status"] for line in lines} == {"failed"}
    assert {int(line["error_code"]) for line in lines} == set(FAILING.values())

    await page.click("nav >> text=Numbers")
    number = page.locator('tr[data-phone-number-id="813497231850626"]')
    await expect(number).to_contain_text("GREEN")
    await expect(number).to_contain_text("TIER_2000")
    used = (await number_listed(stack))["quota"]["uniqueNumbersSent24h"]
    assert used > 0
    await expect(number.locator("td").nth(5)).to_have_text(str(used))

    await page.click("#sign-out")
    await expect(page).to_have_url(re.compile(r"/dashboard/sign-in$"))
    await page.goto(f"{stack.bridge.url}/dashboard/bulks/")
    await expect(page).to_have_url(re.compile(r"/dashboard/sign-in$"))


async def test_a_wrong_key_shows_an_error_and_signs_nobody_in(
    stack: RealStack, context: BrowserContext
) -> None:
    page = await context.new_page()
    await page.goto(f"{stack.bridge.url}/dashboard/sign-in")
    await page.fill("#api_key", "mindo_NotAKeyAtAll0123456789")
    await page.click("form.sign-in button[type=submit]")
    await expect(page.locator("#sign-in-error")).to_have_text("That API key is not valid.")
    assert "mindo_dashboard" not in {c["name"] for c in await context.cookies()}
    await page.goto(f"{stack.bridge.url}/dashboard/bulks/")
    await expect(page).to_have_url(re.compile(r"/dashboard/sign-in$"))


async def test_pause_resume_and_cancel_with_the_buttons(
    stack: RealStack, context: BrowserContext
) -> None:
    bulk_id = await submit_bulk(stack, recipients=60, pacing=PACING)
    page = await signed_in(context, stack)
    await page.goto(f"{stack.bridge.url}/dashboard/bulks/{bulk_id}/")
    sent = page.locator("#sent_count")
    await expect(sent).not_to_have_text("0")  # counted live, the page not reloaded

    await page.click("#pause-button")
    await expect(page).to_have_url(re.compile(r"\?done=paused$"))
    await expect(page.locator("#status")).to_have_text("PAUSED")
    await expect(page.locator("#notice")).to_contain_text("paused")
    await expect(page.locator("#pause-button")).to_be_hidden()
    await expect(page.locator("#resume-button")).to_be_visible()
    assert (await bulk_status(stack, bulk_id))["status"] == "PAUSED"

    await page.click("#resume-button")
    await expect(page).to_have_url(re.compile(r"\?done=resumed$"))
    await expect(page.locator("#status")).to_have_text("PROCESSING")
    before = await counter(page, "#sent_count")
    await page.wait_for_function(
        "n => Number(document.getElementById('sent_count').textContent) > n", arg=before
    )

    await page.click("#cancel-button")
    await expect(page).to_have_url(re.compile(r"\?done=cancelled$"))
    await expect(page.locator("#status")).to_have_text("CANCELLED")
    for button in ("#pause-button", "#resume-button", "#cancel-button"):
        await expect(page.locator(button)).to_be_hidden()
    final = await bulk_status(stack, bulk_id)
    assert final["status"] == "CANCELLED"
    assert isinstance(final["cancelled_count"], int)
    assert final["cancelled_count"] > 0


async def test_a_form_posted_without_its_csrf_token_is_refused(
    stack: RealStack, context: BrowserContext
) -> None:
    bulk_id = await submit_bulk(stack, recipients=40, pacing=PACING)
    page = await signed_in(context, stack)
    await page.goto(f"{stack.bridge.url}/dashboard/bulks/{bulk_id}/")
    await page.evaluate(
        "document.querySelector('form[action$=\"/pause\"] input[name=csrf_token]').remove()"
    )
    await page.click("#pause-button")
    await expect(page.locator("#error-message")).to_contain_text("This form has expired")
    assert (await bulk_status(stack, bulk_id))["status"] != "PAUSED"
