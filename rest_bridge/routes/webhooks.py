"""Meta's webhooks: the verification handshake (GET) and the signed POSTs. No API key.

GET answers Meta's handshake: 200 with the raw ``hub.challenge`` as text when ``hub.mode`` is
``subscribe`` and ``hub.verify_token`` matches ``MINDO_META_VERIFY_TOKEN``, else 403.

POST is the hot path (Meta advises sizing it for three times the sending rate), so the bridge
only reads the bytes, checks the signature and forwards them: no JSON parsing here, the service
parses. The order of refusals:

1. no ``X-Hub-Signature-256`` in Meta's form, or no app secret configured: 401 before the body
   is read;
2. a body over 3 MiB (Meta's payloads are at most 3 MB): 413;
3. a signature that does not sign the body: 401.

Nothing refused reaches the service, so nothing is recorded. What is accepted goes to the
service byte for byte with the header, batched with the POSTs that arrive meanwhile
(``webhook_forwarder``: one ``IngestWebhooks`` call for many POSTs); the service checks the
signature again (it is the authority) and its refusals map through the error table (a
malformed body is a 400). The answer comes once the statuses are durable.
"""

from __future__ import annotations

import hmac

import grpc
from aiohttp import web

from mindo_grpc.status_details import ErrorDetails
from rest_bridge import meta_signature, openapi
from rest_bridge.error_table import api_error
from rest_bridge.json_body import read_limited
from rest_bridge.problems import ApiError, coded, json_response
from rest_bridge.routes.spec import Route
from rest_bridge.webhook_forwarder import webhook_forwarder
from rest_bridge.webhook_secrets import webhook_secrets

PATH = "/webhooks/meta"
MAX_BODY_BYTES = 3 * 1024 * 1024
SUBSCRIBE = "subscribe"

SIGNATURE_INVALID = "webhook_signature_invalid"
VERIFICATION_FAILED = "webhook_verification_failed"


# --------------------------------------------------------------------------------------------
# The handshake


async def verify(request: web.Request) -> web.Response:
    query = request.query
    expected = webhook_secrets(request).verify_token
    if query.get("hub.mode") != SUBSCRIBE or not _same(query.get("hub.verify_token"), expected):
        raise coded(403, "Webhook verification failed", VERIFICATION_FAILED)
    # Echoed only to whoever knows the token; nosniff keeps a browser from reading it as HTML.
    return web.Response(
        text=query.get("hub.challenge", ""),
        content_type="text/plain",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _same(given: str | None, expected: str) -> bool:
    # An unset token matches nothing, not even an empty hub.verify_token.
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


# --------------------------------------------------------------------------------------------
# The POSTs


async def receive(request: web.Request) -> web.Response:
    app_secret = webhook_secrets(request).app_secret
    header = request.headers.get(meta_signature.HEADER)
    if not app_secret:
        raise _refused("no app secret is configured (MINDO_META_APP_SECRET)")
    if header is None or not meta_signature.well_formed(header):
        raise _refused(f"missing {meta_signature.HEADER}")
    body = await read_limited(request, MAX_BODY_BYTES)
    if not meta_signature.signs(header, body, app_secret):
        raise _refused("the signature does not match the body")
    result = await webhook_forwarder(request).forward(body, header)
    if result.grpc_code != grpc.StatusCode.OK.value[0]:
        refusal = ErrorDetails(
            status=_STATUS_BY_NUMBER.get(result.grpc_code, grpc.StatusCode.UNKNOWN),
            message=result.error_message,
            code=result.error_code,
        )
        raise api_error(refusal)
    return json_response({"received": result.statuses + result.account_events})


_STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}


def _refused(reason: str) -> ApiError:
    # The service's words for the same refusals.
    return coded(401, f"Webhook refused: {reason}", SIGNATURE_INVALID)


# --------------------------------------------------------------------------------------------
# OpenAPI

_QUERY = (
    ("hub.mode", "Always subscribe.", "subscribe"),
    ("hub.verify_token", "The verify token set in Meta's webhook settings.", "my-verify-token"),
    ("hub.challenge", "A number to echo back.", "1158201444"),
)

_VERIFICATION_FAILED = {"error": "Webhook verification failed", "code": VERIFICATION_FAILED}

VERIFY_OPERATION = {
    "operationId": "verifyMetaWebhook",
    "summary": "Meta's webhook verification handshake",
    "description": (
        "Not in Mindo's documentation. Meta calls it when the callback URL or verify token is "
        "set: when hub.mode is subscribe and hub.verify_token equals MINDO_META_VERIFY_TOKEN "
        "(compared in constant time), the answer is hub.challenge as it came, as text/plain. "
        "Anything else, or no MINDO_META_VERIFY_TOKEN configured, is a 403. No API key."
    ),
    "security": openapi.NO_AUTH,
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": True,
            "description": description,
            "schema": {"type": "string"},
            "example": example,
        }
        for name, description, example in _QUERY
    ],
    "responses": {
        "200": {
            "description": "The challenge, verbatim.",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": "1158201444"}},
        },
        "403": openapi.response(
            "Wrong mode or token.",
            openapi.ref("CodedError"),
            {"Verification failed": _VERIFICATION_FAILED},
        ),
        **openapi.common_error_responses(calls_service=False),
    },
}

_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="

_STATUS_WEBHOOK = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "statuses": [
                            {
                                "id": _WAMID,
                                "status": "delivered",
                                "timestamp": "1750030073",
                                "recipient_id": "16505551234",
                            }
                        ],
                    },
                    "field": "messages",
                }
            ],
        }
    ],
}

_RECEIVED_SCHEMA = {
    "type": "object",
    "required": ["received"],
    "properties": {
        "received": {
            "type": "integer",
            "description": "Status updates and account events found in the payload.",
        }
    },
    "additionalProperties": False,
}


def _signature_refused(reason: str) -> dict[str, str]:
    return {"error": f"Webhook refused: {reason}", "code": SIGNATURE_INVALID}


RECEIVE_OPERATION = {
    "operationId": "receiveMetaWebhook",
    "summary": "Meta's webhook notifications",
    "description": (
        "Not in Mindo's documentation. Message statuses, template and account updates, as Meta "
        "posts them. X-Hub-Signature-256 must be the HMAC-SHA256 of the exact body keyed by "
        "MINDO_META_APP_SECRET; otherwise 401 and nothing is recorded. The body (at most "
        "3 MiB) goes to the service as it came; the service checks the signature again and "
        "reads the payload. Duplicates and out-of-order statuses are expected (Meta retries). "
        "No API key."
    ),
    "security": openapi.NO_AUTH,
    "parameters": [
        {
            "name": meta_signature.HEADER,
            "in": "header",
            "required": True,
            "description": "sha256= and the hex HMAC-SHA256 of the raw body.",
            "schema": {"type": "string", "pattern": "^sha256=[0-9a-fA-F]{64}$"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}, "example": _STATUS_WEBHOOK}},
    },
    "responses": {
        "200": openapi.response("Recorded.", _RECEIVED_SCHEMA, {"OK": {"received": 1}}),
        "400": openapi.response(
            "The service could not read the payload.",
            openapi.ref("CodedError"),
            {"Malformed": {"error": "The webhook body is not JSON", "code": "invalid_request"}},
        ),
        "401": openapi.response(
            "The signature is missing or does not sign the body.",
            openapi.ref("CodedError"),
            {
                "Missing": _signature_refused(f"missing {meta_signature.HEADER}"),
                "Wrong": _signature_refused("the signature does not match the body"),
            },
        ),
        "413": openapi.response(
            "The body exceeds 3 MiB.",
            openapi.ref("CodedError"),
            {
                "payload_too_large": {
                    "error": f"Request body exceeds {MAX_BODY_BYTES} bytes.",
                    "code": "payload_too_large",
                }
            },
        ),
        "503": {"$ref": "#/components/responses/Unavailable"},
        "504": {"$ref": "#/components/responses/Timeout"},
        **openapi.common_error_responses(calls_service=False),
    },
}

ROUTES = (
    Route(method="GET", path=PATH, handler=verify, operation=VERIFY_OPERATION),
    Route(method="POST", path=PATH, handler=receive, operation=RECEIVE_OPERATION),
)
