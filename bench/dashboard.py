"""The dashboard: time to first render of a bulk page with 100,000 recipients, and live-update lag.

First render: the service in this process (``bench.grpc_stack``: SQLite, gRPC server, the demo
number given TIER_100K), the REST bridge in front, a session signed in with aiohttp. The bulk
page of a 100,000-recipient bulk (pending: the engine is not started) is fetched
``BENCH_DASHBOARD_RENDERS`` (20) times; printed, its median time to the whole HTML, beside the
same page for a 100-recipient bulk and the REST status (GET bulk-sends/{id}/) as baselines in
the same run: the page asks for one page of 50 recipients, so its time should not grow with the
bulk (the very first view also writes the bulk's staged recipients as rows, once: printed
apart). Then what the page loads after it renders: the chart's points (``timeline.json``:
GetBulkTimeline, the service reading four time columns of every recipient) and the failures
(``failures``: the failed recipients streamed). With
Debian's chromium present, the same page in headless chromium: time to the load event and to
the chart drawn.

Live-update lag: a bulk of ``BENCH_DASHBOARD_LIVE`` (800) recipients at the demo number's 80/s,
watched at once by a gRPC WatchBulk stream (the baseline), by the bulk page's event stream and
by the bulks list's (which polls ListBulks every second). The lag of a snapshot is the time
from the WatchBulk stream receiving it to an event stream receiving the same counters (all
clients in this process, one clock). Asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = Path("/usr/bin/chromium")
BIG = 100_000
SMALL = 100
Key = tuple[str, int, int, int, int, int]


def run() -> None:
    renders = int(os.environ.get("BENCH_DASHBOARD_RENDERS", "20"))
    live = int(os.environ.get("BENCH_DASHBOARD_LIVE", "800"))
    print(f"Dashboard (load average {os.getloadavg()[0]:.2f})")
    asyncio.run(_first_render(renders, with_browser=CHROMIUM.exists()))
    asyncio.run(_live_lag(live))
    print(f"(load average at the end {os.getloadavg()[0]:.2f})")


async def _first_render(renders: int, *, with_browser: bool) -> None:
    from bench.bench_tenant import FIRST_PHONE, order_command
    from bench.grpc_stack import DEMO_NUMBER, bench_stack
    from mindo_sandbox.state import SandboxState
    from rest_bridge import start_bridge

    def room_for_the_bulk(state: SandboxState) -> None:
        limit = {"whatsapp_business_manager_messaging_limit": "TIER_100K"}
        state.patch_phone_number(DEMO_NUMBER, limit)

    async with bench_stack(configure_sandbox=room_for_the_bulk) as stack:
        services = stack.services
        principal = await services.authenticator.authenticate(stack.api_key, None)
        started = time.perf_counter()
        big = (await services.submit_bulk(principal, order_command(BIG, number=DEMO_NUMBER))).bulk
        print(f"  {BIG:,}-recipient bulk submitted in {time.perf_counter() - started:.1f} s")
        others = range(FIRST_PHONE + BIG, FIRST_PHONE + BIG + SMALL)
        small_command = order_command(others, number=DEMO_NUMBER)
        small = (await services.submit_bulk(principal, small_command)).bulk
        bridge = await start_bridge(stack.server.target)
        try:
            async with await _signed_in(bridge.url, stack.api_key) as http:
                pages = {
                    f"bulk page, {BIG:,} recipients": f"/dashboard/bulks/{big.id}/",
                    f"bulk page, {SMALL} recipients": f"/dashboard/bulks/{small.id}/",
                }
                rest = f"/api/v1/meta-templates/bulk-sends/{big.id}/"
                timed = {
                    name: await _timed_gets(http, path, renders) for name, path in pages.items()
                }
                figures = {name: statistics.median(took) for name, took in timed.items()}
                baseline = await _median_get(http, rest, renders, {"X-API-Key": stack.api_key})
                for name, seconds in figures.items():
                    ratio = seconds / baseline
                    print(
                        f"  {name}: median {seconds * 1000:.1f} ms ({ratio:.1f}× the REST status)"
                    )
                print(f"  REST status (baseline): median {baseline * 1000:.1f} ms")
                first = next(iter(timed.values()))[0]
                print(
                    f"  the very first view of the {BIG:,}-recipient page: {first * 1000:.0f} ms "
                    "(it also writes the staged recipients as rows, once per bulk)"
                )
                for part in ("timeline.json", "failures"):
                    path = f"/dashboard/bulks/{big.id}/{part}"
                    seconds = await _median_get(http, path, 3)
                    print(f"  after the page, {part} over {BIG:,}: median {seconds * 1000:.0f} ms")
            if with_browser:
                await _in_chromium(bridge.url, stack.api_key, big.id, renders)
            else:
                print("  (no /usr/bin/chromium: browser figures skipped)")
        finally:
            await bridge.stop()


async def _signed_in(base_url: str, api_key: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get("/dashboard/sign-in") as form:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await form.text())
    assert token is not None
    data = {"csrf_token": token.group(1), "api_key": api_key}
    async with http.post("/dashboard/sign-in", data=data, allow_redirects=False) as answer:
        assert answer.status == 303, answer.status
    return http


async def _median_get(
    http: aiohttp.ClientSession, path: str, times: int, headers: dict[str, str] | None = None
) -> float:
    return statistics.median(await _timed_gets(http, path, times, headers))


async def _timed_gets(
    http: aiohttp.ClientSession, path: str, times: int, headers: dict[str, str] | None = None
) -> list[float]:
    took = []
    for _ in range(times):
        started = time.perf_counter()
        async with http.get(path, headers=headers) as answer:
            await answer.read()
            assert answer.status == 200, (path, answer.status)
        took.append(time.perf_counter() - started)
    return took


async def _in_chromium(base_url: str, api_key: str, bulk_id: str, renders: int) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = await browser.new_page()
            await page.goto(f"{base_url}/dashboard/sign-in")
            await page.fill("#api_key", api_key)
            await page.click("form.sign-in button[type=submit]")
            await page.wait_for_url(re.compile(r"/dashboard/bulks/$"))
            loads, charts = [], []
            for _ in range(min(renders, 10)):
                started = time.perf_counter()
                await page.goto(f"{base_url}/dashboard/bulks/{bulk_id}/", wait_until="load")
                loads.append(time.perf_counter() - started)
                await page.wait_for_selector("svg#chart[data-loaded=true]", timeout=120_000)
                charts.append(time.perf_counter() - started)
            print(
                f"  headless chromium, bulk page of {BIG:,}: load event median "
                f"{statistics.median(loads) * 1000:.0f} ms, chart drawn median "
                f"{statistics.median(charts) * 1000:.0f} ms ({len(loads)} views)"
            )
        finally:
            await browser.close()


async def _live_lag(recipients: int) -> None:
    import grpc

    from bench.bench_tenant import order_command
    from bench.grpc_stack import DEMO_NUMBER, bench_stack
    from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
    from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
    from rest_bridge import start_bridge

    async with bench_stack() as stack:
        services = stack.services
        principal = await services.authenticator.authenticate(stack.api_key, None)
        bulk = (
            await services.submit_bulk(principal, order_command(recipients, number=DEMO_NUMBER))
        ).bulk
        bridge = await start_bridge(stack.server.target)
        grpc_log: list[tuple[float, Key]] = []
        page_log: list[tuple[float, Key]] = []
        list_log: list[tuple[float, Key]] = []
        try:
            async with (
                await _signed_in(bridge.url, stack.api_key) as http,
                grpc.aio.insecure_channel(stack.server.target) as channel,
            ):
                stub = mindo_pb2_grpc.MindoStub(channel)
                ready = [asyncio.Event() for _ in range(3)]

                async def watch() -> None:
                    ask = pb.WatchBulkRequest(bulk_send_id=bulk.id)
                    async for b in stub.WatchBulk(ask, metadata=stack.metadata):
                        ready[0].set()
                        key = (b.status, b.sent_count, b.delivered_count, b.read_count,
                               b.failed_count, b.pending_count)  # fmt: skip
                        grpc_log.append((time.monotonic(), key))

                tasks = [
                    asyncio.create_task(watch()),
                    asyncio.create_task(
                        _events(
                            http,
                            f"/dashboard/bulks/{bulk.id}/events",
                            bulk.id,
                            page_log,
                            ready[1],
                        )
                    ),
                    asyncio.create_task(
                        _events(http, "/dashboard/bulks/events", bulk.id, list_log, ready[2])
                    ),
                ]
                await asyncio.gather(*(r.wait() for r in ready))
                await services.bulk_engine.start()
                try:
                    await asyncio.wait_for(tasks[0], timeout=recipients / 10 + 60)
                    await asyncio.sleep(2.5)  # the list's last polls
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    await services.bulk_engine.stop()
        finally:
            await bridge.stop()
    print(
        f"  live updates, a {recipients}-recipient bulk at 80/s "
        f"({len(grpc_log)} WatchBulk snapshots):"
    )
    _lag("bulk page (SSE over WatchBulk)", grpc_log, page_log)
    _lag("bulks list (SSE, ListBulks polled every 1 s)", grpc_log, list_log)


async def _events(
    http: aiohttp.ClientSession,
    path: str,
    bulk_id: str,
    log: list[tuple[float, Key]],
    ready: asyncio.Event,
) -> None:
    async with http.get(path, headers={"Accept": "text/event-stream"}) as stream:
        async for line in stream.content:
            if not line.startswith(b"data: "):
                continue
            body: dict[str, Any] = json.loads(line[6:])
            if body.get("id") != bulk_id:
                continue
            ready.set()
            key = (body["status"], body["sent_count"], body["delivered_count"], body["read_count"],
                   body["failed_count"], body["pending_count"])  # fmt: skip
            log.append((time.monotonic(), key))


def _lag(name: str, baseline: list[tuple[float, Key]], seen: list[tuple[float, Key]]) -> None:
    first_at: dict[Key, float] = {}
    for moment, key in baseline:
        first_at.setdefault(key, moment)
    lags = sorted(moment - first_at[key] for moment, key in seen if key in first_at)
    if not lags:
        print(f"    {name}: no snapshot matched")
        return
    p95 = lags[int(0.95 * (len(lags) - 1))]
    print(
        f"    {name}: {len(lags)} of {len(seen)} events matched; lag behind WatchBulk median "
        f"{statistics.median(lags) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {lags[-1] * 1000:.0f} ms"
    )
