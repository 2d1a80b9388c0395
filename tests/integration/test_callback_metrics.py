"""The callback metrics as Prometheus scrapes them: attempts by outcome, and the outbox's backlog
(a receiver that refuses connections keeps its deliveries pending, tried again)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from mindo_cli.demo import DEMO_ORGANISATION
from mindo_grpc.metrics import ServiceMetrics, start_metrics_server
from tests.bulk_fakes import eventually
from tests.e2e.stack import free_port
from tests.integration.real_stack import real_stack

RECIPIENTS = 3
VARIABLES = {"order_id": "1", "status": "x"}


async def scrape(url: str) -> dict[tuple[str, str], float]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as answer:
        text = await answer.text()
    return {
        (sample.name, sample.labels.get("outcome") or sample.labels.get("state", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_failed_attempts_and_the_backlog_are_scraped(tmp_path: Path) -> None:
    metrics = ServiceMetrics(CollectorRegistry())
    closed_port = free_port()  # nothing listens: every POST is refused, and retried
    async with real_stack(
        tmp_path,
        metrics=metrics,
        callbacks_allow_private=True,
        callbacks_retry_base_seconds=0.05,
        callbacks_retry_max_seconds=0.1,
    ) as stack:
        server = await start_metrics_server(
            metrics,
            "127.0.0.1:0",
            pending_recipients=stack.services.bulk_backlog.pending_recipients,
            callback_backlog=stack.services.callback_delivery.backlog,
        )
        organisation = await stack.services.operator_queries.organisation_named(DEMO_ORGANISATION)
        await stack.services.webhook_endpoints.add(
            organisation.id, f"http://127.0.0.1:{closed_port}/hook", ["message.sent"]
        )
        await stack.services.bulk_engine.start()
        stack.services.callback_delivery.start()
        try:
            async with aiohttp.ClientSession() as http:
                body = {
                    "phone_number_id": "813497231850626",
                    "template_name": "order_update",
                    "language": "es",
                    "recipients": [
                        {
                            "phone": f"+54911500000{i:02d}",
                            "variables": {"order_id": "1", "status": "x"},
                        }
                        for i in range(RECIPIENTS)
                    ],
                }
                headers = {"X-API-Key": stack.api_key}
                url = f"{stack.bridge.url}/api/v1/meta-templates/send-bulk/"
                async with http.post(url, json=body, headers=headers) as answer:
                    assert answer.status == 202

            async def retried_each() -> bool:
                samples = await scrape(server.url)
                return samples.get(("mindo_callback_attempts_total", "retry"), 0) > RECIPIENTS

            await eventually(retried_each, limit=20)
            samples = await scrape(server.url)
            assert samples[("mindo_callback_backlog", "pending")] == RECIPIENTS
            assert samples[("mindo_callback_backlog", "failed")] == 0
            assert samples.get(("mindo_callback_attempts_total", "delivered"), 0) == 0
        finally:
            await stack.services.callback_delivery.stop()
            await stack.services.bulk_engine.stop()
            await server.stop()
