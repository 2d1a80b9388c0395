"""POST /api/v1/meta-templates/send/: one template message, synchronously through Meta."""

from __future__ import annotations

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import openapi
from rest_bridge.api_key import api_key
from rest_bridge.convert import iso_utc
from rest_bridge.fields import CharField, DictField, Schema
from rest_bridge.inputs import validated_body
from rest_bridge.problems import ApiError, json_response
from rest_bridge.routes.spec import Route
from rest_bridge.template_fields import sender_and_template
from rest_bridge.upstream import upstream

PATH = "/api/v1/meta-templates/send/"
SCOPE = "send"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255  # as the service (services/idempotent_sends)


def _variables(description: str, example: dict[str, str]) -> DictField:
    # Values pass through untouched (no trimming, blanks allowed): whether they suit the
    # template is the service's call.
    value = CharField(max_length=32768, allow_blank=True, trim_whitespace=False)
    return DictField(
        child=value, max_items=100, max_key_length=256, description=description, example=example
    )


SCHEMA = Schema(
    fields={
        **sender_and_template("the message"),
        "recipient_phone": CharField(
            max_length=64,
            description="Recipient's phone number in international format, no spaces.",
            example="+5491112345678",
        ),
        "variables": _variables(
            "Template variables keyed by the template's variable names (or 1, 2, ...). "
            "Numbers are accepted and sent as text.",
            {"name": "Juan Perez", "code": "ABC123"},
        ),
        "button_variables": _variables(
            "Dynamic button values keyed button_0, button_1, ... by the button's index.",
            {"button_0": "ABC-123"},
        ),
    }
)


async def send_message(request: web.Request) -> web.Response:
    key = api_key(request)
    body = await validated_body(request, SCHEMA, api_key=key, scope=SCOPE)
    service = upstream(request)
    message = to_request(body)
    idempotency_key = idempotency_key_of(request)
    if idempotency_key is not None:
        message.idempotency_key = idempotency_key
    reply = await service.call(
        service.stub.SendMessage, message, api_key=key, request_fields=SCHEMA.names
    )
    return json_response(to_body(reply))


def to_request(body: dict[str, object]) -> mindo_pb2.SendMessageRequest:
    # The schema declares exactly the message's field names.
    return mindo_pb2.SendMessageRequest(
        phone_number_id=str(body["phone_number_id"]),
        template_name=str(body["template_name"]),
        language=str(body["language"]),
        recipient_phone=str(body["recipient_phone"]),
        variables=_texts(body.get("variables")),
        button_variables=_texts(body.get("button_variables")),
    )


def idempotency_key_of(request: web.Request) -> str | None:
    """The Idempotency-Key header as the service takes it, if given. Checked here too: a
    header's bytes that are not UTF-8 reach aiohttp's text as surrogates, which protobuf cannot
    carry."""
    value = request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if (
        not value
        or len(value) > MAX_IDEMPOTENCY_KEY
        or not (value.isascii() and value.isprintable())
    ):
        problem = f"must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        raise ApiError(
            400,
            {
                "error": f"{IDEMPOTENCY_HEADER}: {problem}",
                "code": "invalid_request",
                "fields": {IDEMPOTENCY_HEADER: [problem]},
            },
        )
    return value


def _texts(validated: object) -> dict[str, str]:
    """A ``DictField``'s validated value; ``{}`` when the optional field was left out."""
    if not isinstance(validated, dict):
        return {}
    return {str(key): str(value) for key, value in validated.items()}


def to_body(reply: mindo_pb2.SendMessageResponse) -> dict[str, object]:
    return {
        "success": True,
        "message_id": reply.message_id,
        "template_name": reply.template_name,
        "recipient_phone": reply.recipient_phone,
        "status": reply.status,
        "sent_at": iso_utc(reply.sent_at),
    }


_SENT = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}

_SENT_SCHEMA = {
    "type": "object",
    "required": list(_SENT),
    "properties": {
        "success": {"type": "boolean", "const": True},
        "message_id": {"type": "string", "description": "Meta's wamid."},
        "template_name": {"type": "string"},
        "recipient_phone": {"type": "string", "description": "E.164, with a leading +."},
        "status": {"type": "string", "const": "sent"},
        "sent_at": {"type": "string", "format": "date-time", "description": "UTC, with Z."},
    },
    "additionalProperties": False,
}

_BAD_REQUEST = {
    "Validation": {
        "phone_number_id": ["This field is required."],
        "recipient_phone": ["This field is required."],
    },
    "Template not approved": {"error": "Template 'welcome_message' no tiene estado APPROVED"},
    "Invalid variable": {"variables": {"name": ["Not a valid string."]}},
    "Malformed JSON": {
        "error": "JSON parse error - Expecting value: line 1 column 1 (char 0)",
        "code": "malformed_json",
    },
    "Template parameters": {
        "error": "(#132000) Number of parameters does not match the expected number of params",
        "code": "template_parameters",
        "meta_code": 132000,
        "fields": {"variables.code": ["This variable is required by the template."]},
    },
}

_NOT_FOUND = {
    "Template not found": {
        "error": "Template 'welcome_message' (language: es) no encontrado en este business account"
    },
    "Number not found": {"error": "Numero de WhatsApp con ID '813497231850626' no encontrado"},
}

_OPTED_OUT = {
    "error": (
        "The recipient opted out of this organisation's marketing messages; "
        "marketing templates are not sent to them"
    ),
    "code": "recipient_opted_out",
}

_TOO_MANY = {
    "Rate limited": {"error": "Too many requests; retry after 3 s", "code": "rate_limited"},
    "Quota exceeded": {
        "error": (
            "The organisation's 24-hour limit of unique recipients is reached: this recipient "
            "was not messaged in the last 24 hours and fits at 2025-11-17T09:12:03Z at the "
            "earliest"
        ),
        "code": "quota_exceeded",
        "frees_at": "2025-11-17T09:12:03Z",
    },
}

IDEMPOTENCY_CONFLICTS = {
    "Key reused": {
        "error": (
            "This Idempotency-Key was used in the last 24 hours with a different request: "
            "use a new key for a new request"
        ),
        "code": "idempotency_key_reused",
    },
    "Key in flight": {
        "error": (
            "The first request with this Idempotency-Key is still being processed; "
            "retry shortly to read its answer"
        ),
        "code": "idempotency_key_in_flight",
    },
}

_UNAVAILABLE = {
    "Meta unavailable": {
        "error": "Meta unavailable: no answer before the timeout",
        "code": "meta_unavailable",
    },
    "Outcome unknown": {
        "error": (
            "The send with this Idempotency-Key got no answer from Meta (started at "
            "2025-11-16T21:30:00Z): it may or may not have been sent, and it will not be sent "
            "again with this key"
        ),
        "code": "outcome_unknown",
        "first_attempt_at": "2025-11-16T21:30:00Z",
    },
    "Service unavailable": {"error": "Service unavailable", "code": "service_unavailable"},
}

_IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the send safe to retry. The same key with the same body within 24 hours answers "
        "what the first request answered (the same message_id, status and sent_at, or the "
        "same error from Meta) and Meta is called at most once, even for requests racing each "
        "other; the same key with another body is a 409 idempotency_key_reused. A first send "
        "that got no answer from Meta answers 503 outcome_unknown, then and every time after. "
        "A request refused before Meta was called (a 4xx, a 429) does not use the key up. "
        "Keys are per organisation and stored hashed."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "order-1234-confirmation",
}

OPERATION = {
    "operationId": "sendMessage",
    "summary": "Send a template message",
    "description": (
        "Sends one WhatsApp template message synchronously through Meta and returns Meta's "
        "message id (wamid). Authentication is checked before the body: a bad key is a 401 "
        "whatever the body."
    ),
    "parameters": [_IDEMPOTENCY_KEY],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SCHEMA.json_schema()}},
    },
    "responses": {
        "200": openapi.response("Sent.", _SENT_SCHEMA, {"OK": _SENT}),
        "400": openapi.response(
            "The body is invalid, or the template cannot be sent with it.",
            {"oneOf": [openapi.ref(name) for name in ("FieldErrors", "Error", "CodedError")]},
            _BAD_REQUEST,
        ),
        "404": openapi.response(
            "No such template or phone number.", openapi.ref("Error"), _NOT_FOUND
        ),
        "413": {"$ref": "#/components/responses/PayloadTooLarge"},
        "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
        "429": openapi.response(
            "Too many requests from this key, or the organisation's quota has no room for a new "
            "recipient. Retry-After says when to try again.",
            {"oneOf": [openapi.ref("CodedError"), openapi.ref("QuotaExceeded")]},
            _TOO_MANY,
            headers=openapi.RETRY_AFTER,
        ),
        "409": openapi.response(
            "A marketing template to a recipient on the organisation's suppression list (they "
            "wrote STOP, BAJA, …), refused before Meta; or the Idempotency-Key belongs to "
            "another request, or its first request still runs (with Retry-After).",
            openapi.ref("CodedError"),
            {"Opted out": _OPTED_OUT, **IDEMPOTENCY_CONFLICTS},
        ),
        "502": {"$ref": "#/components/responses/MetaError"},
        **openapi.common_error_responses(calls_service=True),
        "503": openapi.response(
            "Meta or the Mindo service cannot be reached (try again later), or the send with "
            "this Idempotency-Key got no answer from Meta (outcome_unknown: not retried).",
            openapi.ref("CodedError"),
            _UNAVAILABLE,
        ),
    },
}

ROUTES = (Route(method="POST", path=PATH, handler=send_message, operation=OPERATION),)
