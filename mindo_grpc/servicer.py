"""The Mindo gRPC service: thin methods that parse, call a use case and convert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC

from mindo_core.bootstrap import Services
from mindo_core.callbacks.model import WebhookEndpointId
from mindo_core.services.authenticate import Principal
from mindo_core.services.ingest_webhook import WebhookPost
from mindo_grpc import convert, convert_bulks, convert_callbacks
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from mindo_grpc.handlers import keyless_unary, server_stream, unary, unary_with_deadline
from mindo_grpc.watch_snapshots import SharedSnapshots


class MindoServicer(mindo_pb2_grpc.MindoServicer):
    """Every RPC of ``mindo.v1.Mindo``; all but IngestWebhook authenticate with ``x-api-key``."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.authenticator = services.authenticator
        self._snapshots = SharedSnapshots()  # WatchBulk's, shared by a bulk's subscribers

    @unary_with_deadline("send")
    async def SendMessage(
        self, request: pb.SendMessageRequest, principal: Principal, time_remaining: float | None
    ) -> pb.SendMessageResponse:
        command = convert.send_message_command(request)
        key = request.idempotency_key if request.HasField("idempotency_key") else None
        sent = await self.services.send_message(
            principal, command, idempotency_key=key, time_remaining=time_remaining
        )
        return convert.send_message_response(sent)

    @unary("send")
    async def SendBulk(
        self, request: pb.SendBulkRequest, principal: Principal
    ) -> pb.SendBulkResponse:
        submitted = await self.services.submit_bulk(
            principal, convert_bulks.submit_command(request)
        )
        return convert_bulks.submitted(submitted)

    @unary("read")
    async def GetBulk(self, request: pb.GetBulkRequest, principal: Principal) -> pb.Bulk:
        view = await self.services.bulk_queries.get(principal, request.bulk_send_id)
        return convert_bulks.bulk(view)

    @unary("read")
    async def GetBulkTimeline(
        self, request: pb.GetBulkTimelineRequest, principal: Principal
    ) -> pb.BulkTimeline:
        points = await self.services.bulk_queries.timeline(principal, request.bulk_send_id)
        return convert_bulks.timeline(points)

    @unary("read")
    async def ListBulks(
        self, request: pb.ListBulksRequest, principal: Principal
    ) -> pb.ListBulksResponse:
        page = await self.services.bulk_queries.list(
            principal,
            convert_bulks.bulk_filter(request),
            page=request.page or 1,
            page_size=request.page_size or 20,
        )
        return pb.ListBulksResponse(
            count=page.count, results=[convert_bulks.bulk(v) for v in page.items]
        )

    @unary("read")
    async def ListBulkMessages(
        self, request: pb.ListBulkMessagesRequest, principal: Principal
    ) -> pb.ListBulkMessagesResponse:
        page = await self.services.bulk_queries.messages(
            principal,
            request.bulk_send_id,
            status=convert_bulks.recipient_status_filter(request.status),
            page=request.page or 1,
            page_size=request.page_size or 20,
        )
        return pb.ListBulkMessagesResponse(
            count=page.count, results=[convert_bulks.bulk_message(r) for r in page.items]
        )

    @server_stream("read")
    async def ExportBulkMessages(
        self, request: pb.ExportBulkMessagesRequest, principal: Principal
    ) -> AsyncIterator[pb.BulkMessage]:
        recipients = self.services.bulk_queries.export(
            principal,
            request.bulk_send_id,
            status=convert_bulks.recipient_status_filter(request.status),
        )
        async for recipient in recipients:
            yield convert_bulks.bulk_message(recipient)

    @unary("send")
    async def CancelBulk(self, request: pb.CancelBulkRequest, principal: Principal) -> pb.Bulk:
        view = await self.services.bulk_queries.cancel(principal, request.bulk_send_id)
        return convert_bulks.bulk(view)

    @unary("send")
    async def PauseBulk(self, request: pb.PauseBulkRequest, principal: Principal) -> pb.Bulk:
        view = await self.services.bulk_queries.pause(principal, request.bulk_send_id)
        return convert_bulks.bulk(view)

    @unary("send")
    async def ResumeBulk(self, request: pb.ResumeBulkRequest, principal: Principal) -> pb.Bulk:
        view = await self.services.bulk_queries.resume(principal, request.bulk_send_id)
        return convert_bulks.bulk(view)

    @unary("send")
    async def ResendFailed(
        self, request: pb.ResendFailedRequest, principal: Principal
    ) -> pb.ResendFailedResponse:
        resent = await self.services.resend_failed(principal, convert_bulks.resend_command(request))
        return convert_bulks.resent(resent)

    @server_stream("read")
    async def WatchBulk(
        self, request: pb.WatchBulkRequest, principal: Principal
    ) -> AsyncIterator[pb.Bulk]:
        views = self.services.watch_bulk(
            principal,
            request.bulk_send_id,
            follow_delivery=request.follow_delivery,
            follow_delivery_timeout=request.follow_delivery_timeout_seconds or None,
        )
        async for view in views:
            yield self._snapshots.convert(view)

    @server_stream("read")
    async def WatchBulks(
        self, request: pb.WatchBulksRequest, principal: Principal
    ) -> AsyncIterator[pb.BulksChange]:
        async for change in self.services.watch_bulks(principal):
            yield pb.BulksChange(
                initial=change.initial,
                bulks=[self._snapshots.convert(view) for view in change.views],
            )

    @unary("read")
    async def GetMessage(self, request: pb.GetMessageRequest, principal: Principal) -> pb.Message:
        view = await self.services.message_status(principal, request.message_id)
        return convert.message(view)

    @keyless_unary
    async def IngestWebhook(self, request: pb.IngestWebhookRequest) -> pb.IngestWebhookResponse:
        report = await self.services.ingest_webhook(request.body, request.signature or None)
        return convert.ingest_report(report)

    @keyless_unary
    async def IngestWebhooks(self, request: pb.IngestWebhooksRequest) -> pb.IngestWebhooksResponse:
        posts = [
            WebhookPost(body=post.body, signature=post.signature or None) for post in request.posts
        ]
        answers = await self.services.ingest_webhook.many(posts)
        return pb.IngestWebhooksResponse(results=[convert.ingest_result(a) for a in answers])

    @unary("read")
    async def ListBusinessAccounts(
        self, request: pb.ListBusinessAccountsRequest, principal: Principal
    ) -> pb.ListBusinessAccountsResponse:
        overview = await self.services.business_overview(principal)
        return convert.business_accounts(overview)

    @unary("read")
    async def GetBusinessInfo(
        self, request: pb.GetBusinessInfoRequest, principal: Principal
    ) -> pb.BusinessInfo:
        return convert.business_info(await self.services.business_info(principal))

    @unary("read")
    async def LookupContact(
        self, request: pb.LookupContactRequest, principal: Principal
    ) -> pb.LookupContactResponse:
        result = await self.services.contact_lookup(principal, request.phone)
        return convert.contact_lookup(result)

    @unary("read")
    async def ListSuppressedPhones(
        self, request: pb.ListSuppressedPhonesRequest, principal: Principal
    ) -> pb.ListSuppressedPhonesResponse:
        page = await self.services.suppression_list.list(
            principal.organisation.id, page=request.page or 1, page_size=request.page_size or 20
        )
        return pb.ListSuppressedPhonesResponse(
            count=page.count, results=[convert.suppressed_phone(c) for c in page.items]
        )

    @unary("send")
    async def SuppressPhone(
        self, request: pb.SuppressPhoneRequest, principal: Principal
    ) -> pb.SuppressedPhone:
        contact = await self.services.suppression_list.add(principal.organisation.id, request.phone)
        return convert.suppressed_phone(contact)

    @unary("send")
    async def UnsuppressPhone(
        self, request: pb.UnsuppressPhoneRequest, principal: Principal
    ) -> pb.UnsuppressPhoneResponse:
        phone = await self.services.suppression_list.remove(
            principal.organisation.id, request.phone
        )
        return pb.UnsuppressPhoneResponse(phone=phone)

    @unary("send")
    async def ImportContacts(
        self, request: pb.ImportContactsRequest, principal: Principal
    ) -> pb.ImportContactsResponse:
        rows = [convert.contact_input(row) for row in request.contacts]
        report = await self.services.contact_import.import_contacts(
            principal.organisation.id, rows, list_name=request.contact_list_name or None
        )
        return convert.import_report(report)

    @unary("read")
    async def ListContactLists(
        self, request: pb.ListContactListsRequest, principal: Principal
    ) -> pb.ListContactListsResponse:
        lists = await self.services.contact_import.lists(principal.organisation.id)
        return pb.ListContactListsResponse(results=[convert.contact_list(c) for c in lists])

    @unary("send")
    async def CreateWebhookEndpoint(
        self, request: pb.CreateWebhookEndpointRequest, principal: Principal
    ) -> pb.WebhookEndpoint:
        created = await self.services.webhook_endpoints.add(
            principal.organisation.id, request.url, list(request.events)
        )
        return convert_callbacks.endpoint(created.endpoint, secret=created.secret)

    @unary("read")
    async def ListWebhookEndpoints(
        self, request: pb.ListWebhookEndpointsRequest, principal: Principal
    ) -> pb.ListWebhookEndpointsResponse:
        endpoints = await self.services.webhook_endpoints.list(principal.organisation.id)
        return pb.ListWebhookEndpointsResponse(
            results=[convert_callbacks.endpoint(e) for e in endpoints]
        )

    @unary("send")
    async def DeleteWebhookEndpoint(
        self, request: pb.WebhookEndpointRef, principal: Principal
    ) -> pb.DeleteWebhookEndpointResponse:
        await self.services.webhook_endpoints.remove(
            principal.organisation.id, WebhookEndpointId(request.id)
        )
        return pb.DeleteWebhookEndpointResponse()

    @unary("send")
    async def RotateWebhookEndpointSecret(
        self, request: pb.WebhookEndpointRef, principal: Principal
    ) -> pb.WebhookEndpoint:
        rotated = await self.services.webhook_endpoints.rotate_secret(
            principal.organisation.id, WebhookEndpointId(request.id)
        )
        return convert_callbacks.endpoint(rotated.endpoint, secret=rotated.secret)

    @unary("read")
    async def ListWebhookAttempts(
        self, request: pb.ListWebhookAttemptsRequest, principal: Principal
    ) -> pb.ListWebhookAttemptsResponse:
        attempts = await self.services.webhook_endpoints.attempts(
            principal.organisation.id,
            WebhookEndpointId(request.endpoint_id),
            limit=request.limit or 100,
        )
        return pb.ListWebhookAttemptsResponse(
            results=[convert_callbacks.attempt(a) for a in attempts]
        )

    @unary("send")
    async def ReplayWebhookEvents(
        self, request: pb.ReplayWebhookEventsRequest, principal: Principal
    ) -> pb.ReplayWebhookEventsResponse:
        replayed = await self.services.webhook_endpoints.replay(
            principal.organisation.id,
            WebhookEndpointId(request.endpoint_id),
            since=getattr(request, "from").ToDatetime(tzinfo=UTC),
            until=request.to.ToDatetime(tzinfo=UTC),
        )
        return pb.ReplayWebhookEventsResponse(replayed=replayed)

    @unary(None)
    async def CheckApiKey(
        self, request: pb.CheckApiKeyRequest, principal: Principal
    ) -> pb.ApiKeyInfo:
        if request.scope:
            await self.authenticator.require_scope(principal, request.scope)
        return convert.api_key_info(principal)
