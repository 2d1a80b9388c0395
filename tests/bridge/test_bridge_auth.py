"""Authentication comes first, as in DRF: a bad key is a 401 whatever the body."""

from __future__ import annotations

import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2

from .conftest import Post
from .fake_mindo import GOOD_KEY, FakeMindo

MISSING = {"error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)"}
EXPIRED = {"error": "API Key expirada"}
FORBIDDEN = {"error": "API Key no tiene acceso a este recurso"}
BAD_KEY = "mindo_zzzzzzzzzzzzzzzzzzzzzzzz"


@pytest.mark.parametrize("key", [None, "", "   "])
async def test_no_key_is_the_documented_401_without_asking_the_service(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], key: str | None
) -> None:
    status, _headers, body = await post(valid_body, key=key)

    assert status == 401
    assert body == MISSING
    assert fake.received == []


@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"template_name": 3.5}', b"x" * (2 * 1024 * 1024)])
async def test_no_key_beats_any_body_problem(post: Post, fake: FakeMindo, raw: bytes) -> None:
    status, _headers, body = await post(raw=raw, key=None)

    assert status == 401
    assert body == MISSING
    assert fake.received == []


async def test_no_key_beats_an_unsupported_media_type(post: Post, fake: FakeMindo) -> None:
    status, _headers, body = await post(
        raw=b"a=b", key=None, headers={"Content-Type": "text/plain"}
    )

    assert status == 401
    assert body == MISSING
    assert fake.received == []


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{}", "application/json"),
        (b"{", "application/json"),
        (b"[1]", "application/json"),
        (b"a=b", "text/plain"),
        (b"x" * (2 * 1024 * 1024), "application/json"),
    ],
)
async def test_an_invalid_body_with_a_bad_key_is_the_services_401(
    post: Post, fake: FakeMindo, raw: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    status, _headers, body = await post(raw=raw, key=BAD_KEY, headers=headers)

    assert status == 401
    assert body == EXPIRED
    check = fake.only("CheckApiKey")
    assert check.metadata["x-api-key"] == BAD_KEY
    assert check.request == mindo_pb2.CheckApiKeyRequest(scope="send")
    assert fake.methods() == ["CheckApiKey"]


async def test_an_invalid_body_with_a_key_that_may_not_send_is_403(
    post: Post, fake: FakeMindo
) -> None:
    fake.missing_scopes = {"send"}
    status, _headers, body = await post({})

    assert status == 403
    assert body == FORBIDDEN


async def test_an_invalid_body_with_a_good_key_gets_the_field_map(
    post: Post, fake: FakeMindo
) -> None:
    status, _headers, body = await post({"template_name": "welcome_message"}, key=GOOD_KEY)

    assert status == 400
    assert body == {
        "phone_number_id": ["This field is required."],
        "recipient_phone": ["This field is required."],
    }
    assert fake.methods() == ["CheckApiKey"]


async def test_a_valid_body_lets_the_send_itself_authenticate(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    await post(valid_body, key=BAD_KEY)

    assert fake.methods() == ["SendMessage"]
    assert fake.only("SendMessage").metadata["x-api-key"] == BAD_KEY


@pytest.mark.parametrize("key", ["mindo_" + "a" * 251, "mindo key with spaces"])
async def test_a_key_that_cannot_be_a_key_is_refused_without_asking(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], key: str
) -> None:
    status, _headers, body = await post(valid_body, key=key)

    assert status == 401
    assert body == EXPIRED
    assert fake.received == []


async def test_a_non_ascii_key_is_refused_without_asking(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    key = "mindo_ñandú".encode().decode("latin-1")
    status, _headers, body = await post(valid_body, key=key)

    assert status == 401
    assert body == EXPIRED
    assert fake.received == []
