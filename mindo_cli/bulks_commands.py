"""`mindo bulks list`, `mindo bulks cancel`, `mindo bulks resend-failed` and `mindo bulks
export`: an organisation's bulk sends, over the gRPC service like `mindo send-bulk` (the API key
says which organisation)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import grpc
import typer
from rich.markup import escape

from mindo_cli.errors import ErrorBoundary
from mindo_cli.formatting import table, when
from mindo_cli.operate import command, out
from mindo_cli.service_client import (
    DEFAULT_ADDRESS,
    AddressOption,
    ApiKeyOption,
    fail_rpc,
    metadata,
    required_key,
    service_stub,
)
from mindo_grpc._pb.mindo.v1 import mindo_pb2
from mindo_grpc.status_details import from_rpc_error

bulks_app = typer.Typer(
    help=(
        "Bulk sends: list an organisation's, cancel one, resend one's failed recipients, "
        "export one's results as CSV."
    ),
    no_args_is_help=True,
    cls=ErrorBoundary,
)


@command(bulks_app, "list")
def bulks_list(
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="SCHEDULED, QUEUED, PROCESSING, PAUSED, COMPLETED, PARTIAL, FAILED or CANCELLED.",
        ),
    ] = None,
    page: Annotated[int, typer.Option("--page", min=1, help="Which page, from 1.")] = 1,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=100, help="Bulk sends per page.")
    ] = 20,
    api_key: ApiKeyOption = None,
    address: AddressOption = DEFAULT_ADDRESS,
) -> None:
    """List the bulk sends of the API key's organisation, newest first."""
    key = required_key(api_key)
    request = mindo_pb2.ListBulksRequest(
        status=(status or "").strip().upper(), page=page, page_size=page_size
    )
    listed = asyncio.run(_list(address, key, request))
    shown = out()
    if not listed.results:
        shown.print("No bulk send" + (f" is {escape(request.status)}." if request.status else "."))
        return
    rows = table(
        f"Bulk sends ({listed.count}; page {page})",
        "Id",
        "Status",
        "Template",
        "Sent",
        "Failed",
        "Pending",
        "Created (UTC)",
        whole=("Id", "Status"),
    )
    for bulk in listed.results:
        rows.add_row(
            escape(bulk.id),
            escape(bulk.status),
            escape(bulk.template.template_name),
            f"{bulk.sent_count}/{bulk.total_recipients}",
            str(bulk.failed_count),
            str(bulk.pending_count),
            when(bulk.created_at.ToDatetime() if bulk.HasField("created_at") else None, ""),
        )
    shown.print(rows)
    shown.print("Follow one: mindo watch BULK_ID; cancel one: mindo bulks cancel BULK_ID")


async def _list(
    address: str, key: str, request: mindo_pb2.ListBulksRequest
) -> mindo_pb2.ListBulksResponse:
    async with service_stub(address) as stub:
        try:
            listed: mindo_pb2.ListBulksResponse = await stub.ListBulks(
                request, metadata=metadata(key)
            )
            return listed
        except grpc.aio.AioRpcError as error:
            fail_rpc(from_rpc_error(error), address)


@command(bulks_app, "cancel")
def bulks_cancel(
    bulk_id: Annotated[str, typer.Argument(metavar="BULK_ID", help="The bulk_send_id.")],
    api_key: ApiKeyOption = None,
    address: AddressOption = DEFAULT_ADDRESS,
) -> None:
    """Cancel a bulk send: its pending recipients are not sent. Messages already sent stay
    sent; those in flight finish and are recorded."""
    key = required_key(api_key)
    bulk = asyncio.run(_cancel(address, key, bulk_id))
    out().print(
        f"[green]Bulk send {escape(bulk.id)} {escape(bulk.status)}[/green]: "
        f"{bulk.sent_count} sent, {bulk.failed_count} failed of {bulk.total_recipients}."
    )


async def _cancel(address: str, key: str, bulk_id: str) -> mindo_pb2.Bulk:
    request = mindo_pb2.CancelBulkRequest(bulk_send_id=bulk_id)
    async with service_stub(address) as stub:
        try:
            cancelled: mindo_pb2.Bulk = await stub.CancelBulk(request, metadata=metadata(key))
            return cancelled
        except grpc.aio.AioRpcError as error:
            fail_rpc(from_rpc_error(error), address)


@command(bulks_app, "resend-failed")
def bulks_resend_failed(
    bulk_id: Annotated[str, typer.Argument(metavar="BULK_ID", help="A finished bulk_send_id.")],
    error_codes: Annotated[
        list[int] | None,
        typer.Option(
            "--error-code",
            metavar="CODE",
            min=0,
            help=(
                "Resend those that failed with this Meta code (repeat for several); default: "
                "the codes worth retrying (docs/api.md, Resend the failed)."
            ),
        ),
    ] = None,
    pacing: Annotated[
        str | None,
        typer.Option("--pacing", help="The new bulk's pacing; default: the first bulk's."),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            metavar="KEY",
            help="The same key within 24 hours answers the first resend again.",
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    address: AddressOption = DEFAULT_ADDRESS,
) -> None:
    """Send a finished bulk's failed recipients again, as a new bulk linked to it: those that
    failed for a reason worth retrying (or with the codes given), never one that was delivered,
    opted out or suppressed. Shows how many it took and why the others were left."""
    key = required_key(api_key)
    request = mindo_pb2.ResendFailedRequest(bulk_send_id=bulk_id, error_codes=error_codes or [])
    if pacing is not None:
        request.pacing = pacing
    if idempotency_key is not None:
        request.idempotency_key = idempotency_key
    resent = asyncio.run(_resend(address, key, request))
    shown = out()
    new = resent.bulk
    shown.print(
        f"[green]Bulk send {escape(new.bulk_send_id)} {escape(new.status)}[/green]: "
        f"{resent.resent_count} recipient(s) of {escape(bulk_id)} resent, "
        f"{resent.left_count} left."
    )
    for reason, count in sorted(resent.left_by_reason.items()):
        shown.print(f"  left, {escape(reason)}: {count}")
    shown.print(f"Follow it: mindo watch {escape(new.bulk_send_id)}")


async def _resend(
    address: str, key: str, request: mindo_pb2.ResendFailedRequest
) -> mindo_pb2.ResendFailedResponse:
    async with service_stub(address) as stub:
        try:
            resent: mindo_pb2.ResendFailedResponse = await stub.ResendFailed(
                request, metadata=metadata(key)
            )
            return resent
        except grpc.aio.AioRpcError as error:
            fail_rpc(from_rpc_error(error), address)


@command(bulks_app, "export")
def bulks_export(
    bulk_id: Annotated[str, typer.Argument(metavar="BULK_ID", help="The bulk_send_id.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the CSV to this file (default: standard output)."
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    address: AddressOption = DEFAULT_ADDRESS,
) -> None:
    """Export every recipient of a bulk send as CSV: position, phone, status, wamid, Meta's
    error code and message, and the sent, delivered, read and failed times (the REST
    format=csv file)."""
    key = required_key(api_key)
    request = mindo_pb2.ExportBulkMessagesRequest(bulk_send_id=bulk_id)
    if output is None:
        asyncio.run(_export(address, key, request, sys.stdout.buffer))
        return
    # Written beside the file and renamed at the end: a failed export leaves no partial file.
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("wb") as sink:
            count = asyncio.run(_export(address, key, request, sink))
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    out().print(f"[green]{count} recipients[/green] of {escape(bulk_id)} written to {output}.")


async def _export(
    address: str, key: str, request: mindo_pb2.ExportBulkMessagesRequest, sink: BinaryIO
) -> int:
    from rest_bridge import bulk_csv  # one CSV format for the REST export and this one

    sink.write(bulk_csv.encode([bulk_csv.COLUMNS]))
    count = 0
    async with service_stub(address) as stub:
        try:
            async for item in stub.ExportBulkMessages(request, metadata=metadata(key)):
                sink.write(bulk_csv.encode([bulk_csv.row(item)]))
                count += 1
        except grpc.aio.AioRpcError as error:
            fail_rpc(from_rpc_error(error), address)
    return count
