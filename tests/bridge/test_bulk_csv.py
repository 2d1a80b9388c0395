"""The CSV rows of a bulk export: RFC 4180 quoting, and no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import io

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.bulk_csv import COLUMNS, encode, row, safe_cell


@pytest.mark.parametrize(
    "hostile",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(hostile: str) -> None:
    assert safe_cell(hostile) == "'" + hostile


@pytest.mark.parametrize("plain", ["+447700900123", "-5", "131026", "read", "", "a=b"])
def test_phones_numbers_and_plain_text_are_left_as_they_are(plain: str) -> None:
    assert safe_cell(plain) == plain


def test_commas_quotes_and_line_breaks_survive_a_round_trip() -> None:
    awkward = ('He said "no", twice\nthen left', "=1+1", "+447700900123")

    written = encode([COLUMNS[:3], awkward]).decode()

    assert written.endswith("\r\n")
    assert list(csv.reader(io.StringIO(written, newline=""))) == [
        list(COLUMNS[:3]),
        ['He said "no", twice\nthen left', "'=1+1", "+447700900123"],
    ]


def test_a_recipient_resent_after_an_unknown_outcome_shows_when() -> None:
    item = mindo_pb2.BulkMessage(
        position=0,
        recipient_phone="+447700900125",
        status="sent",
        resent_at=Timestamp(seconds=1_763_632_802),
    )

    assert dict(zip(COLUMNS, row(item), strict=True))["resent_at"] == "2025-11-20T10:00:02Z"


def test_a_failed_recipient_has_its_code_message_and_failure_time() -> None:
    failed_at = Timestamp(seconds=1_763_632_802)
    item = mindo_pb2.BulkMessage(
        position=4,
        recipient_phone="+447700900124",
        status="failed",
        error_code=131026,
        error_message="=Message undeliverable",
        failed_at=failed_at,
    )

    assert dict(zip(COLUMNS, row(item), strict=True)) == {
        "position": "4",
        "phone": "+447700900124",
        "status": "failed",
        "wamid": "",
        "error_code": "131026",
        "error_message": "=Message undeliverable",  # made safe when encoded
        "sent_at": "",
        "delivered_at": "",
        "read_at": "",
        "failed_at": "2025-11-20T10:00:02Z",
        "resent_at": "",
    }
    assert b"'=Message undeliverable" in encode([row(item)])
