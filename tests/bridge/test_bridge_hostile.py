"""No input, however hostile, makes the bridge answer 500 or anything but JSON."""

from __future__ import annotations

import gzip
import json

import pytest

from .conftest import Post
from .fake_mindo import FakeMindo

BASE = {"phone_number_id": "1", "template_name": "t", "recipient_phone": "+1"}


def with_fields(**fields: object) -> bytes:
    return json.dumps(BASE | fields).encode()


HOSTILE: dict[str, bytes] = {
    "deep nesting in a variable": b'{"variables": {"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
    "deep object nesting": b'{"x":' * 50_000 + b"1" + b"}" * 50_000,
    "lone surrogate everywhere": with_fields(
        phone_number_id="\ud800", variables={"\udc00": "\ud800"}, other="\udfff"
    ),
    "NUL everywhere": with_fields(template_name="\x00", variables={"\x00": "\x00"}),
    "raw CESU-8 surrogate": b'{"template_name": "\xed\xb0\x80"}',
    "overlong UTF-8": b'{"template_name": "\xc0\xaf"}',
    "UTF-16 body": json.dumps(BASE).encode("utf-16"),
    "UTF-8 BOM": b"\xef\xbb\xbf" + json.dumps(BASE).encode(),
    "huge exponent": with_fields(phone_number_id=1e308).replace(b"1e+308", b"1e999999"),
    "huge integer": b'{"phone_number_id": ' + b"9" * 4300 + b"}",
    "duplicate keys": b'{"template_name": "a", "template_name": ["b"]}',
    "proto field names": with_fields(id=5, sent_at="x", **{"variables": {"__class__": "x"}}),
    "many keys": json.dumps({str(n): n for n in range(50_000)}).encode(),
    "many variables": with_fields(variables={str(n): "v" for n in range(20_000)}),
    "control characters": with_fields(template_name="\x1b[31m\r\n\x7f\u2028\u202e"),
    "non-characters": with_fields(variables={"\ufffe": "\uffff\U0010ffff"}),
    "only whitespace": b" \n\t ",
    "binary": bytes(range(256)),
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_bodies_get_a_json_4xx_or_a_send(post: Post, raw: bytes) -> None:
    status, _headers, body = await post(raw=raw)

    assert status < 500, body
    assert isinstance(body, dict)


async def test_a_compressed_bomb_is_measured_after_decompression(
    post: Post, fake: FakeMindo
) -> None:
    bomb = gzip.compress(b'{"a": "' + b"0" * (8 * 1024 * 1024) + b'"}')
    status, _headers, body = await post(raw=bomb, headers={"Content-Encoding": "gzip"})

    assert status == 413
    assert body["code"] == "payload_too_large"
    assert "SendMessage" not in fake.methods()
