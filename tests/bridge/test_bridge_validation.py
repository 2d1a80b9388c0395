"""Invalid bodies answer exactly as Django REST Framework would, and never reach SendMessage."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from .conftest import Post
from .fake_mindo import FakeMindo

REQUIRED = ["This field is required."]
NULL = ["This field may not be null."]
BLANK = ["This field may not be blank."]
NOT_A_STRING = ["Not a valid string."]


async def test_missing_fields_answer_the_documented_field_map(post: Post, fake: FakeMindo) -> None:
    status, _headers, body = await post({"template_name": "welcome_message"})

    assert status == 400
    assert body == {"phone_number_id": REQUIRED, "recipient_phone": REQUIRED}
    assert "SendMessage" not in fake.methods()


async def test_errors_come_in_declaration_order(post: Post) -> None:
    _status, _headers, body = await post({"variables": [], "language": None})

    assert list(body) == [
        "phone_number_id",
        "template_name",
        "language",
        "recipient_phone",
        "variables",
    ]


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        (None, NULL),
        ("", BLANK),
        ("   \t\n", BLANK),
        (True, NOT_A_STRING),
        (False, NOT_A_STRING),
        ({"a": 1}, NOT_A_STRING),
        (["813497231850626"], NOT_A_STRING),
        ("8" * 65, ["Ensure this field has no more than 64 characters."]),
        ("8134\x0097231850626", ["Null characters are not allowed."]),
        ("8134\ud80097", ["Surrogate characters are not allowed: U+D800."]),
        ("\udfff", ["Surrogate characters are not allowed: U+DFFF."]),
        (
            "\x00" + "8" * 64 + "\udc00",
            [
                "Ensure this field has no more than 64 characters.",
                "Null characters are not allowed.",
                "Surrogate characters are not allowed: U+DC00.",
            ],
        ),
    ],
)
async def test_a_bad_phone_number_id_is_reported_on_its_field(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], value: object, problems: list[str]
) -> None:
    valid_body["phone_number_id"] = value
    status, _headers, body = await post(valid_body)

    assert status == 400
    assert body == {"phone_number_id": problems}
    assert "SendMessage" not in fake.methods()


@pytest.mark.parametrize(
    ("field", "limit"),
    [("template_name", 512), ("language", 20), ("recipient_phone", 64)],
)
async def test_each_text_field_has_its_documented_length_limit(
    post: Post, valid_body: dict[str, object], field: str, limit: int
) -> None:
    valid_body[field] = "x" * limit
    accepted, _headers, _body = await post(valid_body)
    valid_body[field] = "x" * (limit + 1)
    refused, _headers, body = await post(valid_body)

    assert accepted == 200
    assert refused == 400
    assert body == {field: [f"Ensure this field has no more than {limit} characters."]}


async def test_a_blank_or_null_language_is_refused_not_defaulted(
    post: Post, valid_body: dict[str, object]
) -> None:
    valid_body["language"] = ""
    _status, _headers, blank = await post(valid_body)
    valid_body["language"] = None
    _status, _headers, null = await post(valid_body)

    assert blank == {"language": BLANK}
    assert null == {"language": NULL}


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        (None, NULL),
        ([], ['Expected a dictionary of items but got type "list".']),
        (["name"], ['Expected a dictionary of items but got type "list".']),
        ("name=Juan", ['Expected a dictionary of items but got type "str".']),
        (3, ['Expected a dictionary of items but got type "int".']),
        (True, ['Expected a dictionary of items but got type "bool".']),
    ],
)
async def test_variables_must_be_an_object(
    post: Post, valid_body: dict[str, object], value: object, problems: list[str]
) -> None:
    valid_body["variables"] = value
    status, _headers, body = await post(valid_body)

    assert status == 400
    assert body == {"variables": problems}


async def test_each_bad_variable_is_reported_under_its_key(
    post: Post, valid_body: dict[str, object]
) -> None:
    valid_body["variables"] = {
        "name": ["Juan"],
        "code": "ABC123",
        "flag": True,
        "nothing": None,
        "nul": "a\x00b",
        "half": "\ud83d",
        "long": "x" * 32769,
    }
    valid_body["button_variables"] = {"button_0": {"url": "x"}}
    status, _headers, body = await post(valid_body)

    assert status == 400
    assert body == {
        "variables": {
            "name": NOT_A_STRING,
            "flag": NOT_A_STRING,
            "nothing": NULL,
            "nul": ["Null characters are not allowed."],
            "half": ["Surrogate characters are not allowed: U+D83D."],
            "long": ["Ensure this field has no more than 32768 characters."],
        },
        "button_variables": {"button_0": NOT_A_STRING},
    }


async def test_a_variable_may_be_32768_characters(
    post: Post, valid_body: dict[str, object]
) -> None:
    valid_body["variables"] = {"long": "x" * 32768}
    status, _headers, _body = await post(valid_body)

    assert status == 200


async def test_at_most_100_variables(post: Post, valid_body: dict[str, object]) -> None:
    valid_body["variables"] = {str(n): "v" for n in range(100)}
    accepted, _headers, _body = await post(valid_body)
    valid_body["variables"] = {str(n): "v" for n in range(101)}
    refused, _headers, body = await post(valid_body)

    assert accepted == 200
    assert refused == 400
    assert body == {"variables": ["Ensure this field has no more than 100 elements."]}


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("k" * 257, "Ensure every key has no more than 256 characters."),
        ("na\x00me", "Keys may not contain null or surrogate characters."),
        ("na\udc80me", "Keys may not contain null or surrogate characters."),
    ],
)
async def test_bad_variable_keys_are_reported_without_echoing_them(
    post: Post, valid_body: dict[str, object], key: str, problem: str
) -> None:
    valid_body["button_variables"] = {key: "x"}
    status, _headers, body = await post(valid_body)

    assert status == 400
    assert body == {"button_variables": [problem]}


@pytest.mark.parametrize(
    ("document", "kind"),
    [("[]", "list"), ('"hello"', "str"), ("42", "int"), ("4.2", "float"), ("true", "bool")],
)
async def test_a_body_that_is_not_an_object_is_a_non_field_error(
    post: Post, document: str, kind: str
) -> None:
    status, _headers, body = await post(raw=document.encode())

    assert status == 400
    assert body == {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}


async def test_a_null_body_is_no_data_as_in_drf(post: Post) -> None:
    status, _headers, body = await post(raw=b"null")

    assert status == 400
    assert body == {"non_field_errors": ["No data provided"]}


async def test_an_empty_body_is_an_empty_object(post: Post) -> None:
    status, _headers, body = await post(raw=b"", headers={"Content-Type": "text/plain"})

    assert status == 400
    assert body == {
        "phone_number_id": REQUIRED,
        "template_name": REQUIRED,
        "recipient_phone": REQUIRED,
    }


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b"   ", "Expecting value: line 1 column 4 (char 3)"),
        (
            b"{'a': 1}",
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (b'{"a": 1} trailing', "Extra data: line 1 column 10 (char 9)"),
        (b'{"a": NaN}', "Out of range float values are not JSON compliant: 'NaN'"),
        (b'{"a": -Infinity}', "Out of range float values are not JSON compliant: '-Infinity'"),
        (
            b'{"a": "\xff"}',
            "'utf-8' codec can't decode byte 0xff in position 7: invalid start byte",
        ),
        (
            b'{"a": "\xed\xa0\x80"}',
            "'utf-8' codec can't decode byte 0xed in position 7: invalid continuation byte",
        ),
        (b"[" * 100_000, "nesting too deep"),
    ],
)
async def test_malformed_json_says_why(post: Post, raw: bytes, reason: str) -> None:
    status, _headers, body = await post(raw=raw)

    assert status == 400
    assert body == {"error": f"JSON parse error - {reason}", "code": "malformed_json"}


async def test_a_huge_integer_is_malformed_not_a_crash(post: Post) -> None:
    status, _headers, body = await post(raw=b'{"phone_number_id": ' + b"9" * 5000 + b"}")

    assert status == 400
    assert body["code"] == "malformed_json"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_body_that_is_not_json_is_unsupported(
    post: Post, fake: FakeMindo, valid_body: dict[str, object], content_type: str
) -> None:
    raw = json.dumps(valid_body).encode()
    status, _headers, body = await post(raw=raw, headers={"Content-Type": content_type})

    assert status == 415
    assert body == {
        "error": f'Unsupported media type "{content_type}" in request. Send "application/json".',
        "code": "unsupported_media_type",
    }
    assert "SendMessage" not in fake.methods()


async def test_json_with_a_charset_parameter_is_json(
    post: Post, valid_body: dict[str, object]
) -> None:
    raw = json.dumps(valid_body).encode()
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    status, _headers, _body = await post(raw=raw, headers=headers)

    assert status == 200


async def test_a_body_over_one_mebibyte_is_too_large(
    post: Post, fake: FakeMindo, valid_body: dict[str, object]
) -> None:
    valid_body["padding"] = "x" * (1024 * 1024)
    status, _headers, body = await post(valid_body)

    assert status == 413
    assert body == {"error": "Request body exceeds 1048576 bytes.", "code": "payload_too_large"}
    assert "SendMessage" not in fake.methods()


async def test_a_chunked_body_over_one_mebibyte_is_too_large(post: Post) -> None:
    status, _headers, body = await post(raw=_chunks(b" " * 65536, 17))

    assert status == 413
    assert body["code"] == "payload_too_large"


async def _chunks(piece: bytes, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield piece
