"""`mindo send-bulk` and `mindo watch` against a real gRPC server with a fake Mindo behind it.

The commands call ``asyncio.run`` themselves, so the server runs in a thread of its own with its
own event loop; the fake records what it receives and streams the snapshots it is given.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import grpc
import pytest
import typer
from google.protobuf.message import Message
from typer.testing import CliRunner, Result

from mindo_cli.bulk_commands import register
from mindo_grpc._pb.mindo.v1 import mindo_pb2, mindo_pb2_grpc
from mindo_grpc.status_details import ErrorDetails, to_status

from .conftest import said

KEY = "mindo_abcdefghijklmnopqrstuvwx"
BULK_ID = "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"
RESENT_ID = "5b1c7d2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
_TIMEOUT_S = 10


def snapshot(
    status: str, *, sent: int, delivered: int = 0, failed: int = 0, **more: object
) -> mindo_pb2.Bulk:
    total = 3
    return mindo_pb2.Bulk(
        id=BULK_ID,
        status=status,
        total_recipients=total,
        unique_recipients=total,
        sent_count=sent,
        failed_count=failed,
        pending_count=total - sent - failed,
        progress_percentage=100.0 * (sent + failed) / total,
        **more,  # type: ignore[arg-type]
    )


PROGRESS = [
    snapshot("QUEUED", sent=0),
    snapshot("PROCESSING", sent=1),
    snapshot("PROCESSING", sent=2, delivered_count=1),
    snapshot("COMPLETED", sent=3, delivered_count=2, read_count=1),
]


@dataclass
class FakeBulks(mindo_pb2_grpc.MindoServicer):
    """SendBulk answers ``accepted``; WatchBulk streams ``snapshots`` then ends (or fails with
    ``cut`` after them). ``errors`` holds a method's failure."""

    snapshots: list[mindo_pb2.Bulk] = field(default_factory=lambda: list(PROGRESS))
    errors: dict[str, ErrorDetails] = field(default_factory=dict)
    cut: ErrorDetails | None = None
    # WatchBulk interrupts the CLI (in this process) as Ctrl-C does, then waits.
    interrupt: bool = False
    estimate_minutes: float = 0.4
    received: list[tuple[str, Message, dict[str, str]]] = field(default_factory=list)

    def only(self, method: str) -> Message:
        calls = [request for name, request, _ in self.received if name == method]
        assert len(calls) == 1, [name for name, _, _ in self.received]
        return calls[0]

    async def SendBulk(
        self, request: mindo_pb2.SendBulkRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.SendBulkResponse:
        await self._answer("SendBulk", request, context)
        accepted = mindo_pb2.SendBulkResponse(
            bulk_send_id=BULK_ID,
            status="queued",
            total_recipients=len(request.recipients),
            unique_recipients=len(request.recipients),
            estimated_time_minutes=self.estimate_minutes,
            quota_info=mindo_pb2.QuotaInfo(can_send=True, tier="TIER_1000"),
        )
        if request.HasField("send_at"):  # as the service answers: UTC
            accepted.status = "scheduled"
            accepted.send_at.FromDatetime(datetime.fromisoformat(request.send_at))
        return accepted

    async def WatchBulk(
        self, request: mindo_pb2.WatchBulkRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[mindo_pb2.Bulk]:
        await self._answer("WatchBulk", request, context)
        if self.interrupt:
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(_TIMEOUT_S)
        for bulk in self.snapshots:
            yield bulk
        if self.cut is not None:
            await context.abort_with_status(to_status(self.cut))

    async def ListBulks(
        self, request: mindo_pb2.ListBulksRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.ListBulksResponse:
        await self._answer("ListBulks", request, context)
        return mindo_pb2.ListBulksResponse(count=1, results=[self.snapshots[-1]])

    async def CancelBulk(
        self, request: mindo_pb2.CancelBulkRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.Bulk:
        await self._answer("CancelBulk", request, context)
        return snapshot("CANCELLED", sent=1, failed=0)

    async def ResendFailed(
        self, request: mindo_pb2.ResendFailedRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.ResendFailedResponse:
        await self._answer("ResendFailed", request, context)
        return mindo_pb2.ResendFailedResponse(
            bulk=mindo_pb2.SendBulkResponse(
                bulk_send_id=RESENT_ID, status="queued", parent_bulk_send_id=BULK_ID
            ),
            resent_count=2,
            left_count=5,
            left_by_reason={"succeeded": 4, "permanent_error": 1},
        )

    async def _answer(
        self, method: str, request: Message, context: grpc.aio.ServicerContext
    ) -> None:
        metadata = dict(context.invocation_metadata())
        self.received.append((method, request, metadata))
        if method in self.errors:
            await context.abort_with_status(to_status(self.errors[method]))


@dataclass(frozen=True, kw_only=True)
class Service:
    address: str
    fake: FakeBulks


async def _start(fake: FakeBulks) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    mindo_pb2_grpc.add_MindoServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.fixture
def service() -> Iterator[Service]:
    fake = FakeBulks()  # type: ignore[abstract]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-mindo", daemon=True)
    thread.start()
    server, port = asyncio.run_coroutine_threadsafe(_start(fake), loop).result(_TIMEOUT_S)
    try:
        yield Service(address=f"127.0.0.1:{port}", fake=fake)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_TIMEOUT_S)
        loop.close()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@dataclass(frozen=True, kw_only=True)
class Mindo:
    app: typer.Typer
    address: str

    def run(self, *args: str, key: str | None = KEY) -> Result:
        env = {"MINDO_GRPC_ADDRESS": self.address, "MINDO_API_KEY": key}
        result = CliRunner().invoke(self.app, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result


@pytest.fixture
def mindo(app: typer.Typer, service: Service) -> Mindo:
    return Mindo(app=app, address=service.address)


def csv_file(tmp_path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path = tmp_path / "recipients.csv"
    path.write_text(text, encoding=encoding)
    return path


SEND = ("send-bulk", "--from", "813497231850626", "--template", "welcome_message")

RECIPIENTS_CSV = (
    "phone,name,code,button_0,button_1\n"
    "+5491112345678,Juan Perez,ABC123,ABC-123,\n"
    "+5491187654321,Maria Garcia,,DEF-456,x\n"
    "\n"
    ",,,,\n"
    "+5491199887766,,GHI789,,\n"
)


def test_the_csv_becomes_the_send_bulk_request(
    mindo: Mindo, service: Service, tmp_path: Path
) -> None:
    result = mindo.run(*SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)))

    assert result.exit_code == 0, result.output
    assert service.fake.only("SendBulk") == mindo_pb2.SendBulkRequest(
        phone_number_id="813497231850626",
        template_name="welcome_message",
        language="es",
        recipients=[
            mindo_pb2.BulkRecipient(
                phone="+5491112345678",
                variables={"name": "Juan Perez", "code": "ABC123"},
                button_variables={"button_0": "ABC-123"},
            ),
            mindo_pb2.BulkRecipient(
                phone="+5491187654321",
                variables={"name": "Maria Garcia"},
                button_variables={"button_0": "DEF-456", "button_1": "x"},
            ),
            mindo_pb2.BulkRecipient(phone="+5491199887766", variables={"code": "GHI789"}),
        ],
    )


def test_the_key_language_and_pacing_are_passed_on_and_the_header_is_forgiving(
    mindo: Mindo, service: Service, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, "\ufeffPhone , nombre\n+5491112345678,José\n")
    option_key = "mindo_given_on_the_command_line"
    result = mindo.run(
        *SEND, "--csv", str(path), "--language", "pt_BR", "--pacing", "tier",
        "--api-key", option_key,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    request = service.fake.only("SendBulk")
    assert isinstance(request, mindo_pb2.SendBulkRequest)
    assert (request.language, request.pacing) == ("pt_BR", "tier")
    assert list(request.recipients) == [
        mindo_pb2.BulkRecipient(phone="+5491112345678", variables={"nombre": "José"})
    ]
    metadata = next(meta for name, _, meta in service.fake.received if name == "SendBulk")
    assert metadata["x-api-key"] == option_key, "the option wins over MINDO_API_KEY"


def test_the_progress_is_followed_to_the_end_and_summed_up(
    mindo: Mindo, service: Service, tmp_path: Path
) -> None:
    result = mindo.run(*SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)))
    output = said(result.output)

    assert f"Bulk send {BULK_ID} queued: 3 unique of 3 recipients, about 0.4 min." in output
    assert "3/3" in output
    assert f"Bulk send {BULK_ID} COMPLETED" in output
    assert "3 recipients: sent 3 · delivered 2 · read 1 · failed 0 · pending 0" in output
    assert "QUEUED" not in output, "the bar ends on the last snapshot"
    watched = service.fake.only("WatchBulk")
    assert watched == mindo_pb2.WatchBulkRequest(bulk_send_id=BULK_ID)


def test_watch_follows_an_existing_bulk(mindo: Mindo, service: Service) -> None:
    result = mindo.run("watch", BULK_ID)

    assert result.exit_code == 0, result.output
    assert f"Bulk send {BULK_ID} COMPLETED" in said(result.output)
    assert service.fake.only("WatchBulk") == mindo_pb2.WatchBulkRequest(bulk_send_id=BULK_ID)
    assert [name for name, _, _ in service.fake.received] == ["WatchBulk"]


def test_a_bulk_that_stopped_early_shows_why_and_exits_3(mindo: Mindo, service: Service) -> None:
    reason = "quality rating RED: sending paused by Meta"
    service.fake.snapshots = [
        snapshot("PROCESSING", sent=1),
        snapshot("FAILED", sent=1, failed=2, stop_reason=reason),
    ]
    result = mindo.run("watch", BULK_ID)

    assert result.exit_code == 3
    output = said(result.output)
    assert f"Bulk send {BULK_ID} FAILED" in output
    assert "sent 1 · delivered 0 · read 0 · failed 2 · pending 0" in output
    assert f"stopped early: {reason}" in output


def test_an_unknown_bulk_is_a_clear_error(mindo: Mindo, service: Service) -> None:
    service.fake.errors["WatchBulk"] = ErrorDetails(
        status=grpc.StatusCode.NOT_FOUND,
        message=f"Bulk send '{BULK_ID}' no encontrado",
        code="bulk_not_found",
    )
    result = mindo.run("watch", BULK_ID)

    assert result.exit_code == 1
    assert f"error: Bulk send '{BULK_ID}' no encontrado (bulk_not_found)" in said(result.output)


def test_a_stream_cut_short_says_the_bulk_goes_on(mindo: Mindo, service: Service) -> None:
    service.fake.snapshots = PROGRESS[:2]
    service.fake.cut = ErrorDetails(
        status=grpc.StatusCode.UNAVAILABLE, message="shutting down", code="unavailable"
    )
    result = mindo.run("watch", BULK_ID)

    assert result.exit_code == 1
    assert f"it goes on: mindo watch {BULK_ID}" in said(result.output)


def test_invalid_recipients_are_pointed_at_their_lines(
    mindo: Mindo, service: Service, tmp_path: Path
) -> None:
    problems = [
        {"index": 0, "phone": "12", "reason": "not a valid phone number"},
        {"index": 2, "phone": "+5491199887766", "reason": "variable 'name' is required"},
    ]
    service.fake.errors["SendBulk"] = ErrorDetails(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        message="3 of 3 recipients are invalid (the first 2 are listed); nothing was sent.",
        code="invalid_recipients",
        metadata={"invalid_count": "3", "total": "3", "problems": json.dumps(problems)},
    )
    result = mindo.run(*SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)))

    assert result.exit_code == 1
    output = said(result.output)
    assert "error: 3 of 3 recipients are invalid; nothing was sent." in output
    assert "line 2: 12: not a valid phone number" in output
    assert "line 6: +5491199887766: variable 'name' is required" in output
    assert "… and 1 more." in output
    assert "WatchBulk" not in [name for name, _, _ in service.fake.received]


def test_a_refused_send_prints_the_services_message(
    mindo: Mindo, service: Service, tmp_path: Path
) -> None:
    message = "Template 'welcome_message' (language: es) no encontrado en este business account"
    service.fake.errors["SendBulk"] = ErrorDetails(
        status=grpc.StatusCode.NOT_FOUND, message=message, code="template_not_found"
    )
    result = mindo.run(*SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)))

    assert result.exit_code == 1
    assert f"error: {message} (template_not_found)" in said(result.output)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty: it needs a header row with a phone column."),
        ("name,code\nJuan,1\n", "has no 'phone' column (its columns: name, code)."),
        ("phone,name\n", "has no recipients: add one row per recipient under the header."),
        ("phone,name\n+1,Juan,extra\n", "line 2: 3 cells but the header has 2."),
        ("phone,name,name\n+1,a,b\n", "the column 'name' appears more than once."),
    ],
    ids=["empty", "no phone column", "no rows", "extra cells", "repeated column"],
)
def test_a_file_that_cannot_serve_is_a_clear_error_before_any_call(
    mindo: Mindo, service: Service, tmp_path: Path, text: str, problem: str
) -> None:
    path = csv_file(tmp_path, text)
    result = mindo.run(*SEND, "--csv", str(path))

    assert result.exit_code == 1
    assert f"error: {path}" in said(result.output)
    assert problem in said(result.output)
    assert service.fake.received == []


def test_a_missing_file_is_a_clear_error(mindo: Mindo, tmp_path: Path) -> None:
    result = mindo.run(*SEND, "--csv", str(tmp_path / "nowhere.csv"))

    assert result.exit_code == 1
    assert f"error: {tmp_path / 'nowhere.csv'}: no such file." in said(result.output)


def test_a_file_that_is_not_utf8_is_a_clear_error(mindo: Mindo, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "phone,name\n+5491112345678,José\n", encoding="latin-1")
    result = mindo.run(*SEND, "--csv", str(path))

    assert result.exit_code == 1
    assert "is not UTF-8 text: save it as CSV UTF-8." in said(result.output)


def test_no_key_is_a_clear_error(mindo: Mindo, service: Service, tmp_path: Path) -> None:
    result = mindo.run(*SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)), key=None)

    assert result.exit_code == 1
    assert "error: no API key: pass --api-key or set MINDO_API_KEY." in said(result.output)
    assert service.fake.received == []


def test_a_service_that_is_down_is_a_clear_error(app: typer.Typer, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    result = Mindo(app=app, address=address).run("watch", BULK_ID)

    assert result.exit_code == 1
    assert f"error: cannot reach the Mindo service at {address}" in said(result.output)


@pytest.mark.parametrize(
    ("command", "explanation"),
    [
        ("send-bulk", "Send a template to every recipient of a CSV file"),
        ("send-bulk", "button_0, button_1, … for button variables"),
        ("send-bulk", "env var: MINDO_API_KEY"),
        ("watch", "Follow a bulk send's progress until it ends"),
        ("watch", "env var: MINDO_GRPC_ADDRESS"),
        ("bulks list", "List the bulk sends of the API key's organisation, newest first"),
        ("bulks cancel", "Cancel a bulk send: its pending recipients are not sent"),
    ],
)
def test_help_explains_the_command(mindo: Mindo, command: str, explanation: str) -> None:
    result = mindo.run(*command.split(), "--help")

    assert result.exit_code == 0
    assert explanation in said(result.output)


def test_ctrl_c_says_how_to_follow_the_bulk_again_and_how_to_cancel_it(
    mindo: Mindo, service: Service, tmp_path: Path
) -> None:
    service.fake.interrupt = True

    result = mindo.run(*SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)))

    assert result.exit_code == 130
    assert (
        "Stopped watching; the bulk send goes on. "
        f"Follow it again: mindo watch {BULK_ID}; cancel it: mindo bulks cancel {BULK_ID}"
    ) in said(result.output)


def test_a_long_estimate_reads_in_hours(mindo: Mindo, service: Service, tmp_path: Path) -> None:
    service.fake.estimate_minutes = 1433.6

    result = mindo.run(*SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)))

    assert "3 unique of 3 recipients, about 23 h 54 min." in said(result.output)


def test_bulks_are_listed_with_their_progress(mindo: Mindo, service: Service) -> None:
    result = mindo.run("bulks", "list", "--status", "completed", "--page-size", "5")

    assert result.exit_code == 0, result.output
    request = service.fake.only("ListBulks")
    assert (request.status, request.page, request.page_size) == ("COMPLETED", 1, 5)  # type: ignore[attr-defined]
    output = said(result.output)
    assert f"{BULK_ID} COMPLETED" in output
    assert "3/3 0 0" in output
    assert "Follow one: mindo watch BULK_ID; cancel one: mindo bulks cancel BULK_ID" in output


def test_a_bulk_is_cancelled_by_its_id(mindo: Mindo, service: Service) -> None:
    result = mindo.run("bulks", "cancel", BULK_ID)

    assert result.exit_code == 0, result.output
    assert service.fake.only("CancelBulk").bulk_send_id == BULK_ID  # type: ignore[attr-defined]
    assert f"Bulk send {BULK_ID} CANCELLED: 1 sent, 0 failed of 3." in said(result.output)


def test_cancelling_an_unknown_bulk_is_a_clear_error(mindo: Mindo, service: Service) -> None:
    service.fake.errors["CancelBulk"] = ErrorDetails(
        status=grpc.StatusCode.NOT_FOUND, code="bulk_not_found", message="Bulk not found"
    )

    result = mindo.run("bulks", "cancel", BULK_ID)

    assert result.exit_code == 1
    assert "error: Bulk not found (bulk_not_found)" in said(result.output)


def test_send_at_and_the_idempotency_key_are_passed_on_and_a_scheduled_bulk_is_not_followed(
    mindo: Mindo, service: Service, tmp_path: Path
) -> None:
    result = mindo.run(
        *SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)),
        "--send-at", "2026-12-24T09:00:00-03:00", "--idempotency-key", "xmas-1",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    request = service.fake.only("SendBulk")
    assert isinstance(request, mindo_pb2.SendBulkRequest)
    assert (request.send_at, request.idempotency_key) == ("2026-12-24T09:00:00-03:00", "xmas-1")
    output = said(result.output)
    assert f"Bulk send {BULK_ID} scheduled for 2026-12-24 12:00:00 UTC" in output
    assert f"Follow it once it starts: mindo watch {BULK_ID}" in output
    assert [name for name, _, _ in service.fake.received] == ["SendBulk"]


def test_the_send_window_is_passed_on_and_a_malformed_one_refused_before_any_call(
    mindo: Mindo, service: Service, tmp_path: Path
) -> None:
    path = str(csv_file(tmp_path, RECIPIENTS_CSV))

    sent = mindo.run(*SEND, "--csv", path, "--send-window", "09:00-20:00")
    refused = mindo.run(*SEND, "--csv", path, "--send-window", "9 to 5")

    assert sent.exit_code == 0, sent.output
    request = service.fake.only("SendBulk")
    assert isinstance(request, mindo_pb2.SendBulkRequest)
    assert (request.send_window.start, request.send_window.end) == ("09:00", "20:00")
    assert refused.exit_code == 2
    assert "--send-window must be HH:MM-HH:MM" in said(refused.output)


def test_without_them_neither_field_is_set(mindo: Mindo, service: Service, tmp_path: Path) -> None:
    mindo.run(*SEND, "--csv", str(csv_file(tmp_path, RECIPIENTS_CSV)))

    request = service.fake.only("SendBulk")
    assert not request.HasField("send_at")
    assert not request.HasField("idempotency_key")
    assert not request.HasField("send_window")


def test_the_failed_are_resent_with_the_codes_and_the_counts_are_shown(
    mindo: Mindo, service: Service
) -> None:
    result = mindo.run(
        "bulks", "resend-failed", BULK_ID, "--error-code", "131049", "--error-code", "131026",
        "--pacing", "5", "--idempotency-key", "again-1",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert service.fake.only("ResendFailed") == mindo_pb2.ResendFailedRequest(
        bulk_send_id=BULK_ID, error_codes=[131049, 131026], pacing="5", idempotency_key="again-1"
    )
    output = said(result.output)
    assert f"Bulk send {RESENT_ID} queued: 2 recipient(s) of {BULK_ID} resent, 5 left." in output
    assert "left, permanent_error: 1" in output
    assert "left, succeeded: 4" in output
    assert f"Follow it: mindo watch {RESENT_ID}" in output


def test_a_bulk_still_sending_is_a_clear_error(mindo: Mindo, service: Service) -> None:
    service.fake.errors["ResendFailed"] = ErrorDetails(
        status=grpc.StatusCode.FAILED_PRECONDITION,
        code="bulk_still_sending",
        message="Bulk send is PROCESSING",
    )

    result = mindo.run("bulks", "resend-failed", BULK_ID)

    assert result.exit_code == 1
    assert "bulk_still_sending" in said(result.output)


def test_watch_delivery_asks_to_follow_delivery_and_shows_the_final_state(
    mindo: Mindo, service: Service
) -> None:
    service.fake.snapshots = [
        *PROGRESS,
        snapshot("COMPLETED", sent=3, delivered_count=3, read_count=2),
        snapshot("PARTIAL", sent=2, failed=1, delivered_count=2, read_count=2),
    ]
    result = mindo.run("watch", BULK_ID, "--delivery", "--delivery-timeout", "3600")

    assert result.exit_code == 3, result.output
    output = said(result.output)
    assert "PARTIAL, read or failed" in output
    assert "3 recipients: sent 2 · delivered 2 · read 2 · failed 1 · pending 0" in output
    assert service.fake.only("WatchBulk") == mindo_pb2.WatchBulkRequest(
        bulk_send_id=BULK_ID, follow_delivery=True, follow_delivery_timeout_seconds=3600
    )


@pytest.mark.parametrize("seconds", ["0", str(7 * 24 * 3600 + 1)])
def test_a_delivery_timeout_out_of_range_is_refused_before_any_call(
    mindo: Mindo, service: Service, seconds: str
) -> None:
    result = mindo.run("watch", BULK_ID, "--delivery", "--delivery-timeout", seconds)

    assert result.exit_code == 2
    assert "--delivery-timeout" in said(result.output)
    assert service.fake.received == []
