"""Prometheus metrics scraped over HTTP after real sends: the service's (sends by outcome and
Meta code, RPC latency, recipients pending) on its metrics server, and the bridge's (latency
per route, answers by status) at its /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.metrics import RunningMetricsServer, ServiceMetrics, start_metrics_server
from mindo_sandbox.faults import FaultConfig
from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"
REFUSED_PHONE = "+5491100000009"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[RealStack, RunningMetricsServer]]:
    metrics = ServiceMetrics(CollectorRegistry())
    async with real_stack(tmp_path, metrics=metrics) as running:
        running.sandbox.state.set_faults(
            FaultConfig.from_json({"recipient_errors": {REFUSED_PHONE: 131026}})
        )
        server = await start_metrics_server(
            metrics,
            "127.0.0.1:0",
            pending_recipients=running.services.bulk_backlog.pending_recipients,
        )
        try:
            yield running, server
        finally:
            await server.stop()


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = await answer.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def send(stack: RealStack, phone: str) -> None:
    request = pb.SendMessageRequest(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone=phone,
        variables={"name": "Juan Perez", "code": "ABC123"},
        button_variables={"button_0": "ABC-123"},
    )
    await stack.stub.SendMessage(request, metadata=stack.metadata())


async def test_the_service_counts_sends_by_outcome_and_meta_code(
    stack: tuple[RealStack, RunningMetricsServer],
) -> None:
    running, server = stack
    before = await scrape(server.url)

    await send(running, "+54 9 11 1234-5678")
    await send(running, "+54 9 11 1234-5679")
    with pytest.raises(grpc.aio.AioRpcError):
        await send(running, REFUSED_PHONE)

    after = await scrape(server.url)
    sends = "mindo_meta_sends_total"
    assert value(before, sends, outcome="accepted", meta_code="") == 0
    assert value(after, sends, outcome="accepted", meta_code="") == 2
    assert value(after, sends, outcome="refused", meta_code="131026") == 1
    assert value(after, "mindo_meta_send_seconds_count") == 3
    assert value(after, "mindo_grpc_requests_total", method="SendMessage", code="OK") == 2
    refusals = {
        dict(labels)["code"]: count
        for (name, labels), count in after.items()
        if name == "mindo_grpc_requests_total"
        and ("method", "SendMessage") in labels
        and ("code", "OK") not in labels
    }
    assert sum(refusals.values()) == 1, refusals
    assert value(after, "mindo_grpc_request_seconds_count", method="SendMessage") == 3
    assert value(after, "mindo_bulk_recipients_pending") == 0


async def test_recipients_of_a_queued_bulk_are_pending(
    stack: tuple[RealStack, RunningMetricsServer],
) -> None:
    running, server = stack  # the engine is not started: the bulk stays QUEUED
    recipients = [
        pb.BulkRecipient(phone=f"+5491170{i:06d}", variables={"order_id": "O1", "status": "ok"})
        for i in range(25)
    ]
    await running.stub.SendBulk(
        pb.SendBulkRequest(
            phone_number_id=NUMBER, template_name="order_update", recipients=recipients
        ),
        metadata=running.metadata(),
    )

    scraped = await scrape(server.url)

    assert value(scraped, "mindo_bulk_recipients_pending") == 25
    assert value(scraped, "mindo_grpc_requests_total", method="SendBulk", code="OK") == 1


async def test_the_bridge_counts_answers_by_route_and_status(
    stack: tuple[RealStack, RunningMetricsServer],
) -> None:
    running, _ = stack
    route = "/api/v1/meta-templates/bulk-sends/{bulk_send_id}/"
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            url = f"{running.bridge.url}/api/v1/meta-templates/bulk-sends/nope/"
            async with http.get(url, headers={"X-API-Key": running.api_key}) as answer:
                assert answer.status == 404
        async with http.get(f"{running.bridge.url}/no/such/path/") as answer:
            assert answer.status == 404

    scraped = await scrape(running.bridge.url)

    assert (
        value(scraped, "mindo_bridge_responses_total", method="GET", route=route, status="404") == 2
    )
    assert value(scraped, "mindo_bridge_request_seconds_count", method="GET", route=route) == 2
    assert (
        value(
            scraped, "mindo_bridge_responses_total", method="GET", route="unmatched", status="404"
        )
        == 1
    )


async def test_the_engine_reports_each_numbers_pace_and_the_webhooks_their_lag(
    stack: tuple[RealStack, RunningMetricsServer],
) -> None:
    running, server = stack
    running.webhooks_to_bridge()
    recipients = [
        pb.BulkRecipient(phone=f"+5491170{i:06d}", variables={"order_id": "O1", "status": "ok"})
        for i in range(12)
    ]
    await running.services.bulk_engine.start()
    try:
        accepted = await running.stub.SendBulk(
            pb.SendBulkRequest(
                phone_number_id=NUMBER, template_name="order_update", recipients=recipients
            ),
            metadata=running.metadata(),
        )

        async def sent_and_reported() -> bool:
            bulk = await running.stub.GetBulk(
                pb.GetBulkRequest(bulk_send_id=accepted.bulk_send_id),
                metadata=running.metadata(),
            )
            lags = value(await scrape(server.url), "mindo_webhook_status_lag_seconds_count")
            return bulk.status == "COMPLETED" and lags >= 12

        await eventually(sent_and_reported)
    finally:
        await running.services.bulk_engine.stop()

    scraped = await scrape(server.url)
    assert value(scraped, "mindo_number_bulk_sends_total", phone_number_id=NUMBER) == 12
    assert value(scraped, "mindo_number_rate_cap", phone_number_id=NUMBER) == 80
    assert 0 < value(scraped, "mindo_number_rate", phone_number_id=NUMBER) <= 80
    assert value(scraped, "mindo_send_slot_lateness_seconds_count") == 12
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/healthz") as answer:
        assert (answer.status, await answer.json()) == (200, {"status": "SERVING"})
    server.drain()
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/healthz") as answer:
        assert (answer.status, await answer.json()) == (503, {"status": "NOT_SERVING"})
