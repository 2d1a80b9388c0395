"""A bulk send's recipients as CSV rows (RFC 4180, via the ``csv`` module), safe to open in a
spreadsheet.

Formula injection: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read as a formula by Excel, LibreOffice and Google Sheets, so such a cell is written
with a leading ``'`` (OWASP's advice). A cell that is only a signed whole number (an E.164 phone
such as ``+447700900123``) is left as it is: as a formula it is that number, and the phone column
stays machine-readable.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Final

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.convert import iso_utc_or_null

COLUMNS: Final = (
    "position",
    "phone",
    "status",
    "wamid",
    "error_code",
    "error_message",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "resent_at",
)
MEDIA_TYPE: Final = "text/csv"
_TIMES: Final = ("sent_at", "delivered_at", "read_at", "failed_at", "resent_at")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_WHOLE_NUMBER: Final = re.compile(r"[+-]?[0-9]+")


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it, never as a formula it would run."""
    if text.startswith(_FORMULA_START) and not _SIGNED_WHOLE_NUMBER.fullmatch(text):
        return "'" + text
    return text


def row(item: mindo_pb2.BulkMessage) -> tuple[str, ...]:
    """One recipient's cells, in ``COLUMNS`` order; an empty cell for what is not known."""
    return (
        str(item.position),
        item.recipient_phone,
        item.status,
        item.meta_message_id,
        str(item.error_code) if item.HasField("error_code") else "",
        item.error_message,
        *(iso_utc_or_null(item, f) or "" for f in _TIMES),
    )


def encode(rows: Iterable[Sequence[str]]) -> bytes:
    """``rows`` as CSV lines (CRLF-terminated), every cell made safe, in UTF-8."""
    text = io.StringIO()
    writer = csv.writer(text)  # quotes a cell with a comma, quote or line break in it
    writer.writerows([safe_cell(cell) for cell in cells] for cells in rows)
    return text.getvalue().encode()
