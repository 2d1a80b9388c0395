"""`mindo send-bulk` and `mindo watch`: a bulk send from a CSV file, followed live.

Both are plain clients of the gRPC service, like any other language's: the service at
MINDO_GRPC_ADDRESS (or --address), the API key from --api-key or MINDO_API_KEY. `send-bulk`
calls SendBulk, then both follow WatchBulk (the current snapshot, each change, the final one)
with a progress bar, and end with a summary.

The CSV file: a header row, then one recipient per row.

- `phone` (required): the recipient's number, international format;
- `button_0`, `button_1`, …: the dynamic button values, by the button's index;
- every other column: a template variable of that name (`name`, `code`, or `1`, `2`, …).

Empty cells are left out, so one file can serve recipients with different variables; rows whose
every cell is empty are skipped. The file is UTF-8 (a spreadsheet's BOM is fine).

Exit codes: 0 the bulk COMPLETED; 1 the command failed (file, key, service); 2 wrong usage;
3 the bulk ended PARTIAL, FAILED or CANCELLED; 130 interrupted (the bulk goes on).
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Protocol

import grpc
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from mindo_cli.bulks_commands import bulks_app
from mindo_cli.durations import format_minutes
from mindo_cli.errors import fail
from mindo_cli.operate import reflowed_help
from mindo_cli.service_client import (
    DEFAULT_ADDRESS,
    AddressOption,
    ApiKeyOption,
    fail_rpc,
    metadata,
    required_key,
    said,
    service_stub,
)
from mindo_grpc._pb.mindo.v1 import mindo_pb2
from mindo_grpc.status_details import ErrorDetails, from_rpc_error

if TYPE_CHECKING:
    from mindo_grpc._pb.mindo.v1.mindo_pb2_grpc import MindoAsyncStub

PHONE_COLUMN = "phone"
BUTTON_COLUMN = re.compile(r"button_[0-9]+")
# SendBulk checks every recipient before it answers: generous for 100,000 of them.
SUBMIT_TIMEOUT_SECONDS = 120.0
# The service answers invalid recipients with the first 100; showing them all is enough.
SHOWN_PROBLEMS = 100

# The service's bound on following delivery (WatchBulkRequest.follow_delivery_timeout_seconds).
MAX_DELIVERY_TIMEOUT_SECONDS = 7 * 24 * 3600
EXIT_FAILED = 1
EXIT_NOT_COMPLETED = 3
EXIT_INTERRUPTED = 130
COMPLETED = "COMPLETED"
_SENDING_OVER = frozenset({COMPLETED, "PARTIAL", "FAILED", "CANCELLED"})


def register(app: typer.Typer) -> None:
    """Adds `send-bulk`, `watch` and `bulks` to the `mindo` application."""
    app.command("send-bulk", help=reflowed_help(send_bulk))(send_bulk)
    app.command("watch", help=reflowed_help(watch))(watch)
    app.add_typer(bulks_app, name="bulks")


# --------------------------------------------------------------------------------------------
# The commands


def send_bulk(
    sender: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="PHONE_NUMBER_ID",
            help="Meta's phone_number_id of the WhatsApp number that sends.",
        ),
    ],
    template: Annotated[
        str, typer.Option("--template", metavar="NAME", help="Name of an APPROVED template.")
    ],
    csv_path: Annotated[
        Path,
        typer.Option(
            "--csv",
            metavar="FILE",
            help="The recipients: a phone column, then one column per variable.",
        ),
    ],
    language: Annotated[str, typer.Option("--language", help="The template's language.")] = "es",
    pacing: Annotated[
        str | None,
        typer.Option("--pacing", help="max (the default), tier, or messages per second."),
    ] = None,
    send_at: Annotated[
        str | None,
        typer.Option(
            "--send-at",
            metavar="WHEN",
            help=(
                "Start then, not now: ISO 8601 with a UTC offset (2025-11-17T09:00:00-03:00), "
                "up to 30 days ahead. The command answers once the bulk is scheduled."
            ),
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            metavar="KEY",
            help=(
                "Makes the command safe to run again: the same key and file within 24 hours "
                "follow the first bulk instead of making a second."
            ),
        ),
    ] = None,
    send_window: Annotated[
        str | None,
        typer.Option(
            "--send-window",
            metavar="HH:MM-HH:MM",
            help=(
                "Send each recipient only inside these hours of its own local time "
                "(09:00-20:00); the rest wait for their window."
            ),
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    address: AddressOption = DEFAULT_ADDRESS,
) -> None:
    """Send a template to every recipient of a CSV file, and follow the bulk until it ends.

    The CSV has a header row: phone (required), button_0, button_1, … for button variables,
    and any other column is a template variable. Empty cells are left out.

    Exit code 0 when the bulk COMPLETED (or, with --send-at, was scheduled), 3 when it ended
    PARTIAL, FAILED or CANCELLED, 1 when the command failed."""
    key = required_key(api_key)
    recipients = read_recipients(csv_path)
    request = mindo_pb2.SendBulkRequest(
        phone_number_id=sender,
        template_name=template,
        language=language,
        recipients=recipients.messages,
        pacing=pacing or "",
    )
    if send_at is not None:
        request.send_at = send_at
    if idempotency_key is not None:
        request.idempotency_key = idempotency_key
    if send_window is not None:
        start, separator, end = send_window.partition("-")
        if not separator:
            fail(f"--send-window must be HH:MM-HH:MM, not {send_window[:32]!r}.", exit_code=2)
        request.send_window.start, request.send_window.end = start.strip(), end.strip()
    attached = _Attached()
    final = _run(_send_and_watch(address, key, request, recipients, attached), attached)
    raise typer.Exit(0 if final is None else _exit_code(final))


def watch(
    bulk_id: Annotated[str, typer.Argument(metavar="BULK_ID", help="The bulk_send_id.")],
    delivery: Annotated[
        bool,
        typer.Option(
            "--delivery",
            help="After sending ends, follow delivered/read/failed until every sent message "
            "is read or failed, or --delivery-timeout passes.",
        ),
    ] = False,
    delivery_timeout: Annotated[
        int | None,
        typer.Option(
            "--delivery-timeout",
            metavar="SECONDS",
            min=1,
            max=MAX_DELIVERY_TIMEOUT_SECONDS,
            help="How long --delivery follows after sending ends (default 86400, 24 h).",
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    address: AddressOption = DEFAULT_ADDRESS,
) -> None:
    """Follow a bulk send's progress until it ends, then show its summary.

    With --delivery it goes on after sending ends, showing the delivered, read and failed
    counts as Meta reports them, until every sent message is read or failed (a delivered one
    may still be read) or --delivery-timeout passes; the summary is then the final state.

    Exit code 0 when the bulk COMPLETED, 3 when it ended PARTIAL, FAILED or CANCELLED."""
    key = required_key(api_key)
    request = mindo_pb2.WatchBulkRequest(
        bulk_send_id=bulk_id,
        follow_delivery=delivery,
        follow_delivery_timeout_seconds=delivery_timeout or 0,
    )
    final = _run(_watch_only(address, key, request), _Attached(bulk_id=bulk_id))
    raise typer.Exit(0 if final is None else _exit_code(final))


def _exit_code(final: mindo_pb2.Bulk) -> int:
    return 0 if final.status == COMPLETED else EXIT_NOT_COMPLETED


# --------------------------------------------------------------------------------------------
# The CSV file


@dataclass(frozen=True, kw_only=True)
class CsvRecipients:
    messages: list[mindo_pb2.BulkRecipient]
    # The file line each recipient ends on, to point at it when the service refuses one.
    lines: list[int]


def read_recipients(path: Path) -> CsvRecipients:
    """The recipients of a CSV file; a clear error (exit 1) for a file that cannot serve."""
    if not path.is_file():
        fail(f"{path}: no such file.")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _recipients(csv.reader(handle), path)
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text: save it as CSV UTF-8.")
    except csv.Error as error:
        fail(f"{path}: not a valid CSV file ({error}).")


class _Rows(Protocol):
    """``csv.reader``'s result."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


def _recipients(rows: _Rows, path: Path) -> CsvRecipients:
    header = [cell.strip() for cell in next(rows, [])]
    columns = _columns(header, path)
    messages, lines = [], []
    for row in rows:
        line = rows.line_num
        if len(row) > len(header):
            fail(f"{path}, line {line}: {len(row)} cells but the header has {len(header)}.")
        if not any(cell.strip() for cell in row):
            continue
        messages.append(_recipient(dict(zip(columns, row, strict=False))))
        lines.append(line)
    if not messages:
        fail(f"{path} has no recipients: add one row per recipient under the header.")
    return CsvRecipients(messages=messages, lines=lines)


def _columns(header: list[str], path: Path) -> list[str]:
    if not any(header):
        fail(f"{path} is empty: it needs a header row with a {PHONE_COLUMN} column.")
    named = [PHONE_COLUMN if cell.lower() == PHONE_COLUMN else cell for cell in header]
    if PHONE_COLUMN not in named:
        found = ", ".join(cell for cell in header if cell) or "none"
        fail(f"{path} has no '{PHONE_COLUMN}' column (its columns: {found}).")
    repeated = sorted({cell for cell in named if cell and named.count(cell) > 1})
    if repeated:
        fail(f"{path}: the column '{repeated[0]}' appears more than once.")
    return named


def _recipient(cells: dict[str, str]) -> mindo_pb2.BulkRecipient:
    recipient = mindo_pb2.BulkRecipient(phone=cells.get(PHONE_COLUMN, "").strip())
    for column, value in cells.items():
        if column == PHONE_COLUMN or not column or value == "":
            continue
        if BUTTON_COLUMN.fullmatch(column):
            recipient.button_variables[column] = value
        else:
            recipient.variables[column] = value
    return recipient


# --------------------------------------------------------------------------------------------
# Talking to the service


@dataclass
class _Attached:
    """The bulk being followed, once the service has accepted it: what Ctrl-C names."""

    bulk_id: str | None = None


async def _send_and_watch(
    address: str,
    key: str,
    request: mindo_pb2.SendBulkRequest,
    recipients: CsvRecipients,
    attached: _Attached,
) -> mindo_pb2.Bulk | None:
    """The bulk's last snapshot once it ended; None for a scheduled bulk (not followed)."""
    async with service_stub(address) as stub:
        try:
            accepted = await stub.SendBulk(
                request, metadata=metadata(key), timeout=SUBMIT_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as error:
            _fail_rpc(from_rpc_error(error), address, recipients)
        attached.bulk_id = accepted.bulk_send_id
        _show_accepted(accepted)
        if accepted.HasField("send_at"):
            bulk = escape(accepted.bulk_send_id)
            _console().print(f"Follow it once it starts: mindo watch {bulk}")
            return None
        watching = mindo_pb2.WatchBulkRequest(bulk_send_id=accepted.bulk_send_id)
        return await _follow(stub, key, watching, address)


async def _watch_only(
    address: str, key: str, request: mindo_pb2.WatchBulkRequest
) -> mindo_pb2.Bulk:
    async with service_stub(address) as stub:
        return await _follow(stub, key, request, address)


async def _follow(
    stub: MindoAsyncStub, key: str, request: mindo_pb2.WatchBulkRequest, address: str
) -> mindo_pb2.Bulk:
    """WatchBulk to its end with the progress bar, then the summary; the last snapshot."""
    last: mindo_pb2.Bulk | None = None
    bulk_id = request.bulk_send_id
    try:
        with _progress(delivery=request.follow_delivery) as show:
            async for snapshot in stub.WatchBulk(request, metadata=metadata(key)):
                last = snapshot
                show(snapshot)
    except grpc.aio.AioRpcError as error:
        details = from_rpc_error(error)
        if last is None:
            _fail_rpc(details, address, None)
        fail(f"lost the bulk's progress ({said(details)}); it goes on: mindo watch {bulk_id}")
    if last is None:
        fail(f"the service sent no progress for bulk {bulk_id}.")
    _show_summary(last)
    return last


def _run(
    work: Coroutine[Any, Any, mindo_pb2.Bulk | None], attached: _Attached
) -> mindo_pb2.Bulk | None:
    try:
        return asyncio.run(work)
    except KeyboardInterrupt:
        message = "Stopped watching; the bulk send goes on."
        if attached.bulk_id is not None:
            bulk = escape(attached.bulk_id)
            message += f" Follow it again: mindo watch {bulk}; cancel it: mindo bulks cancel {bulk}"
        _console(stderr=True).print(message)
        raise typer.Exit(EXIT_INTERRUPTED) from None


# --------------------------------------------------------------------------------------------
# What the operator sees


def _console(*, stderr: bool = False) -> Console:
    # Made per use, not at import: a console reads the terminal (and its width) when built.
    return Console(stderr=stderr, soft_wrap=True)


def _fail_rpc(details: ErrorDetails, address: str, recipients: CsvRecipients | None) -> NoReturn:
    if details.code == "invalid_recipients" and recipients is not None:
        _show_invalid_recipients(details, recipients)
        raise typer.Exit(EXIT_FAILED)
    fail_rpc(details, address)


def _show_invalid_recipients(details: ErrorDetails, recipients: CsvRecipients) -> None:
    """Each problem the service listed, pointed at its line of the file."""
    try:
        problems = [
            p for p in json.loads(details.metadata.get("problems", "")) if isinstance(p, dict)
        ]
    except ValueError:
        problems = []
    invalid = _integer(details.metadata.get("invalid_count"), len(problems))
    out = _console(stderr=True)
    out.print(
        f"[red]error:[/red] {invalid} of {len(recipients.messages)} recipients are invalid; "
        "nothing was sent."
    )
    for problem in problems[:SHOWN_PROBLEMS]:
        index = _integer(problem.get("index"), -1)
        where = f"line {recipients.lines[index]}" if 0 <= index < len(recipients.lines) else "?"
        phone, reason = str(problem.get("phone", "")), str(problem.get("reason", ""))
        out.print(f"  {where}: {escape(phone)}: {escape(reason)}")
    if invalid > len(problems):
        out.print(f"  … and {invalid - len(problems)} more.")


def _integer(value: object, fallback: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return fallback


def _show_accepted(accepted: mindo_pb2.SendBulkResponse) -> None:
    out = _console()
    state = "queued"
    if accepted.HasField("send_at"):
        state = f"scheduled for {accepted.send_at.ToDatetime():%Y-%m-%d %H:%M:%S} UTC"
    out.print(
        f"[green]Bulk send {escape(accepted.bulk_send_id)} {state}:[/green] "
        f"{accepted.unique_recipients} unique of {accepted.total_recipients} recipients, "
        f"about {format_minutes(accepted.estimated_time_minutes)}."
    )
    quota = accepted.quota_info
    if not quota.can_send:
        out.print(
            f"[yellow]Quota ({escape(quota.tier)}):[/yellow] {quota.quota_needed} needed, "
            f"{max(quota.quota_available, 0)} available now; the rest are sent as the 24 h "
            "window frees up."
        )


@contextmanager
def _progress(*, delivery: bool = False) -> Iterator[Show]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_console()) as progress:
        task = progress.add_task("QUEUED", total=None, counts="")
        yield Show(progress=progress, task=task, delivery=delivery)


@dataclass(frozen=True, kw_only=True)
class Show:
    """Draws one snapshot on the progress bar: recipients processed while sending; with
    ``delivery``, once sending is over, the messages read or failed of those processed."""

    progress: Progress
    task: TaskID
    delivery: bool = False

    def __call__(self, bulk: mindo_pb2.Bulk) -> None:
        if self.delivery and bulk.pending_count == 0 and bulk.status in _SENDING_OVER:
            self.progress.update(
                self.task,
                description=f"{bulk.status}, read or failed",
                total=bulk.sent_count + bulk.failed_count,
                completed=bulk.read_count + bulk.failed_count,
                counts=_counts(bulk),
            )
            return
        done = bulk.unique_recipients - bulk.pending_count
        self.progress.update(
            self.task,
            description=bulk.status,
            total=bulk.unique_recipients,
            completed=done,
            counts=_counts(bulk),
        )


def _counts(bulk: mindo_pb2.Bulk) -> str:
    counts = (
        f"sent {bulk.sent_count} · delivered {bulk.delivered_count} · read {bulk.read_count} · "
        f"failed {bulk.failed_count}"
    )
    if bulk.cancelled_count:
        counts = f"{counts} · cancelled {bulk.cancelled_count}"
    if bulk.unknown_resent_count:  # no answer from Meta, sent again by the organisation's policy
        counts = f"{counts} · resent {bulk.unknown_resent_count}"
    return counts


def _show_summary(bulk: mindo_pb2.Bulk) -> None:
    out = _console()
    colour = "green" if bulk.status == COMPLETED else "yellow"
    out.print(f"[{colour}]Bulk send {escape(bulk.id)} {escape(bulk.status)}[/{colour}]")
    out.print(
        f"  {bulk.unique_recipients} recipients: {_counts(bulk)} · pending {bulk.pending_count}"
    )
    if bulk.stop_reason:
        out.print(f"  stopped early: {escape(bulk.stop_reason)}")
