"""How the bulk commands reach the gRPC service, as any other language's client does: the
service at MINDO_GRPC_ADDRESS (or --address), the API key from --api-key or MINDO_API_KEY."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, NoReturn

import grpc
import typer

from mindo_cli.errors import fail
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from mindo_grpc.status_details import ErrorDetails

if TYPE_CHECKING:
    from mindo_grpc._pb.mindo.v1.mindo_pb2_grpc import MindoAsyncStub

DEFAULT_ADDRESS = "127.0.0.1:50051"

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="MINDO_API_KEY",
        show_envvar=True,
        help="The API key (mindo_...) to call the service with.",
    ),
]
AddressOption = Annotated[
    str,
    typer.Option(
        "--address",
        envvar="MINDO_GRPC_ADDRESS",
        show_envvar=True,
        help="HOST:PORT of the Mindo gRPC service.",
    ),
]


def required_key(api_key: str | None) -> str:
    key = (api_key or "").strip()
    if not key:
        fail("no API key: pass --api-key or set MINDO_API_KEY.")
    return key


@asynccontextmanager
async def service_stub(address: str) -> AsyncIterator[MindoAsyncStub]:
    async with grpc.aio.insecure_channel(address) as channel:
        yield mindo_pb2_grpc.MindoStub(channel)


def metadata(key: str) -> tuple[tuple[str, str], ...]:
    return (("x-api-key", key),)


def said(details: ErrorDetails) -> str:
    return f"{details.message} ({details.code})" if details.message else details.code


def fail_rpc(details: ErrorDetails, address: str) -> NoReturn:
    if details.status is grpc.StatusCode.UNAVAILABLE and details.code == "internal":
        fail(f"cannot reach the Mindo service at {address}: {details.message}")
    fail(said(details))
