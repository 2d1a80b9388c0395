"""A bulk's results exported as CSV over the real stack: the REST bridge streams every recipient
of a 300-recipient bulk (sent by the engine to the sandbox, statuses posted back as signed
webhooks) and `mindo bulks export` writes the same file over gRPC."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from typer.testing import CliRunner

from mindo_cli.main import app
from mindo_sandbox.webhook_config import StatusDelays
from rest_bridge.bulk_csv import COLUMNS
from tests.bulk_fakes import eventually
from tests.integration.real_stack import RealStack, delivering_stack

NUMBER = "813497231850626"
API = "/api/v1/meta-templates"
RECIPIENTS = 300
FAILING = {7: 131026, 150: 131026, 299: 131026}  # positions whose delivery Meta fails
FAST = StatusDelays(sent=(1.0, 5.0), delivered=(5.0, 10.0), read=(10.0, 20.0))


def phone(position: int) -> str:
    return f"+5491170{position:06d}"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    failures = {phone(p): code for p, code in FAILING.items()}
    async with delivering_stack(tmp_path, delays=FAST, failures=failures) as running:
        yield running


async def settled_bulk(stack: RealStack, http: aiohttp.ClientSession) -> str:
    """A bulk every recipient of which has been read, or has failed."""
    headers = {"X-API-Key": stack.api_key}
    body = {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipients": [
            {"phone": phone(p), "variables": {"order_id": f"O{p}", "status": "ok"}}
            for p in range(RECIPIENTS)
        ],
        "pacing": "max",
    }
    async with http.post(f"{stack.bridge.url}{API}/send-bulk/", json=body, headers=headers) as r:
        assert r.status == 202, await r.text()
        bulk_id: str = (await r.json())["bulk_send_id"]

    async def every_one_read_or_failed() -> bool:
        url = f"{stack.bridge.url}{API}/bulk-sends/{bulk_id}/"
        async with http.get(url, headers=headers) as answer:
            status = await answer.json()
        return bool(
            status["read_count"] == RECIPIENTS - len(FAILING)
            and status["failed_count"] == len(FAILING)
        )

    await eventually(every_one_read_or_failed, limit=60.0, every=0.1)
    return bulk_id


def rows_of(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def assert_every_recipient(rows: list[dict[str, str]]) -> None:
    assert [int(r["position"]) for r in rows] == list(range(RECIPIENTS))
    for position, row in enumerate(rows):
        assert row["phone"] == phone(position)
        assert row["wamid"].startswith("wamid."), row  # Meta accepted every one
        if position in FAILING:
            assert row["status"] == "failed"
            assert row["error_code"] == str(FAILING[position])
            assert row["error_message"]
            assert row["failed_at"]
            assert not row["read_at"]
        else:
            assert row["status"] == "read"
            # Meta's webhook times are whole seconds and ours are not: compare to the second.
            sent, delivered, read = (row[k][:19] for k in ("sent_at", "delivered_at", "read_at"))
            assert "" < sent <= delivered <= read
            assert (row["error_code"], row["error_message"], row["failed_at"]) == ("", "", "")


async def test_the_rest_csv_export_streams_every_recipient_with_its_status(
    stack: RealStack,
) -> None:
    async with aiohttp.ClientSession() as http:
        bulk_id = await settled_bulk(stack, http)
        url = f"{stack.bridge.url}{API}/bulk-sends/{bulk_id}/messages/?format=csv"
        async with http.get(url, headers={"X-API-Key": stack.api_key}) as answer:
            text = await answer.text()
            headers: Any = answer.headers
            chunked = answer.headers.get("Transfer-Encoding")

    assert answer.status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="bulk-send-{bulk_id}-messages.csv"' in headers["Content-Disposition"]
    assert chunked == "chunked"  # streamed, not assembled whole with a length
    assert_every_recipient(rows_of(text))


async def test_the_csv_export_can_be_filtered_by_status(stack: RealStack) -> None:
    async with aiohttp.ClientSession() as http:
        bulk_id = await settled_bulk(stack, http)
        url = f"{stack.bridge.url}{API}/bulk-sends/{bulk_id}/messages/?format=CSV&status=failed"
        async with http.get(url, headers={"X-API-Key": stack.api_key}) as answer:
            rows = rows_of(await answer.text())

    assert [int(r["position"]) for r in rows] == sorted(FAILING)


async def test_an_unknown_bulk_or_format_answers_json_not_csv(stack: RealStack) -> None:
    headers = {"X-API-Key": stack.api_key}
    base = f"{stack.bridge.url}{API}/bulk-sends"
    async with aiohttp.ClientSession() as http:
        missing = f"{base}/a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c/messages/?format=csv"
        async with http.get(missing, headers=headers) as answer:
            not_found = (answer.status, await answer.json())
        async with http.get(f"{base}/x/messages/?format=xlsx", headers=headers) as answer:
            bad_format = (answer.status, await answer.json())

    assert not_found[0] == 404
    assert not_found[1]["code"] == "bulk_not_found"
    assert bad_format == (
        400,
        {"format": ["Select a valid choice. xlsx is not one of the available choices."]},
    )


async def test_mindo_bulks_export_writes_the_same_csv_to_a_file(
    stack: RealStack, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        bulk_id = await settled_bulk(stack, http)
    target = tmp_path / "results.csv"
    command = ["bulks", "export", bulk_id, "--output", str(target)]
    command += ["--api-key", stack.api_key, "--address", stack.grpc_server.target]

    result = await asyncio.to_thread(CliRunner().invoke, app, command)

    assert result.exit_code == 0, result.output
    assert f"{RECIPIENTS} recipients" in result.output
    assert_every_recipient(rows_of(target.read_text(encoding="utf-8")))
    assert not (tmp_path / "results.csv.part").exists()


async def test_mindo_bulks_export_of_an_unknown_bulk_fails_and_writes_nothing(
    stack: RealStack, tmp_path: Path
) -> None:
    target = tmp_path / "results.csv"
    command = ["bulks", "export", "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c", "-o", str(target)]
    command += ["--api-key", stack.api_key, "--address", stack.grpc_server.target]

    result = await asyncio.to_thread(CliRunner().invoke, app, command)

    assert result.exit_code != 0
    assert "bulk_not_found" in result.output
    assert not target.exists()
    assert not (tmp_path / "results.csv.part").exists()
