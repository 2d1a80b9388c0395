"""A hand-written Mindo gRPC service: it records what it receives and answers as told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

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


M = TypeVar("M", bound=Message)

BULK_ID = "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"
# The documentation's example times: created, started, completed, and a message's times.
CREATED = Timestamp(seconds=1763328600)  # 2025-11-16T21:30:00Z
STARTED = Timestamp(seconds=1763328605)  # 2025-11-16T21:30:05Z
COMPLETED = Timestamp(seconds=1763328628)  # 2025-11-16T21:30:28Z
SENT = Timestamp(seconds=1763328610)  # 2025-11-16T21:30:10Z
DELIVERED = Timestamp(seconds=1763328615)  # 2025-11-16T21:30:15Z
# The Message status example (mindo-api.md §5): its wamid and times.
WAMID = "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA="
MESSAGE_SENT = Timestamp(seconds=1763328600)  # 2025-11-16T21:30:00Z
MESSAGE_DELIVERED = Timestamp(seconds=1763328605)  # 2025-11-16T21:30:05Z
MESSAGE_READ = Timestamp(seconds=1763328660)  # 2025-11-16T21:31:00Z


def _overridden(message: M, overrides: dict[str, object]) -> M:
    for name, value in overrides.items():
        if isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        elif isinstance(value, dict):
            field = getattr(message, name)
            field.clear()
            field.update(value)
        elif value is None:
            message.ClearField(name)
        else:
            setattr(message, name, value)
    return message


def sent_reply(**overrides: object) -> mindo_pb2.SendMessageResponse:
    reply = mindo_pb2.SendMessageResponse(
        message_id="wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
        template_name="welcome_message",
        recipient_phone="+5491112345678",
        status="sent",
        sent_at=Timestamp(seconds=1763328600),  # 2025-11-16T21:30:00Z
        id=7,
    )
    return _overridden(reply, overrides)


def accepted_reply(**overrides: object) -> mindo_pb2.SendBulkResponse:
    """The Send bulk page's 202 example, as the service would answer it."""
    reply = mindo_pb2.SendBulkResponse(
        bulk_send_id=BULK_ID,
        task_id="7f8e9d0c-1b2a-3c4d-5e6f-7a8b9c0d1e2f",
        status="queued",
        template_name="welcome_message",
        total_recipients=3,
        unique_recipients=3,
        estimated_time_minutes=0.4,
        created_at=CREATED,
        whatsapp_phone_number=mindo_pb2.WhatsAppPhoneNumber(
            id=123,
            phone_number_id="813497231850626",
            display_phone_number="+54 9 223 675-0780",
            verified_name="Mindo Software",
            quality_rating="GREEN",
            messaging_limit_tier="TIER_1000",
        ),
        quota_info=mindo_pb2.QuotaInfo(
            can_send=True, quota_needed=3, quota_available=997, quota_total=1000, tier="TIER_1000"
        ),
    )
    return _overridden(reply, overrides)


def bulk(**overrides: object) -> mindo_pb2.Bulk:
    """The Send status example (mindo-api.md §8), as the service would answer it."""
    reply = mindo_pb2.Bulk(
        id=BULK_ID,
        status="COMPLETED",
        template=mindo_pb2.BulkTemplate(
            id=45, template_name="welcome_message", language="es", status="APPROVED"
        ),
        phone_number=mindo_pb2.BulkPhoneNumber(
            id=123, display_phone_number="+54 9 223 675-0780", verified_name="Mindo Software"
        ),
        total_recipients=3,
        unique_recipients=3,
        sent_count=3,
        delivered_count=2,
        read_count=1,
        failed_count=0,
        pending_count=0,
        cancelled_count=0,
        progress_percentage=100.0,
        estimated_time_minutes=0.4,
        original_estimated_time_minutes=0.4,
        started_at=STARTED,
        completed_at=COMPLETED,
        created_at=CREATED,
    )
    return _overridden(reply, overrides)


def bulk_message(**overrides: object) -> mindo_pb2.BulkMessage:
    """The Send messages example item 1001 (mindo-api.md §10)."""
    reply = mindo_pb2.BulkMessage(
        id=1001,
        recipient_phone="+5491112345678",
        status="delivered",
        meta_message_id="wamid.HBgLNTU0MTE2NzU0Nzg1FQIAERgS...",
        variables_used={"name": "Juan Perez", "code": "ABC123"},
        sent_at=SENT,
        delivered_at=DELIVERED,
    )
    return _overridden(reply, overrides)


def message_status(**overrides: object) -> mindo_pb2.Message:
    """The Message status example (mindo-api.md §5), as the service would answer it."""
    reply = mindo_pb2.Message(
        id=123,
        template=mindo_pb2.MessageTemplate(
            id=45, name="welcome_message", language="es", category="MARKETING"
        ),
        recipient=mindo_pb2.MessageRecipient(
            phone="+5491112345678", contact_name="Juan Perez", contact_id=789
        ),
        variables_used={"name": "Juan Perez", "code": "ABC123"},
        delivery_status=mindo_pb2.DeliveryStatus(
            current="read",
            sent_at=MESSAGE_SENT,
            delivered_at=MESSAGE_DELIVERED,
            read_at=MESSAGE_READ,
        ),
        meta_message_id=WAMID,
        was_successful=True,
        sent_at=MESSAGE_SENT,
    )
    return _overridden(reply, overrides)


class FakeMindo(mindo_pb2_grpc.MindoServicer):
    """Answers SendMessage with ``send_reply`` unless ``send_error`` is set.

    CheckApiKey accepts ``GOOD_KEY`` only, like the real service would for a single key, and
    answers PERMISSION_DENIED for a scope listed in ``missing_scopes``.
    ``hang`` never answers SendMessage; ``bare_send_status`` aborts it without any details, as
    a proxy or a crash would.

    The bulk RPCs answer from ``bulk_reply`` (SendBulk), ``bulks`` (GetBulk, CancelBulk: an id
    it does not hold is ``bulk_not_found``), ``bulk_page`` (ListBulks) and ``message_page``
    (ListBulkMessages), unless ``errors`` holds an error for the method's name.

    ExportBulkMessages streams ``message_page``'s results (those in the asked status);
    GetBulkTimeline answers ``timeline``.

    GetMessage answers from ``messages`` (a wamid it does not hold is ``message_not_found``)
    and, like the service, checks the key and the read scope itself. IngestWebhook(s) answer
    ``ingest_reply`` per post; they record what they are given, so a request the bridge
    refused leaves ``received`` empty.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.send_reply = sent_reply()
        self.send_error: ErrorDetails | None = None
        self.bare_send_status: grpc.StatusCode | None = None
        self.missing_scopes: set[str] = set()
        self.hang = False
        self.bulk_reply = accepted_reply()
        self.bulks: dict[str, mindo_pb2.Bulk] = {BULK_ID: bulk()}
        self.bulk_page = mindo_pb2.ListBulksResponse(count=1, results=[bulk()])
        self.message_page = mindo_pb2.ListBulkMessagesResponse(count=1, results=[bulk_message()])
        self.errors: dict[str, ErrorDetails] = {}
        self.messages: dict[str, mindo_pb2.Message] = {WAMID: message_status()}
        self.ingest_reply = mindo_pb2.IngestWebhookResponse(statuses=1)
        self.timeline = mindo_pb2.BulkTimeline()

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

    async def SendBulk(
        self, request: mindo_pb2.SendBulkRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.SendBulkResponse:
        await self._answer("SendBulk", request, context)
        return self.bulk_reply

    async def GetBulk(
        self, request: mindo_pb2.GetBulkRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.Bulk:
        await self._answer("GetBulk", request, context)
        return await self._held(request.bulk_send_id, context)

    async def CancelBulk(
        self, request: mindo_pb2.CancelBulkRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.Bulk:
        await self._answer("CancelBulk", request, context)
        return await self._held(request.bulk_send_id, context)

    async def PauseBulk(
        self, request: mindo_pb2.PauseBulkRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.Bulk:
        await self._answer("PauseBulk", request, context)
        return await self._held(request.bulk_send_id, context)

    async def ResumeBulk(
        self, request: mindo_pb2.ResumeBulkRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.Bulk:
        await self._answer("ResumeBulk", request, context)
        return await self._held(request.bulk_send_id, context)

    async def ListBulks(
        self, request: mindo_pb2.ListBulksRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.ListBulksResponse:
        await self._answer("ListBulks", request, context)
        return self.bulk_page

    async def ListBulkMessages(
        self, request: mindo_pb2.ListBulkMessagesRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.ListBulkMessagesResponse:
        await self._answer("ListBulkMessages", request, context)
        await self._held(request.bulk_send_id, context)
        return self.message_page

    async def ExportBulkMessages(
        self, request: mindo_pb2.ExportBulkMessagesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[mindo_pb2.BulkMessage]:
        """``message_page``'s results in ``request.status`` (all for "")."""
        await self._answer("ExportBulkMessages", request, context)
        await self._held(request.bulk_send_id, context)
        for item in self.message_page.results:
            if request.status in ("", item.status):
                yield item

    async def GetBulkTimeline(
        self, request: mindo_pb2.GetBulkTimelineRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.BulkTimeline:
        await self._answer("GetBulkTimeline", request, context)
        await self._held(request.bulk_send_id, context)
        return self.timeline

    async def GetMessage(
        self, request: mindo_pb2.GetMessageRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.Message:
        await self._answer("GetMessage", request, context)
        await self._authorise(context, scope="read")
        if request.message_id not in self.messages:
            await context.abort_with_status(to_status(message_not_found(request.message_id)))
        return self.messages[request.message_id]

    async def IngestWebhook(
        self, request: mindo_pb2.IngestWebhookRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.IngestWebhookResponse:
        await self._answer("IngestWebhook", request, context)
        return self.ingest_reply

    async def IngestWebhooks(
        self, request: mindo_pb2.IngestWebhooksRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.IngestWebhooksResponse:
        """Each post is recorded as an ``IngestWebhook`` call; ``errors["IngestWebhook"]`` is
        every post's refusal, and ``errors["IngestWebhooks"]`` fails the whole call."""
        results = []
        for post in request.posts:
            self._record("IngestWebhook", post, context)
            refusal = self.errors.get("IngestWebhook")
            if refusal is None:
                results.append(
                    mindo_pb2.IngestWebhookResult(
                        statuses=self.ingest_reply.statuses,
                        account_events=self.ingest_reply.account_events,
                    )
                )
            else:
                results.append(
                    mindo_pb2.IngestWebhookResult(
                        grpc_code=refusal.status.value[0],
                        error_code=refusal.code,
                        error_message=refusal.message,
                    )
                )
        if "IngestWebhooks" in self.errors:
            await context.abort_with_status(to_status(self.errors["IngestWebhooks"]))
        return mindo_pb2.IngestWebhooksResponse(results=results)

    async def _authorise(self, context: grpc.aio.ServicerContext, *, scope: str) -> None:
        if dict(context.invocation_metadata()).get("x-api-key") != GOOD_KEY:
            await context.abort_with_status(to_status(EXPIRED_KEY))
        if scope in self.missing_scopes:
            await context.abort_with_status(to_status(FORBIDDEN))

    async def _answer(
        self, method: str, request: Message, context: grpc.aio.ServicerContext
    ) -> None:
        """Records the call; aborts it when ``errors`` says so."""
        self._record(method, request, context)
        if method in self.errors:
            await context.abort_with_status(to_status(self.errors[method]))

    async def _held(self, bulk_id: str, context: grpc.aio.ServicerContext) -> mindo_pb2.Bulk:
        if bulk_id not in self.bulks:
            await context.abort_with_status(to_status(bulk_not_found(bulk_id)))
        return self.bulks[bulk_id]

    async def CheckApiKey(
        self, request: mindo_pb2.CheckApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> mindo_pb2.ApiKeyInfo:
        self._record("CheckApiKey", request, context)
        await self._authorise(context, scope=request.scope)
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


def bulk_not_found(bulk_id: str) -> ErrorDetails:
    return ErrorDetails(
        status=grpc.StatusCode.NOT_FOUND,
        message=f"Bulk send '{bulk_id}' no encontrado",
        code="bulk_not_found",
    )


def message_not_found(message_id: str) -> ErrorDetails:
    return ErrorDetails(
        status=grpc.StatusCode.NOT_FOUND,
        message=f"Message '{message_id}' no encontrado",
        code="message_not_found",
    )
