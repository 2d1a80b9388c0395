"""The Mindo gRPC service: thin methods that parse, call a use case and convert."""

from __future__ import annotations

from mindo_core.bootstrap import Services
from mindo_core.services.authenticate import Principal
from mindo_grpc import convert
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc._pb.mindo.v1 import mindo_pb2_grpc
from mindo_grpc.handlers import unary


class MindoServicer(mindo_pb2_grpc.MindoServicer):
    """RPCs not overridden here answer UNIMPLEMENTED (the generated base class does that)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.authenticator = services.authenticator

    @unary("send")
    async def SendMessage(
        self, request: pb.SendMessageRequest, principal: Principal
    ) -> pb.SendMessageResponse:
        command = convert.send_message_command(request)
        sent = await self.services.send_message(principal, command)
        return convert.send_message_response(sent)

    @unary("read")
    async def ListBusinessAccounts(
        self, request: pb.ListBusinessAccountsRequest, principal: Principal
    ) -> pb.ListBusinessAccountsResponse:
        overview = await self.services.business_overview(principal)
        return convert.business_accounts(overview)

    @unary(None)
    async def CheckApiKey(
        self, request: pb.CheckApiKeyRequest, principal: Principal
    ) -> pb.ApiKeyInfo:
        if request.scope:
            await self.authenticator.require_scope(principal, request.scope)
        return convert.api_key_info(principal)
