"""Importing contacts over the real stack (REST to the bridge, gRPC to the service, a SQLite
file): imported contacts are found by contact-lookup with their name, email and list; a bad row
refuses the whole import and stores nothing; the lists are read back with their sizes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import grpc
import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import from_rpc_error
from tests.integration.real_stack import RealStack, real_stack

CONTACTS = "/api/v1/contacts/"
LISTS = "/api/v1/contact-lists/"
JUAN = "+5492235961983"
BEA = "+34612345678"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        yield running


async def rest(
    stack: RealStack, method: str, path: str, body: object = None, key: str | None = None
) -> tuple[int, Any]:
    headers = {"X-API-Key": key or stack.api_key}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{stack.bridge.url}{path}", json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


async def lookup(stack: RealStack, phone: str) -> Any:
    status, body = await rest(stack, "GET", f"/api/v1/contact-lookup/?phone={quote(phone)}")
    assert status == 200, body
    return body


async def test_imported_contacts_are_found_with_their_fields_and_list(stack: RealStack) -> None:
    body = {
        "contacts": [
            {"phone": "+54 223 15-596-1983", "fullName": "Juan Perez", "email": "juan@example.com"},
            {"phone": "34 612 345 678"},
            {"phone": JUAN, "email": "juan.perez@example.com"},
        ],
        "contactListName": "VIP customers",
    }

    status, imported = await rest(stack, "POST", CONTACTS, body)

    assert status == 200, imported
    assert (imported["created"], imported["updated"], imported["merged"]) == (2, 0, 1)
    assert imported["contactList"]["name"] == "VIP customers"
    assert imported["contactList"]["size"] == 2
    assert imported["contactList"]["createdAt"].endswith("Z")
    juan = await lookup(stack, JUAN)
    assert juan["found"] is True
    assert juan["contact"] == {
        "id": juan["contact"]["id"],
        "fullName": "Juan Perez",
        "phone": JUAN,
        "email": "juan.perez@example.com",  # the later row's email wins
        "contactListId": imported["contactList"]["id"],
        "contactListName": "VIP customers",
        "source": "imported",
        "createdAt": juan["contact"]["createdAt"],
    }
    assert juan["hasReplied"] is False
    status, lists = await rest(stack, "GET", LISTS)
    assert status == 200
    assert lists == {"results": [imported["contactList"]]}


async def test_importing_again_sets_only_the_fields_given(stack: RealStack) -> None:
    await rest(stack, "POST", CONTACTS, {"contacts": [{"phone": JUAN, "fullName": "Juan"}]})

    status, again = await rest(stack, "POST", CONTACTS, {"contacts": [{"phone": JUAN}]})

    assert status == 200
    assert (again["created"], again["updated"], again["contactList"]) == (0, 1, None)
    assert (await lookup(stack, JUAN))["contact"]["fullName"] == "Juan"


async def test_one_bad_row_refuses_the_import_and_stores_nothing(stack: RealStack) -> None:
    body = {
        "contacts": [
            {"phone": JUAN},
            {"phone": "abc"},
            {"phone": BEA, "fullName": "Bea", "email": "bea-at-example.com"},
        ],
        "contactListName": "VIP",
    }

    status, refused = await rest(stack, "POST", CONTACTS, body)

    assert status == 400
    assert refused["code"] == "invalid_contacts"
    assert refused["error"].startswith("2 of 3 contacts are invalid; nothing was imported.")
    assert list(refused["fields"]) == ["contacts.1.phone", "contacts.2.email"]
    assert (await lookup(stack, JUAN))["found"] is False
    assert (await rest(stack, "GET", LISTS))[1] == {"results": []}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"contacts": ["This field is required."]}),
        ({"contacts": []}, {"contacts": ["This list may not be empty."]}),
        (
            {"contacts": "+5492235961983"},
            {"contacts": ['Expected a list of items but got type "str".']},
        ),
        (
            {"contacts": [{"phone": JUAN}, {"fullName": "No phone"}, 7]},
            {
                "contacts": {
                    "1": {"phone": ["This field is required."]},
                    "2": {
                        "non_field_errors": ["Invalid data. Expected a dictionary, but got int."]
                    },
                }
            },
        ),
    ],
)
async def test_a_body_of_the_wrong_shape_is_a_drf_400(
    stack: RealStack, body: object, errors: object
) -> None:
    status, refused = await rest(stack, "POST", CONTACTS, body)

    assert (status, refused) == (400, errors)


async def test_more_contacts_than_a_request_carries_are_refused(stack: RealStack) -> None:
    body = {"contacts": [{"phone": f"+3461{n:07d}"} for n in range(5_001)]}

    status, refused = await rest(stack, "POST", CONTACTS, body)

    assert status == 400
    assert refused == {"contacts": ["Ensure this field has no more than 5000 elements."]}


async def test_a_read_only_key_lists_but_cannot_import(stack: RealStack) -> None:
    issued = await stack.services.api_keys.issue(
        "Mindo Demo", name="reader", scopes=frozenset({"read"})
    )

    imported = await rest(
        stack, "POST", CONTACTS, {"contacts": [{"phone": JUAN}]}, issued.plaintext
    )
    listed = await rest(stack, "GET", LISTS, key=issued.plaintext)

    assert imported[0] == 403
    assert listed[0] == 200


async def test_import_over_grpc(stack: RealStack) -> None:
    meta = stack.metadata()
    request = pb.ImportContactsRequest(
        contacts=[pb.ContactInput(phone=JUAN, full_name="Juan"), pb.ContactInput(phone=BEA)],
        contact_list_name="Newsletter",
    )

    report = await stack.stub.ImportContacts(request, metadata=meta)
    lists = await stack.stub.ListContactLists(pb.ListContactListsRequest(), metadata=meta)
    bad = pb.ImportContactsRequest(contacts=[pb.ContactInput(phone=BEA, full_name="x" * 300)])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.stub.ImportContacts(bad, metadata=meta)

    assert (report.created, report.updated, report.merged) == (2, 0, 0)
    assert report.contact_list.name == "Newsletter"
    assert [(c.name, c.size) for c in lists.results] == [("Newsletter", 2)]
    details = from_rpc_error(refused.value)
    assert details.status == grpc.StatusCode.INVALID_ARGUMENT
    assert details.code == "invalid_contacts"
    assert list(details.field_errors) == ["contacts.0.full_name"]
