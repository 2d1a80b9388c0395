"""A hand-written Mindo gRPC service: it records what it receives and answers as told."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mindo_grpc._pb.mindo.v1 import mindo_pb2, mindo_pb2_grpc
from mindo_grpc.status_details import ErrorDetails, to_status

GOOD_KEY = "mindo_abcdefghijklmnopqrstuvwx"


@dataclass(frozen=True, kw_only=True)
class Received:
    method: str
    request: Message
    metadata: dict[str, str]


def sent_reply(**overrides: object) -> mindo_pb2.SendMessageResponse:
    reply = mindo_pb2.SendMessageResponse(
        message_id="wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
        template_name="welcome_message",
        recipient_phone="+5491112345678",
        status="sent",
        sent_at=Timestamp(seconds=1763328600),  # 2025-11-16T21:30:00Z
        id=7,
    )
    for name, value in overrides.items():
        if isinstance(value, Message):
            getattr(reply, name).CopyFrom(value)
        else:
            setattr(reply, name, value)
    return reply


class FakeMindo(mindo_pb2_grpc.MindoServicer):
    """Answers SendMessage with ``send_reply`` unless ``send_error`` is set.

    CheckApiKey accepts ``GOOD_KEY`` only, like the real service would for a single key, and
    answers PERMISSION_DENIED for a scope listed in ``missing_scopes``.
    ``hang`` never answers SendMessage; ``bare_send_status`` aborts it without any details, as
    a proxy or a crash would.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.send_reply = sent_reply()
        self.send_error: ErrorDetails | None = None
        self.bare_send_status: grpc.StatusCode | None = None
        self.missing_scopes: set[str] = set()
        self.hang = False

    def methods(self) -> list[str]:
        return [item.method for item in self.received]

    def only(self, method: str) -> Received:
        calls = [item for item in self.received if item.method == method]
        assert len(calls) == 1, self.methods()
        return calls[0]

    async def SendMessage(
        self, request: mindo_pb2.SendMessageRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.SendMessageResponse:
        self._record("SendMessage", request, context)
        if self.hang:
            await asyncio.Event().wait()  # until the server stops and cancels the call
        if self.bare_send_status is not None:
            await context.abort(self.bare_send_status, "boom: secret internals")
        if self.send_error is not None:
            await context.abort_with_status(to_status(self.send_error))
        return self.send_reply

    async def CheckApiKey(
        self, request: mindo_pb2.CheckApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.ApiKeyInfo:
        self._record("CheckApiKey", request, context)
        if dict(context.invocation_metadata()).get("x-api-key") != GOOD_KEY:
            await context.abort_with_status(to_status(EXPIRED_KEY))
        if request.scope in self.missing_scopes:
            await context.abort_with_status(to_status(FORBIDDEN))
        return mindo_pb2.ApiKeyInfo(organisation_name="Acme", key_name="ci", key_prefix="mindo_ab")

    def _record(self, method: str, request: Message, context: grpc.aio.ServicerContext) -> None:
        metadata = {key: value for key, value in context.invocation_metadata()}
        self.received.append(Received(method=method, request=request, metadata=metadata))


EXPIRED_KEY = ErrorDetails(
    status=grpc.StatusCode.UNAUTHENTICATED, message="API Key expirada", code="api_key_expired"
)
FORBIDDEN = ErrorDetails(
    status=grpc.StatusCode.PERMISSION_DENIED,
    message="API Key no tiene acceso a este recurso",
    code="api_key_forbidden",
)
