"""Protobuf ⇄ core values for the RPCs, in one module."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mindo_core.services.authenticate import Principal
from mindo_core.services.send_message import DEFAULT_LANGUAGE, SendMessageCommand, SentMessage
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def send_message_command(request: pb.SendMessageRequest) -> SendMessageCommand:
    language = request.language if request.HasField("language") else DEFAULT_LANGUAGE
    return SendMessageCommand(
        phone_number_id=request.phone_number_id,
        template_name=request.template_name,
        recipient_phone=request.recipient_phone,
        language=language,
        variables=dict(request.variables),
        button_variables=dict(request.button_variables),
    )


def send_message_response(sent: SentMessage) -> pb.SendMessageResponse:
    return pb.SendMessageResponse(
        message_id=sent.wamid,
        template_name=sent.template_name,
        recipient_phone=sent.recipient_phone,
        status="sent",
        sent_at=timestamp(sent.sent_at),
        id=sent.record.id,
    )


def api_key_info(principal: Principal) -> pb.ApiKeyInfo:
    key = principal.api_key
    return pb.ApiKeyInfo(
        organisation_name=principal.organisation.name,
        key_name=key.name,
        key_prefix=key.display_prefix,
        scopes=sorted(key.scopes),
        expires_at=timestamp(key.expires_at),
    )
