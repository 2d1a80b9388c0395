"""Every Graph request the sandbox received, kept in memory (bounded) for tests and the admin API.

Access tokens never reach the record: ``Authorization`` is kept as ``Bearer ***`` and an
``access_token`` query parameter as ``***``.

The record is kept out of sight of Python's cyclic garbage collector: each request is stored as
a tuple of atomic values (strings, numbers, the body's bytes as received), which the collector
stops tracking at its first pass; the body is parsed again when it is read. Kept as objects and
parsed JSON, 10,000 records (ten seconds at 1,000/s) were 60,000 tracked objects and a full
collection stopped the sandbox for ~50 ms (~280 ms at 100,000). Requests that arrive during such
a pause reach the throughput limit together when it ends, and a client sending exactly at the
limit got a 130429 that Meta, which does not stall on a client's traffic, would not answer.
"""

from __future__ import annotations

import itertools
import json
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
    raw_body: bytes | None  # exactly as received; None without body
    status: int
    wamid: str | None = None
    error_code: int | None = None
    # "latency", "server_error:<kind>", "timeout" or "recipient_error", when a fault was injected.
    faults: tuple[str, ...] = ()

    @property
    def body(self) -> Any:
        """The JSON body as received (the raw text when it was not JSON; None without body)."""
        return None if self.raw_body is None else read_body(self.raw_body)

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


def read_body(raw: bytes) -> Any:
    """A Graph request's body: its JSON, or its text when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    masked = dict(headers)
    for name in masked:
        if name.lower() == "authorization":
            scheme = masked[name].split(" ", 1)[0]
            masked[name] = f"{scheme} {MASK}" if " " in masked[name] else MASK
    return masked


def mask_query(query: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k == "access_token" else v) for k, v in query.items()}


# A RecordedRequest as one flat tuple of atomic values (see the module docstring):
#   seq, at, method, path, raw_body, status, wamid, error_code, len(query), len(faults),
#   then query names and values in turn, the faults, headers' names and values in turn.
# Flat, because the collector untracks a tuple only once every tuple inside it is untracked,
# one level per pass: a nested record could reach the old generation still tracked.
_Packed = tuple[Any, ...]
_HEAD = 10


def _pack(r: RecordedRequest) -> _Packed:
    head = (r.seq, r.at, r.method, r.path, r.raw_body, r.status, r.wamid, r.error_code)
    counts = (len(r.query), len(r.faults))
    return head + counts + _flat(r.query) + tuple(r.faults) + _flat(r.headers)


def _unpack(packed: _Packed) -> RecordedRequest:
    seq, at, method, path, raw_body, status, wamid, error_code, queries, faults = packed[:_HEAD]
    query_end = _HEAD + 2 * queries
    faults_end = query_end + faults
    return RecordedRequest(
        seq=seq,
        at=at,
        method=method,
        path=path,
        query=_mapping(packed[_HEAD:query_end]),
        headers=_mapping(packed[faults_end:]),
        raw_body=raw_body,
        status=status,
        wamid=wamid,
        error_code=error_code,
        faults=packed[query_end:faults_end],
    )


def _flat(items: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(text for item in items.items() for text in item)


def _mapping(flat: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class Recorder:
    def __init__(self, max_records: int) -> None:
        self._records: deque[_Packed] = deque(maxlen=max_records)
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        return next(self._seq)

    def add(self, record: RecordedRequest) -> None:
        self._records.append(_pack(record))

    def all(self) -> tuple[RecordedRequest, ...]:
        return tuple(_unpack(packed) for packed in self._records)

    def clear(self) -> None:
        self._records.clear()
