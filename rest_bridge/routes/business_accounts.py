"""GET /api/v1/business-accounts/: accounts, numbers with their quota, and sendable templates.

camelCase, as the documented endpoint. The documentation shows two revisions of the shape
(accounts nested under ``businessAccounts``, and a flat top-level ``phoneNumbers`` whose items
carry ``businessName``); the answer carries both, so a client written for either works.
"""

from __future__ import annotations

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import openapi
from rest_bridge.api_key import api_key
from rest_bridge.problems import json_response
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = "/api/v1/business-accounts/"


async def business_accounts(request: web.Request) -> web.Response:
    key = api_key(request)
    service = upstream(request)
    reply = await service.call(
        service.stub.ListBusinessAccounts, mindo_pb2.ListBusinessAccountsRequest(), api_key=key
    )
    return json_response(to_body(reply))


def to_body(reply: mindo_pb2.ListBusinessAccountsResponse) -> dict[str, object]:
    accounts: list[dict[str, object]] = []
    numbers: list[dict[str, object]] = []
    for account in reply.business_accounts:
        own = [_number(n) for n in account.phone_numbers]
        accounts.append(_account(account, own))
        numbers.extend({**number, "businessName": account.business_name} for number in own)
    return {
        "companyName": reply.company_name,
        "apiKeyName": reply.api_key_name,
        "businessAccounts": accounts,
        "phoneNumbers": numbers,
    }


def _account(
    account: mindo_pb2.BusinessAccount, numbers: list[dict[str, object]]
) -> dict[str, object]:
    return {
        "businessAccountId": account.business_account_id,
        "businessName": account.business_name,
        "wabaId": account.waba_id,
        "phoneNumbers": numbers,
        "templates": [_template(t) for t in account.templates],
    }


def _number(number: mindo_pb2.PhoneNumber) -> dict[str, object]:
    quota = number.quota
    unlimited = quota.daily_limit < 0
    return {
        "id": number.id,
        "phoneNumberId": number.phone_number_id,
        "displayPhoneNumber": number.display_phone_number,
        "verifiedName": number.verified_name,
        "isPrimary": number.is_primary,
        "messagingLimitTier": number.messaging_limit_tier,
        "qualityRating": number.quality_rating,
        "throughputLevel": number.throughput_level,
        "quota": {
            "dailyLimit": None if unlimited else quota.daily_limit,
            "uniqueNumbersSent24h": quota.unique_numbers_sent_24h,
            "remaining": None if unlimited else quota.remaining,
            "usagePercentage": quota.usage_percentage,
            "canSend": quota.can_send,
        },
    }


def _template(template: mindo_pb2.Template) -> dict[str, object]:
    return {
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "variables": [
            {
                "name": v.name,
                "type": v.type,
                "position": v.position,
                "isRequired": v.is_required,
                "component": v.component,
            }
            for v in template.variables
        ],
    }


_EXAMPLE = {
    "companyName": "Mi Empresa SRL",
    "apiKeyName": "Production API Key",
    "businessAccounts": [
        {
            "businessAccountId": 1,
            "businessName": "Mi Empresa WhatsApp Business",
            "wabaId": "104996122399160",
            "phoneNumbers": [
                {
                    "id": 123,
                    "phoneNumberId": "813497231850626",
                    "displayPhoneNumber": "+54 9 223 675-0780",
                    "verifiedName": "Mi Empresa",
                    "isPrimary": True,
                    "messagingLimitTier": "TIER_1000",
                    "qualityRating": "GREEN",
                    "throughputLevel": "STANDARD",
                    "quota": {
                        "dailyLimit": 1000,
                        "uniqueNumbersSent24h": 45,
                        "remaining": 955,
                        "usagePercentage": 4.5,
                        "canSend": True,
                    },
                }
            ],
            "templates": [
                {
                    "id": 45,
                    "name": "welcome_message",
                    "language": "es",
                    "category": "MARKETING",
                    "variables": [
                        {
                            "name": "name",
                            "type": "TEXT",
                            "position": 1,
                            "isRequired": True,
                            "component": "BODY",
                        }
                    ],
                }
            ],
        }
    ],
    "phoneNumbers": ["… each number above, with businessName …"],
}

OPERATION = {
    "operationId": "getBusinessAccounts",
    "summary": "Business accounts, phone numbers with quota, and templates",
    "description": (
        "Everything the API key's organisation can send with: its WhatsApp Business accounts, "
        "their phone numbers (use phoneNumberId to send) with the portfolio's rolling-24 h "
        "quota, and the APPROVED templates with their variables. dailyLimit and remaining are "
        "null for an unlimited tier. Needs the read scope."
    ),
    "responses": {
        "200": openapi.response("The overview.", {"type": "object"}, {"OK": _EXAMPLE}),
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (Route(method="GET", path=PATH, handler=business_accounts, operation=OPERATION),)
