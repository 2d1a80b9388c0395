"""A key sees only its own organisation: another organisation's number, bulk or message answers
exactly like one that does not exist, so nothing leaks. And what a key can see of its own."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"


async def _get(
    http: aiohttp.ClientSession, stack: RealStack, path: str, key: str
) -> tuple[int, object]:
    async with http.get(stack.bridge.url + path, headers={"X-API-Key": key}) as answer:
        return answer.status, await answer.json()


async def test_another_organisation_sees_nothing_of_ours(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        await stack.services.organisations.create("Intruder")
        intruder = (await stack.services.api_keys.issue("Intruder")).plaintext
        async with aiohttp.ClientSession() as http:
            async with http.post(
                stack.bridge.url + "/api/v1/meta-templates/send-bulk/",
                json={
                    "phone_number_id": NUMBER,
                    "template_name": "order_update",
                    "recipients": [
                        {"phone": "+5491112345678", "variables": {"order_id": "1", "status": "ok"}}
                    ],
                },
                headers={"X-API-Key": stack.api_key},
            ) as answer:
                bulk_id = (await answer.json())["bulk_send_id"]
            ours = await _get(
                http, stack, f"/api/v1/meta-templates/bulk-sends/{bulk_id}/", stack.api_key
            )
            theirs = await _get(
                http, stack, f"/api/v1/meta-templates/bulk-sends/{bulk_id}/", intruder
            )
            unknown = await _get(
                http,
                stack,
                "/api/v1/meta-templates/bulk-sends/00000000-0000-4000-8000-000000000000/",
                intruder,
            )
            listed = await _get(http, stack, "/api/v1/meta-templates/bulk-sends/", intruder)
            async with http.post(
                stack.bridge.url + "/api/v1/meta-templates/send/",
                json={
                    "phone_number_id": NUMBER,
                    "template_name": "order_update",
                    "recipient_phone": "+5491112345678",
                    "variables": {"order_id": "1", "status": "ok"},
                },
                headers={"X-API-Key": intruder},
            ) as answer:
                send_as_intruder = (answer.status, await answer.json())
            overview = await _get(http, stack, "/api/v1/business-accounts/", intruder)

    assert ours[0] == 200
    assert theirs[0] == unknown[0] == 404
    assert theirs[1] == {**unknown[1], "error": theirs[1]["error"]}  # type: ignore[index,dict-item]
    assert listed == (200, {"count": 0, "next": None, "previous": None, "results": []})
    assert send_as_intruder == (
        404,
        {"error": f"Numero de WhatsApp con ID '{NUMBER}' no encontrado"},
    )
    assert overview[1]["businessAccounts"] == []  # type: ignore[index]


async def test_business_accounts_show_numbers_quota_and_sendable_templates(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack, aiohttp.ClientSession() as http:
        async with http.post(
            stack.bridge.url + "/api/v1/meta-templates/send/",
            json={
                "phone_number_id": NUMBER,
                "template_name": "order_update",
                "recipient_phone": "+5491112345678",
                "variables": {"order_id": "1", "status": "ok"},
            },
            headers={"X-API-Key": stack.api_key},
        ) as answer:
            assert answer.status == 200
        status, body = await _get(http, stack, "/api/v1/business-accounts/", stack.api_key)

    assert status == 200
    assert body["companyName"] == "Mindo Demo"  # type: ignore[index]
    (account,) = body["businessAccounts"]  # type: ignore[index]
    (number,) = account["phoneNumbers"]
    assert number["phoneNumberId"] == NUMBER
    assert number["messagingLimitTier"] == "TIER_2000"
    assert number["quota"] == {
        "dailyLimit": 2000,
        "uniqueNumbersSent24h": 1,
        "remaining": 1999,
        "usagePercentage": 0.0,
        "canSend": True,
    }
    names = {t["name"] for t in account["templates"]}
    assert {"welcome_message", "order_update", "event_reminder"} <= names
    assert "promo_pending" not in names  # only APPROVED templates are offered
    welcome = next(t for t in account["templates"] if t["name"] == "welcome_message")
    assert {(v["name"], v["isRequired"], v["component"]) for v in welcome["variables"]} == {
        ("name", True, "BODY"),
        ("code", False, "BODY"),
        ("button_0", False, "BUTTON"),
    }
    assert body["phoneNumbers"][0]["businessName"] == account["businessName"]  # type: ignore[index]


async def test_business_info_shows_the_keys_own_organisation(tmp_path: Path) -> None:
    async with real_stack(tmp_path) as stack:
        await stack.services.organisations.update_profile(
            "Mindo Demo",
            email="contacto@miempresa.com",
            timezone="America/Argentina/Buenos_Aires",
            company_size="small",
            company_types=["ecommerce"],
            categories=["Indumentaria", "Retail"],
        )
        await stack.services.organisations.create("Other")
        other = (await stack.services.api_keys.issue("Other")).plaintext
        async with aiohttp.ClientSession() as http:
            ours = await _get(http, stack, "/api/v1/business-info/", stack.api_key)
            theirs = await _get(http, stack, "/api/v1/business-info/", other)

    assert ours[0] == 200
    assert ours[1] == {
        "id": ours[1]["id"],  # type: ignore[index]
        "name": "Mindo Demo",
        "email": "contacto@miempresa.com",
        "phone": None,
        "website": None,
        "address": None,
        "description": None,
        "timezone": "America/Argentina/Buenos_Aires",
        "companySize": "SMALL",
        "companySizeDisplay": "11-50 empleados (Pequeña)",
        "companyTypes": ["ECOMMERCE"],
        "categories": ["Indumentaria", "Retail"],
    }
    assert theirs[1]["name"] == "Other"  # type: ignore[index]
    assert theirs[1]["email"] is None  # type: ignore[index]
