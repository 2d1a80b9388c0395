"""Every Graph request the sandbox received, kept in memory (bounded) for tests and the admin API.

Access tokens never reach the record: ``Authorization`` is kept as ``Bearer ***`` and an
``access_token`` query parameter as ``***``.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MASK = "***"


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    seq: int
    at: float  # Unix seconds
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    # The JSON body exactly as received (the raw text when it was not JSON; None without body).
    body: Any
    status: int
    wamid: str | None = None
    error_code: int | None = None
    # "latency", "server_error:<kind>", "timeout" or "recipient_error", when a fault was injected.
    faults: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "headers": dict(self.headers),
            "body": self.body,
            "status": self.status,
            "wamid": self.wamid,
            "error_code": self.error_code,
            "faults": list(self.faults),
        }


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    masked = dict(headers)
    for name in masked:
        if name.lower() == "authorization":
            scheme = masked[name].split(" ", 1)[0]
            masked[name] = f"{scheme} {MASK}" if " " in masked[name] else MASK
    return masked


def mask_query(query: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k == "access_token" else v) for k, v in query.items()}


class Recorder:
    def __init__(self, max_records: int) -> None:
        self._records: deque[RecordedRequest] = deque(maxlen=max_records)
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        return next(self._seq)

    def add(self, record: RecordedRequest) -> None:
        self._records.append(record)

    def all(self) -> tuple[RecordedRequest, ...]:
        return tuple(self._records)

    def clear(self) -> None:
        self._records.clear()
